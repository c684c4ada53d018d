//! Paging of the task lists (docs/contract/task.md#lists), with the fixes of
//! docs/contract/task.md#paging.
//!
//! * Sizes are `1..=100` everywhere (default 20); the reference bounded only the archive.
//! * The ascending cursor (`/v2/tasks/cursor`) reads the reference's formats — `yyyy-MM-dd|id`,
//!   `yyyy-MM-ddTHH:mm[:ss[.f]]|id` (only the date counts) — and is emitted as the reference documents
//!   it, `yyyy-MM-ddT00:00:00|id`. An absent or blank cursor starts at the beginning (the reference's
//!   `LocalDate.MIN` trick is not needed).
//! * The archive cursor (`/v2/tasks/completed`) is `yyyy-MM-dd|id`, optionally with an offset after
//!   the date (`2025-01-08+09:00|9`, ignored), and walks **down** from the cutoff.
//! * "Is there a next page" is answered by fetching one row more than asked for, so no trailing empty
//!   page is ever announced (the reference's cursor list said `hasNext` whenever a page was full).

use jiff::Timestamp;
use jiff::civil::Date;

use super::TaskId;
use super::error::{PagingError, TimeError};
use super::time::{Zone, parse_date, parse_local_date_time};

/// The page size when none is given.
pub const DEFAULT_SIZE: i64 = 20;
/// The largest page.
pub const MAX_SIZE: i64 = 100;

/// A requested page size, `1..=100` (400 `"size는 1 이상 100 이하이어야 합니다."`).
pub fn page_size(size: Option<i64>) -> Result<i64, PagingError> {
    match size.unwrap_or(DEFAULT_SIZE) {
        s @ 1..=MAX_SIZE => Ok(s),
        s => Err(PagingError::Size(s)),
    }
}

/// The largest page index: the reference's (and the document's) `int32`.
pub const MAX_PAGE_INDEX: i64 = i32::MAX as i64;

/// A requested page index, `0..=2147483647` (400 `"page는 0 이상이어야 합니다."` below,
/// `"page는 2147483647 이하이어야 합니다."` above).
pub fn page_index(page: Option<i64>) -> Result<i64, PagingError> {
    match page.unwrap_or(0) {
        p @ 0..=MAX_PAGE_INDEX => Ok(p),
        p if p < 0 => Err(PagingError::Index(p)),
        p => Err(PagingError::IndexTooLarge(p)),
    }
}

/// A position in the ascending `(deadline date, id)` order of `/v2/tasks/cursor`: the next page starts
/// strictly after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaskCursor {
    pub date: Date,
    pub id: TaskId,
}

impl TaskCursor {
    /// Absent or blank → `None` (from the start). Not two `|`-separated parts → 400
    /// `"잘못된 커서 형식입니다."`; a date or id that does not parse → 400 `"잘못된 커서 값입니다."`.
    pub fn parse(input: Option<&str>) -> Result<Option<Self>, PagingError> {
        let Some(input) = input.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let parts: Vec<&str> = input.split('|').collect();
        let [date, id] = parts.as_slice() else {
            return Err(PagingError::CursorFormat(input.to_owned()));
        };
        let bad = || PagingError::CursorValue(input.to_owned());
        let date = parse_date(date)
            .or_else(|_| parse_local_date_time(date).map(|dt| dt.date()))
            .map_err(|_| bad())?;
        let id = id.parse::<i64>().map_err(|_| bad())?;
        Ok(Some(Self {
            date,
            id: TaskId(id),
        }))
    }

    /// The reference's emitted form: `2024-04-01T00:00:00|12`.
    pub fn encode(&self) -> String {
        format!("{}T00:00:00|{}", self.date, self.id)
    }
}

/// A position in the descending `(deadline date, id)` order of the archive: the next page starts
/// strictly before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArchiveCursor {
    pub date: Date,
    pub id: TaskId,
}

impl ArchiveCursor {
    /// Absent or blank → `None` (start at the cutoff). The date part must be `yyyy-MM-dd`, optionally
    /// followed by an offset `±HH:mm` / `±HHmm` (ignored), else 400 `"커서는 'yyyy-MM-dd|id' 형식이어야
    /// 합니다."`; the id must be a number, else 400 `"커서의 ID가 올바르지 않습니다."`.
    pub fn parse(input: Option<&str>) -> Result<Option<Self>, PagingError> {
        let Some(input) = input.filter(|s| !s.trim().is_empty()) else {
            return Ok(None);
        };
        let format = || PagingError::ArchiveCursorFormat(input.to_owned());
        let parts: Vec<&str> = input.split('|').collect();
        let [date, id] = parts.as_slice() else {
            return Err(format());
        };
        let (day, offset) = date.split_at_checked(10).ok_or_else(format)?;
        if !offset.is_empty() && !is_cursor_offset(offset) {
            return Err(format());
        }
        let date = parse_date(day).map_err(|_| format())?;
        let id = id
            .parse::<i64>()
            .map_err(|_| PagingError::ArchiveCursorId(input.to_owned()))?;
        Ok(Some(Self {
            date,
            id: TaskId(id),
        }))
    }

    /// Where the archive starts: everything due on or before `cutoff`.
    pub fn first(cutoff: Date) -> Result<Self, TimeError> {
        Ok(Self {
            date: cutoff.tomorrow().map_err(|_| TimeError::OutOfRange)?,
            id: TaskId(i64::MAX),
        })
    }

    /// `2025-01-08|9`.
    pub fn encode(&self) -> String {
        format!("{}|{}", self.date, self.id)
    }
}

/// `[+-]\d{2}:?\d{2}`.
fn is_cursor_offset(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |r: &[u8]| r.iter().all(u8::is_ascii_digit);
    matches!(b.first(), Some(b'+' | b'-'))
        && match b.len() {
            5 => digits(&b[1..]),
            6 => b[3] == b':' && digits(&b[1..3]) && digits(&b[4..]),
            _ => false,
        }
}

/// The archive's cutoff: the day before "today" in `zone` — a task is archived once its deadline date
/// is at least one day past.
pub fn archive_cutoff(now: Timestamp, zone: &Zone) -> Result<Date, TimeError> {
    zone.local_date(now)
        .yesterday()
        .map_err(|_| TimeError::OutOfRange)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::error::msg;
    use jiff::civil::date;

    #[test]
    fn sizes_and_pages_are_bounded() {
        assert_eq!(page_size(None), Ok(20));
        assert_eq!(page_size(Some(1)), Ok(1));
        assert_eq!(page_size(Some(100)), Ok(100));
        for bad in [0, -1, 101] {
            let err = page_size(Some(bad)).unwrap_err();
            assert_eq!(err.to_string(), "size는 1 이상 100 이하이어야 합니다.");
            assert_eq!(err.class().status(), 400);
        }
        assert_eq!(page_index(None), Ok(0));
        assert_eq!(
            page_index(Some(-1)).unwrap_err().to_string(),
            msg::PAGE_INDEX
        );
        assert_eq!(page_index(Some(2_147_483_647)), Ok(2_147_483_647));
        let too_large = page_index(Some(2_147_483_648)).unwrap_err();
        assert_eq!(too_large.to_string(), msg::PAGE_INDEX_MAX);
        assert_eq!(too_large.field(), "page");
    }

    #[test]
    fn ascending_cursor_reads_every_reference_form() {
        assert_eq!(TaskCursor::parse(None), Ok(None));
        assert_eq!(TaskCursor::parse(Some("  ")), Ok(None));
        let c = |s| TaskCursor::parse(Some(s)).unwrap().unwrap();
        let expected = TaskCursor {
            date: date(2000, 1, 1),
            id: TaskId(0),
        };
        assert_eq!(c("2000-01-01T00:00:00|0"), expected);
        assert_eq!(c("2000-01-01|0"), expected);
        assert_eq!(c("2000-01-01T13:45|0"), expected);
        assert_eq!(c("2000-01-01T13:45:10.5|0"), expected);
        assert_eq!(
            TaskCursor {
                date: date(2024, 4, 1),
                id: TaskId(12)
            }
            .encode(),
            "2024-04-01T00:00:00|12"
        );
        for bad in ["2000-01-01", "a|b|c", "2000-01-01|1|2"] {
            assert_eq!(
                TaskCursor::parse(Some(bad)).unwrap_err().to_string(),
                "잘못된 커서 형식입니다.",
                "{bad}"
            );
        }
        for bad in ["2000-13-01|1", "yesterday|1", "2000-01-01|x", "2000-01-01|"] {
            assert_eq!(
                TaskCursor::parse(Some(bad)).unwrap_err().to_string(),
                "잘못된 커서 값입니다.",
                "{bad}"
            );
        }
    }

    #[test]
    fn archive_cursor_follows_the_reference() {
        // TaskArchiveServiceTest: cutoff 2025-01-09 → first cursor (2025-01-10, Long.MAX).
        let first = ArchiveCursor::first(date(2025, 1, 9)).unwrap();
        assert_eq!(first.date, date(2025, 1, 10));
        assert_eq!(first.id, TaskId(i64::MAX));
        let c = |s| ArchiveCursor::parse(Some(s)).unwrap().unwrap();
        let expected = ArchiveCursor {
            date: date(2025, 1, 8),
            id: TaskId(9),
        };
        assert_eq!(c("2025-01-08|9"), expected);
        assert_eq!(c("2025-01-08+09:00|9"), expected);
        assert_eq!(c("2025-01-08-0500|9"), expected);
        assert_eq!(expected.encode(), "2025-01-08|9");
        for bad in [
            "bad-cursor",
            "2025-1-8|9",
            "2025-01-08T00:00|9",
            "2025-01-08|9|1",
            "2025-02-30|1",
        ] {
            assert_eq!(
                ArchiveCursor::parse(Some(bad)).unwrap_err().to_string(),
                "커서는 'yyyy-MM-dd|id' 형식이어야 합니다.",
                "{bad}"
            );
        }
        assert_eq!(
            ArchiveCursor::parse(Some("2025-01-08|nine"))
                .unwrap_err()
                .to_string(),
            "커서의 ID가 올바르지 않습니다."
        );
    }

    #[test]
    fn archive_cutoff_is_yesterday_in_the_zone() {
        // 2025-01-10T00:00Z is 09:00 in Seoul and 19:00 the day before at -05:00.
        let now: Timestamp = "2025-01-10T00:00:00Z".parse().unwrap();
        let seoul = Zone::parse("Asia/Seoul").unwrap();
        assert_eq!(archive_cutoff(now, &seoul).unwrap(), date(2025, 1, 9));
        let minus5 = Zone::from_legacy_offset("-05:00").unwrap();
        assert_eq!(archive_cutoff(now, &minus5).unwrap(), date(2025, 1, 8));
    }
}
