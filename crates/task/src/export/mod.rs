//! The export of a member's data (GDPR art. 20, `GET /v2/export`), written as a stream: the pages of
//! [`crate::app::export::Export`] are turned into [`records`] and written by a [`Document`] — [`json`] or
//! [`csv`] (a ZIP of CSV files) — and each page's bytes are sent as soon as they are written. Memory stays that
//! of one page and a few chunks in flight, whatever the member's data.
//!
//! The body is written by a task of its own that sends its chunks through a small channel: a client that reads
//! slowly holds it back (backpressure), one that reads nothing for [`STALL_TIMEOUT`] or goes away ends it, and the
//! database snapshot with it. Once the status and headers are sent, an error can no longer change them: it is
//! logged and the body is cut short (the client sees the transfer fail, never a document that looks complete).

pub mod csv;
pub mod json;
pub mod records;

use std::time::Duration;

use axum::body::{Body, Bytes};
use tokio::sync::mpsc;
use tracing::Instrument;

use crate::app::AppError;
use crate::app::export::{Export, ExportRow, PAGE};
use crate::domain::export::{ExportFormat, Section};
use crate::store::members::Member;
use records::{MemberRecord, Record, ScheduleRecord, SeriesRecord, TaskRecord, WeekRecord};

/// How long the client may read nothing before the export is given up.
pub const STALL_TIMEOUT: Duration = Duration::from_secs(60);

/// Chunks written ahead of the client.
const CHUNKS_AHEAD: usize = 2;

/// Why an export stopped before its end.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("writing the export: {0}")]
    Write(#[from] std::io::Error),
    #[error("writing the ZIP archive: {0}")]
    Zip(#[from] zip::result::ZipError),
    /// A write after the document was finished (a bug).
    #[error("the export was already finished")]
    Finished,
    #[error("the client went away")]
    Gone,
    #[error("the client read nothing for {0:?}")]
    Stalled(Duration),
}

/// A format's writer: sections opened, their records written and closed in order, then finished; the bytes
/// written so far are taken after each page.
pub trait Document {
    /// Starts `section`, whose records have `columns`.
    fn open(
        &mut self,
        section: Section,
        columns: &'static [&'static str],
    ) -> Result<(), ExportError>;
    fn record<R: Record>(&mut self, record: &R) -> Result<(), ExportError>;
    fn close(&mut self, section: Section) -> Result<(), ExportError>;
    fn finish(&mut self) -> Result<(), ExportError>;
    /// The bytes written since the last call.
    fn take(&mut self) -> Vec<u8>;
}

/// What the body's stream receives.
enum Chunk {
    Data(Bytes),
    /// The document is complete.
    End,
}

/// The sending end of the body.
struct Out(mpsc::Sender<Chunk>);

impl Out {
    async fn send(&self, chunk: Chunk) -> Result<(), ExportError> {
        match tokio::time::timeout(STALL_TIMEOUT, self.0.send(chunk)).await {
            Err(_) => Err(ExportError::Stalled(STALL_TIMEOUT)),
            Ok(Err(_)) => Err(ExportError::Gone),
            Ok(Ok(())) => Ok(()),
        }
    }

    async fn data(&self, bytes: Vec<u8>) -> Result<(), ExportError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.send(Chunk::Data(bytes.into())).await
    }
}

fn write_row<D: Document>(
    doc: &mut D,
    row: &ExportRow,
    member: &Member,
) -> Result<(), ExportError> {
    match row {
        ExportRow::Task(t) => doc.record(&TaskRecord::of(t)),
        ExportRow::Series(s) => doc.record(&SeriesRecord::of(s, member)),
        ExportRow::Schedule(s) => doc.record(&ScheduleRecord::of(s, member)),
        ExportRow::Week(week, totals) => doc.record(&WeekRecord::of(week, totals)),
    }
}

/// Writes the whole export into `doc`, sending each page's bytes to `out`.
async fn write<D: Document>(mut export: Export, mut doc: D, out: &Out) -> Result<(), ExportError> {
    let member = export.member().clone();
    doc.open(Section::Member, records::columns(Section::Member))?;
    doc.record(&MemberRecord::of(&member))?;
    doc.close(Section::Member)?;
    for section in Section::LISTS {
        doc.open(section, records::columns(section))?;
        let mut last = None;
        loop {
            let rows = export.page(section, last.as_ref()).await?;
            for row in &rows {
                write_row(&mut doc, row, &member)?;
            }
            out.data(doc.take()).await?;
            if rows.len() < PAGE {
                break;
            }
            last = rows.into_iter().last();
        }
        doc.close(section)?;
    }
    doc.finish()?;
    out.data(doc.take()).await?;
    export.finish().await?;
    out.send(Chunk::End).await
}

/// The response body of `export` in `format`: written by a task of its own as the client reads it.
pub fn body(export: Export, format: ExportFormat) -> Body {
    let (tx, rx) = mpsc::channel(CHUNKS_AHEAD);
    let member = export.member().id;
    let at = export.at();
    let local = export.member().zone.local_date_time(at);
    tokio::spawn(
        async move {
            let out = Out(tx);
            let result = match format {
                ExportFormat::Json => write(export, json::JsonDocument::new(at), &out).await,
                ExportFormat::Csv => write(export, csv::CsvZip::new(local), &out).await,
            };
            match result {
                Ok(()) => tracing::info!(%member, format = format.as_str(), "export sent"),
                Err(e @ ExportError::Gone) => {
                    tracing::info!(%member, error = %e, "export not finished")
                }
                Err(e) => {
                    tracing::error!(%member, error = %e, "export failed after its headers were sent; the body is cut short")
                }
            }
        }
        .instrument(tracing::Span::current()),
    );
    stream(rx)
}

/// The body of what the writer sends: its chunks, then its end — or, when the writer stops without [`Chunk::End`],
/// an error, so that the transfer fails rather than ending like a complete document.
fn stream(mut rx: mpsc::Receiver<Chunk>) -> Body {
    let mut ended = false;
    Body::from_stream(futures::stream::poll_fn(move |cx| {
        if ended {
            return std::task::Poll::Ready(None);
        }
        rx.poll_recv(cx).map(|chunk| match chunk {
            Some(Chunk::Data(bytes)) => Some(Ok(bytes)),
            Some(Chunk::End) => {
                ended = true;
                None
            }
            None => {
                ended = true;
                Some(Err(std::io::Error::other("the export was cut short")))
            }
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read(chunks: Vec<Chunk>) -> Result<Bytes, axum::Error> {
        let (tx, rx) = mpsc::channel(chunks.len() + 1);
        for chunk in chunks {
            tx.send(chunk).await.expect("room");
        }
        drop(tx);
        axum::body::to_bytes(stream(rx), usize::MAX).await
    }

    #[tokio::test]
    async fn a_finished_export_ends_the_body_and_one_cut_short_fails_it() {
        let done = read(vec![
            Chunk::Data(Bytes::from_static(b"{\"a\":")),
            Chunk::Data(Bytes::from_static(b"1}")),
            Chunk::End,
        ])
        .await;
        assert_eq!(done.expect("complete"), Bytes::from_static(b"{\"a\":1}"));
        let cut = read(vec![Chunk::Data(Bytes::from_static(b"{\"a\":"))]).await;
        assert!(cut.is_err(), "a writer that stopped early fails the body");
        assert!(read(vec![]).await.is_err());
    }
}
