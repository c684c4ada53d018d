//! `format=json`: one document, written record by record —
//! `{"exportVersion": 1, "exportedAt": …, "member": {…}, "tasks": […], "series": […], "schedules": […],
//! "weeklyStatistics": […]}`, one record a line.

use std::io::Write;

use jiff::Timestamp;

use super::records::Record;
use super::{Document, ExportError};
use crate::domain::export::Section;

/// The version of the document's layout.
pub const EXPORT_VERSION: u32 = 1;

pub struct JsonDocument {
    buf: Vec<u8>,
    /// Records written in the open list.
    count: usize,
}

impl JsonDocument {
    pub fn new(at: Timestamp) -> Self {
        Self {
            buf: format!("{{\"exportVersion\":{EXPORT_VERSION},\"exportedAt\":\"{at}\"")
                .into_bytes(),
            count: 0,
        }
    }
}

impl Document for JsonDocument {
    fn open(&mut self, section: Section, _: &'static [&'static str]) -> Result<(), ExportError> {
        write!(self.buf, ",\n\"{}\":", section.key())?;
        if section != Section::Member {
            self.buf.push(b'[');
        }
        self.count = 0;
        Ok(())
    }

    fn record<R: Record>(&mut self, record: &R) -> Result<(), ExportError> {
        if self.count > 0 {
            self.buf.push(b',');
        }
        self.buf.push(b'\n');
        serde_json::to_writer(&mut self.buf, record).map_err(std::io::Error::from)?;
        self.count += 1;
        Ok(())
    }

    fn close(&mut self, section: Section) -> Result<(), ExportError> {
        if section != Section::Member {
            if self.count > 0 {
                self.buf.push(b'\n');
            }
            self.buf.push(b']');
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<(), ExportError> {
        self.buf.extend_from_slice(b"\n}\n");
        Ok(())
    }

    fn take(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.buf)
    }
}
