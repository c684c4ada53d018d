//! The export of a member's data (GDPR art. 20, `GET /v2/export`): its formats and its sections.
//!
//! * [`ExportFormat`] — `json` (one document) or `csv` (a ZIP of one RFC 4180 file per section).
//! * [`Section`] — what the export holds, in order: the member, tasks, repeating schedules, schedules, weekly
//!   statistics.

/// How the export is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportFormat {
    /// One JSON document.
    Json,
    /// A ZIP archive of CSV files (RFC 4180), one per [`Section`].
    Csv,
}

/// A `format` that is not one of [`ExportFormat::ALL`] (400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("format: `{0}` is not an export format (expected json or csv)")]
pub struct ExportFormatError(pub String);

impl ExportFormat {
    pub const ALL: [Self; 2] = [Self::Json, Self::Csv];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "csv",
        }
    }

    /// From a request: `json` or `csv`.
    pub fn parse(value: &str) -> Result<Self, ExportFormatError> {
        Self::ALL
            .into_iter()
            .find(|f| f.as_str() == value)
            .ok_or_else(|| ExportFormatError(value.to_owned()))
    }

    /// The media type of the response.
    pub const fn content_type(self) -> &'static str {
        match self {
            Self::Json => "application/json",
            Self::Csv => "application/zip",
        }
    }

    /// The file's extension.
    pub const fn extension(self) -> &'static str {
        match self {
            Self::Json => "json",
            Self::Csv => "zip",
        }
    }

    /// The file a browser saves: `pinit-export-2026-02-01.json` (`day`: the member's date of the export).
    pub fn file_name(self, day: jiff::civil::Date) -> String {
        format!("pinit-export-{day}.{}", self.extension())
    }
}

/// A part of the export: a member of the JSON document, a file of the ZIP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// What the task context knows of the member (one record).
    Member,
    Tasks,
    /// Repeating schedules (their rules; each occurrence made so far is a schedule).
    Series,
    Schedules,
    WeeklyStatistics,
}

impl Section {
    /// The sections of many records, in the order they are written (after [`Section::Member`]).
    pub const LISTS: [Self; 4] = [
        Self::Tasks,
        Self::Series,
        Self::Schedules,
        Self::WeeklyStatistics,
    ];

    /// Its member in the JSON document.
    pub const fn key(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Tasks => "tasks",
            Self::Series => "series",
            Self::Schedules => "schedules",
            Self::WeeklyStatistics => "weeklyStatistics",
        }
    }

    /// Its file in the ZIP.
    pub const fn file(self) -> &'static str {
        match self {
            Self::Member => "member.csv",
            Self::Tasks => "tasks.csv",
            Self::Series => "series.csv",
            Self::Schedules => "schedules.csv",
            Self::WeeklyStatistics => "weekly_statistics.csv",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_exactly_and_name_the_allowed_values_otherwise() {
        assert_eq!(ExportFormat::parse("json"), Ok(ExportFormat::Json));
        assert_eq!(ExportFormat::parse("csv"), Ok(ExportFormat::Csv));
        for bad in ["JSON", "xml", "", "csv "] {
            let e = ExportFormat::parse(bad).unwrap_err();
            assert_eq!(
                e.to_string(),
                format!("format: `{bad}` is not an export format (expected json or csv)")
            );
        }
    }

    #[test]
    fn the_file_name_carries_the_day_and_the_format() {
        let day = jiff::civil::date(2026, 2, 1);
        assert_eq!(
            ExportFormat::Json.file_name(day),
            "pinit-export-2026-02-01.json"
        );
        assert_eq!(
            ExportFormat::Csv.file_name(day),
            "pinit-export-2026-02-01.zip"
        );
    }
}
