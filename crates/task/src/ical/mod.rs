//! iCalendar (RFC 5545; RFC 7986's calendar properties): what feeds are written in and CalDAV reads and writes.
//! Hand-written rather than a crate: content lines are a small format, and this keeps every byte Pinit writes —
//! and every property it keeps for a client — under its own tests.
//!
//! * [`busy`] — another calendar's events read as busy time (Google, Outlook, Apple exports; X-WR-TIMEZONE,
//!   VTIMEZONEs of Windows names).
//! * [`content`] — content lines: [`Component`] trees of [`Property`] values kept as written (escaped), TEXT
//!   escaping, parameter quoting (RFC 6868 too), folding at 75 octets without splitting a character; the
//!   tolerant reader ([`Component::parse`], [`parse_all`]) whose errors name the line.
//! * [`value`] — DATE / DATE-TIME values (UTC, `TZID`, floating) and DURATION.
//! * [`timezone`] — VTIMEZONE from jiff's tz database: the transitions in the range of the calendar's times.
//! * [`task`] — Pinit's tasks as VTODOs.
//! * [`schedule`] — Pinit's schedules and series as VEVENTs ([`CalendarWriter`]: the zones used are collected
//!   and written as VTIMEZONEs at the end).
//!
//! Pure code: no database, no HTTP, no clock (the caller passes `DTSTAMP`).

pub mod busy;
pub mod content;
pub mod schedule;
pub mod task;
pub mod timezone;
pub mod value;

pub use content::{Component, Param, ParseError, Property, parse_all};
pub use schedule::{CalendarWriter, ScheduleEntry, SeriesEntry, schedule_uid, series_uid};
pub use value::{DateOrTime, ValueError};
