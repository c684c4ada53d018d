//! `format=csv`: a ZIP archive (written as a stream: each entry's sizes and CRC follow its data in a data
//! descriptor, so nothing is ever sought back to) of one CSV file per section, RFC 4180: a header row, fields
//! quoted when they hold a comma, a double quote, CR or LF (a quote doubled inside), CRLF after every row, UTF-8.

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use serde_json::Value;
use zip::ZipWriter;
use zip::write::{SimpleFileOptions, StreamWriter};

use super::records::Record;
use super::{Document, ExportError};
use crate::domain::export::Section;

/// Appends one RFC 4180 field to `line`.
pub fn push_field(line: &mut String, field: &str) {
    if field.contains([',', '"', '\r', '\n']) {
        line.push('"');
        line.push_str(&field.replace('"', "\"\""));
        line.push('"');
    } else {
        line.push_str(field);
    }
}

/// Appends one RFC 4180 record (its fields and the CRLF that ends it) to `line`.
pub fn push_record<'a>(line: &mut String, fields: impl IntoIterator<Item = &'a str>) {
    for (i, field) in fields.into_iter().enumerate() {
        if i > 0 {
            line.push(',');
        }
        push_field(line, field);
    }
    line.push_str("\r\n");
}

/// A JSON value as a CSV field: text as is, `null` empty, a list space-separated.
fn field(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Array(items) => items.iter().map(field).collect::<Vec<_>>().join(" "),
        other => other.to_string(),
    }
}

/// The bytes the ZIP writer has written and the export has not sent yet.
#[derive(Debug, Clone, Default)]
struct Pending(Arc<Mutex<Vec<u8>>>);

impl Pending {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(PoisonError::into_inner))
    }
}

impl Write for Pending {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The ZIP of CSV files, written section by section.
pub struct CsvZip {
    zip: Option<ZipWriter<StreamWriter<Pending>>>,
    pending: Pending,
    options: SimpleFileOptions,
    columns: &'static [&'static str],
    line: String,
}

impl CsvZip {
    /// `modified`: the files' time (the export's, wall clock in the member's zone).
    pub fn new(modified: jiff::civil::DateTime) -> Self {
        let pending = Pending::default();
        let time = zip::DateTime::from_date_and_time(
            u16::try_from(modified.year()).unwrap_or(1980),
            u8::try_from(modified.month()).unwrap_or(1),
            u8::try_from(modified.day()).unwrap_or(1),
            u8::try_from(modified.hour()).unwrap_or(0),
            u8::try_from(modified.minute()).unwrap_or(0),
            u8::try_from(modified.second()).unwrap_or(0),
        )
        .unwrap_or_default();
        Self {
            zip: Some(ZipWriter::new_stream(pending.clone())),
            pending,
            options: SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Deflated)
                .last_modified_time(time),
            columns: &[],
            line: String::new(),
        }
    }

    fn zip(&mut self) -> Result<&mut ZipWriter<StreamWriter<Pending>>, ExportError> {
        self.zip.as_mut().ok_or(ExportError::Finished)
    }

    fn write_line(&mut self) -> Result<(), ExportError> {
        let line = std::mem::take(&mut self.line);
        self.zip()?.write_all(line.as_bytes())?;
        self.line = line;
        self.line.clear();
        Ok(())
    }
}

impl Document for CsvZip {
    fn open(
        &mut self,
        section: Section,
        columns: &'static [&'static str],
    ) -> Result<(), ExportError> {
        let options = self.options;
        self.zip()?.start_file(section.file(), options)?;
        self.columns = columns;
        push_record(&mut self.line, columns.iter().copied());
        self.write_line()
    }

    fn record<R: Record>(&mut self, record: &R) -> Result<(), ExportError> {
        let value = serde_json::to_value(record).map_err(std::io::Error::from)?;
        let fields: Vec<String> = self.columns.iter().map(|c| field(&value[*c])).collect();
        push_record(&mut self.line, fields.iter().map(String::as_str));
        self.write_line()
    }

    fn close(&mut self, _: Section) -> Result<(), ExportError> {
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.zip.take().ok_or(ExportError::Finished)?.finish()?;
        Ok(())
    }

    fn take(&mut self) -> Vec<u8> {
        self.pending.take()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        let mut line = String::new();
        push_record(
            &mut line,
            [
                "plain",
                "a,b",
                "say \"hi\"",
                "two\nlines",
                "cr\r",
                "",
                " spaced ",
            ],
        );
        assert_eq!(
            line,
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\",, spaced \r\n"
        );
    }

    #[test]
    fn json_values_become_fields() {
        assert_eq!(field(&Value::Null), "");
        assert_eq!(field(&serde_json::json!("x")), "x");
        assert_eq!(field(&serde_json::json!(42)), "42");
        assert_eq!(field(&serde_json::json!(true)), "true");
        assert_eq!(field(&serde_json::json!(["-PT10M", "PT0S"])), "-PT10M PT0S");
        assert_eq!(field(&serde_json::json!([1, 2])), "1 2");
        assert_eq!(field(&serde_json::json!([])), "");
    }
}
