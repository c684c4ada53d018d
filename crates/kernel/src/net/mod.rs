//! Outbound network calls to addresses a member chose (push endpoints, subscribed calendars).
//!
//! * [`guard`] — the SSRF rule: which URLs the server may call, checked on the URL and again at connect time.

pub mod guard;
