//! Busy time from other calendars (docs/calendar.md#busy-time-from-other-calendars): subscribing to a calendar's
//! URL or uploading its file, deleting it, reading its events as busy blocks for a day or a week, and the
//! background refresh of subscribed calendars.
//!
//! A URL is fetched through the kernel's SSRF guard ([`pinit_kernel::net::guard`]): the URL checked first
//! (https, no credentials, no private address written in it), every connection's addresses checked when it is
//! made (no DNS rebinding), at most [`MAX_REDIRECTS`] redirects each checked like the URL, [`FETCH_TIMEOUT`]
//! for the whole fetch and [`MAX_FILE_BYTES`] of body. A subscription is fetched once when it is added (a
//! failure is the request's 422, nothing stored) and then every `task.calendar_refresh_interval` by
//! [`TaskApp::run_calendar_refresh`], with `If-None-Match` / `If-Modified-Since` (a 304 keeps the events). A
//! failed refresh keeps the events it had and records why (`lastError`), counted in
//! `pinit_task_calendar_refresh_failures_total`.

use std::collections::HashMap;
use std::time::Duration;

use pinit_kernel::net::guard::{UrlPolicy, refused};
use reqwest::StatusCode;
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use tokio_util::sync::CancellationToken;

use super::{AppError, Result, TaskApp};
use crate::domain::busy::{
    BusyCalendarId, CalendarError, CalendarKind, FETCH_TIMEOUT, MAX_CALENDARS, MAX_FILE_BYTES,
    MAX_REDIRECTS, MAX_URL_LEN, calendar_name,
};
use crate::domain::{MemberId, Window, Zone};
use crate::ical::busy::{BusyCalendar, read};
use crate::store;
use crate::store::busy_calendars::{NewCalendar, Refetched, StoredCalendar};

/// Calendars refreshed per round of the background job (the rest wait for the next round).
const REFRESH_BATCH: i64 = 200;

/// Fetches a refresh round runs at once.
const PARALLEL_FETCHES: usize = 8;

/// The busy-time settings and the client that fetches calendars.
#[derive(Clone)]
pub struct Calendars {
    policy: UrlPolicy,
    refresh_every: Duration,
    timeout: Duration,
    /// `None` if it could not be built (every fetch then fails, saying so): never a client without the guard.
    client: Option<reqwest::Client>,
}

impl Calendars {
    /// `allow_insecure`: `task.allow_insecure_calendar_urls` (tests, local development).
    pub fn new(refresh_every: Duration, allow_insecure: bool) -> Self {
        let policy = UrlPolicy::new(allow_insecure);
        Self {
            policy,
            refresh_every,
            timeout: FETCH_TIMEOUT,
            client: client(policy, FETCH_TIMEOUT),
        }
    }

    /// The same with another fetch timeout than [`FETCH_TIMEOUT`] (tests).
    pub fn with_timeout(self, timeout: Duration) -> Self {
        Self {
            timeout,
            client: client(self.policy, timeout),
            ..self
        }
    }

    /// What `pinit_task::Settings` asks for.
    pub fn from_settings(settings: &crate::Settings) -> Self {
        if settings.allow_insecure_calendar_urls {
            tracing::warn!(
                "task.allow_insecure_calendar_urls is on: subscribed calendars may be http and on private addresses (tests and local development only)"
            );
        }
        Self::new(
            settings.calendar_refresh_interval.get(),
            settings.allow_insecure_calendar_urls,
        )
    }

    pub fn refresh_every(&self) -> Duration {
        self.refresh_every
    }

    /// Checks a subscription URL (`webcal://` is read as `https://`); returns it as it will be fetched.
    pub fn check_url(&self, url: &str) -> std::result::Result<url::Url, CalendarError> {
        let url = url.trim();
        let https;
        let url = match url.get(..9) {
            Some(scheme) if scheme.eq_ignore_ascii_case("webcal://") => {
                https = format!("https://{}", &url[9..]);
                https.as_str()
            }
            _ => url,
        };
        Ok(self.policy.check(url, MAX_URL_LEN)?)
    }

    /// Fetches `url`; `previous` is what the last fetch answered (`ETag`, `Last-Modified`).
    pub async fn fetch(
        &self,
        url: &url::Url,
        previous: Option<(&str, &str)>,
    ) -> std::result::Result<Fetched, CalendarError> {
        let Some(client) = &self.client else {
            return Err(CalendarError::Fetch(
                "the server's HTTP client is not available".into(),
            ));
        };
        let mut request = client
            .get(url.clone())
            .header(reqwest::header::ACCEPT, "text/calendar, */*;q=0.5");
        if let Some((etag, last_modified)) = previous {
            if !etag.is_empty() {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if !last_modified.is_empty() {
                request = request.header(IF_MODIFIED_SINCE, last_modified);
            }
        }
        let transport = |e| transport(e, self.timeout);
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && previous.is_some() {
            return Ok(Fetched::NotModified);
        }
        if !status.is_success() {
            return Err(CalendarError::Fetch(format!(
                "the server answered HTTP {status}"
            )));
        }
        if response
            .content_length()
            .is_some_and(|n| n > MAX_FILE_BYTES as u64)
        {
            return Err(CalendarError::TooLarge { field: "url" });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(|v| v.chars().take(512).collect::<String>())
        };
        let etag = header(ETAG);
        let last_modified = header(LAST_MODIFIED);
        let mut body: Vec<u8> = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_FILE_BYTES {
                return Err(CalendarError::TooLarge { field: "url" });
            }
            body.extend_from_slice(&chunk);
        }
        let text = String::from_utf8_lossy(&body);
        let calendar = read(&text, "url")?;
        Ok(Fetched::Modified {
            calendar,
            etag,
            last_modified,
        })
    }
}

/// The client calendars are fetched with: the SSRF guard's client (its resolver, no proxy, the operator's extra
/// CA like every outbound HTTPS call), following at most [`MAX_REDIRECTS`] redirects each checked by the guard.
fn client(policy: UrlPolicy, timeout: Duration) -> Option<reqwest::Client> {
    policy
        .client(timeout)
        .redirect(policy.redirects(MAX_REDIRECTS))
        .user_agent(concat!(
            "pinit-task/",
            env!("CARGO_PKG_VERSION"),
            " (calendar subscription)"
        ))
        .build()
        .inspect_err(|e| tracing::error!(error = %e, "the calendar client could not be built"))
        .ok()
}

/// What a fetch answered.
#[derive(Debug)]
pub enum Fetched {
    Modified {
        calendar: BusyCalendar,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    /// 304: what is stored is still current.
    NotModified,
}

/// A transport failure, said plainly: the guard's refusal, a timeout, a refused redirect, or the cause.
fn transport(e: reqwest::Error, timeout: Duration) -> CalendarError {
    if let Some(refusal) = refused(&e) {
        return CalendarError::Fetch(format!(
            "{} has no public address (private, loopback and link-local addresses are refused)",
            refusal.host
        ));
    }
    if e.is_timeout() {
        return CalendarError::Fetch(format!(
            "no answer within {} seconds",
            timeout.as_secs_f64()
        ));
    }
    let mut chain = Vec::new();
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(&e);
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    let reason = if e.is_redirect() {
        chain.first().cloned().unwrap_or_else(|| e.to_string())
    } else if e.is_connect() {
        format!(
            "could not connect ({})",
            chain.last().cloned().unwrap_or_default()
        )
    } else {
        chain.last().cloned().unwrap_or_else(|| e.to_string())
    };
    CalendarError::Fetch(reason)
}

/// A busy block with the calendar it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CalendarBlock {
    pub calendar: BusyCalendarId,
    pub calendar_name: String,
    pub block: crate::domain::busy::Block,
}

/// What one round of the refresh job did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RefreshReport {
    pub changed: usize,
    pub not_modified: usize,
    pub failed: usize,
}

impl TaskApp {
    /// `GET /v2/calendar/subscriptions`: the member's calendars, oldest first.
    pub async fn busy_calendars(&self, member: MemberId) -> Result<Vec<StoredCalendar>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        Ok(store::busy_calendars::of_owner(&mut conn, member.id).await?)
    }

    /// Refuses an eleventh calendar before anything is fetched (checked again under the member's lock).
    async fn room_for_one(&self, member: MemberId) -> Result<()> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        if store::busy_calendars::count(&mut conn, member.id).await? >= MAX_CALENDARS {
            return Err(CalendarError::TooMany.into());
        }
        Ok(())
    }

    /// `POST /v2/calendar/subscriptions`: fetches `url` now (a failure is the answer, nothing is stored) and
    /// keeps its events; refreshed from then on.
    pub async fn subscribe_calendar(
        &self,
        member: MemberId,
        name: &str,
        url: &str,
    ) -> Result<StoredCalendar> {
        let name = calendar_name(name)?;
        let calendars = &self.inner.calendars;
        let url = calendars.check_url(url)?;
        self.room_for_one(member).await?;
        let (calendar, etag, last_modified) = match calendars.fetch(&url, None).await? {
            Fetched::Modified {
                calendar,
                etag,
                last_modified,
            } => (calendar, etag, last_modified),
            Fetched::NotModified => {
                return Err(CalendarError::Fetch(
                    "the server answered 304 to a first fetch".into(),
                )
                .into());
            }
        };
        self.add_calendar(
            member,
            &name,
            CalendarKind::Url,
            Some(url.as_str()),
            &calendar,
            (etag.as_deref(), last_modified.as_deref()),
        )
        .await
    }

    /// `POST /v2/calendar/subscriptions/upload`: an `.ics` file's events, kept as they are (never refreshed).
    pub async fn upload_calendar(
        &self,
        member: MemberId,
        name: &str,
        ics: &str,
    ) -> Result<StoredCalendar> {
        let name = calendar_name(name)?;
        let calendar = read(ics, "ics")?;
        self.add_calendar(
            member,
            &name,
            CalendarKind::Upload,
            None,
            &calendar,
            (None, None),
        )
        .await
    }

    async fn add_calendar(
        &self,
        member: MemberId,
        name: &str,
        kind: CalendarKind,
        url: Option<&str>,
        calendar: &BusyCalendar,
        (etag, last_modified): (Option<&str>, Option<&str>),
    ) -> Result<StoredCalendar> {
        let mut unit = self.begin(member).await?;
        if store::busy_calendars::count(&mut unit.tx, member).await? >= MAX_CALENDARS {
            return Err(CalendarError::TooMany.into());
        }
        let stored = store::busy_calendars::insert(
            &mut unit.tx,
            &NewCalendar {
                owner: member,
                name,
                kind,
                url,
                color: calendar.color.as_deref(),
                etag,
                last_modified,
            },
            &calendar.events,
            unit.now,
        )
        .await?;
        unit.finish(&self.inner.outbox).await?;
        tracing::info!(
            member = %member,
            calendar = %stored.id,
            kind = kind.as_str(),
            events = calendar.events.len(),
            skipped = calendar.skipped,
            unsupported_rules = calendar.unsupported_rules,
            "busy calendar added"
        );
        Ok(stored)
    }

    /// `DELETE /v2/calendar/subscriptions/{id}`: the calendar and its events.
    pub async fn delete_calendar(&self, member: MemberId, id: BusyCalendarId) -> Result<()> {
        let mut unit = self.begin(member).await?;
        if !store::busy_calendars::delete(&mut unit.tx, member, id).await? {
            return Err(AppError::CalendarNotFound(id));
        }
        unit.finish(&self.inner.outbox).await
    }

    /// `GET /v2/calendar/busy` and `/busy/week`: the busy blocks of the member's calendars meeting `window`,
    /// floating times and all-day events in `zone`; by start, then end, then calendar.
    pub async fn busy_blocks(
        &self,
        member: MemberId,
        zone: &Zone,
        window: Window,
    ) -> Result<Vec<CalendarBlock>> {
        let mut conn = self.inner.db.conn().await?;
        let member = self.member(&mut conn, member).await?;
        let names: HashMap<BusyCalendarId, String> =
            store::busy_calendars::of_owner(&mut conn, member.id)
                .await?
                .into_iter()
                .map(|c| (c.id, c.name))
                .collect();
        let events = store::busy_calendars::events_within(&mut conn, member.id, &window).await?;
        drop(conn);
        let mut out: Vec<CalendarBlock> = Vec::new();
        for (calendar, event) in &events {
            let calendar_name = names.get(calendar).cloned().unwrap_or_default();
            out.extend(
                event
                    .blocks(zone, &window)
                    .into_iter()
                    .map(|block| CalendarBlock {
                        calendar: *calendar,
                        calendar_name: calendar_name.clone(),
                        block,
                    }),
            );
        }
        out.sort_by(|a, b| {
            (a.block.start, a.block.end, a.calendar, &a.block.uid).cmp(&(
                b.block.start,
                b.block.end,
                b.calendar,
                &b.block.uid,
            ))
        });
        Ok(out)
    }

    /// One round of the refresh job: every subscribed calendar not tried for `task.calendar_refresh_interval`.
    pub async fn refresh_calendars(&self) -> Result<RefreshReport> {
        let calendars = &self.inner.calendars;
        let now = self.now();
        let before = now
            .checked_sub(
                jiff::SignedDuration::try_from(calendars.refresh_every).unwrap_or_default(),
            )
            .unwrap_or(now);
        let due = {
            let mut conn = self.inner.db.conn().await?;
            store::busy_calendars::due(&mut conn, before, REFRESH_BATCH).await?
        };
        let mut report = RefreshReport::default();
        // A few fetches at a time: one slow server does not hold up the others.
        let mut running = tokio::task::JoinSet::new();
        let mut due = due.into_iter();
        loop {
            while running.len() < PARALLEL_FETCHES {
                let Some(stored) = due.next() else { break };
                let app = self.clone();
                running.spawn(async move {
                    let outcome = app.refresh_one(&stored).await;
                    (stored, outcome)
                });
            }
            let Some(joined) = running.join_next().await else {
                break;
            };
            let (stored, outcome) = match joined {
                Ok(done) => done,
                Err(e) => {
                    tracing::error!(error = %e, "busy calendar: a refresh task failed");
                    report.failed += 1;
                    continue;
                }
            };
            match outcome {
                Ok(true) => report.changed += 1,
                Ok(false) => report.not_modified += 1,
                Err(e) => {
                    report.failed += 1;
                    metrics::counter!("pinit_task_calendar_refresh_failures_total").increment(1);
                    tracing::warn!(calendar = %stored.id, member = %stored.owner, error = %e, "busy calendar: refresh failed; its events are kept");
                    let message = e.to_string();
                    let mut conn = self.inner.db.conn().await?;
                    store::busy_calendars::failed(&mut conn, stored.id, &message, self.now())
                        .await?;
                }
            }
        }
        Ok(report)
    }

    /// Fetches one calendar again: `true` if its events were replaced, `false` on 304.
    async fn refresh_one(
        &self,
        stored: &StoredCalendar,
    ) -> std::result::Result<bool, RefreshError> {
        let calendars = &self.inner.calendars;
        let url = calendars.check_url(stored.url.as_deref().unwrap_or_default())?;
        let previous = (stored.etag.is_some() || stored.last_modified.is_some()).then(|| {
            (
                stored.etag.as_deref().unwrap_or_default(),
                stored.last_modified.as_deref().unwrap_or_default(),
            )
        });
        let fetched = calendars.fetch(&url, previous).await?;
        let now = self.now();
        match fetched {
            Fetched::NotModified => {
                let mut conn = self.inner.db.conn().await.map_err(AppError::from)?;
                store::busy_calendars::not_modified(&mut conn, stored.id, now)
                    .await
                    .map_err(AppError::from)?;
                Ok(false)
            }
            Fetched::Modified {
                calendar,
                etag,
                last_modified,
            } => {
                let mut tx = self.inner.db.begin().await.map_err(AppError::from)?;
                let written = store::busy_calendars::replace(
                    &mut tx,
                    stored,
                    &Refetched {
                        etag: etag.as_deref(),
                        last_modified: last_modified.as_deref(),
                        color: calendar.color.as_deref(),
                    },
                    &calendar.events,
                    now,
                )
                .await
                .map_err(AppError::from)?;
                if written {
                    tx.commit()
                        .await
                        .map_err(pinit_kernel::db::DbError::from)
                        .map_err(AppError::from)?;
                }
                Ok(written)
            }
        }
    }

    /// Refreshes subscribed calendars every `task.calendar_refresh_interval` (a round at most once a minute)
    /// until `stop`.
    pub async fn run_calendar_refresh(
        self,
        stop: CancellationToken,
    ) -> std::result::Result<(), std::convert::Infallible> {
        let tick = (self.inner.calendars.refresh_every / 4)
            .clamp(Duration::from_secs(1), Duration::from_secs(60));
        let mut every = tokio::time::interval(tick);
        every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return Ok(()),
                _ = every.tick() => {}
            }
            match self.refresh_calendars().await {
                Ok(r) if r == RefreshReport::default() => {}
                Ok(r) => tracing::info!(
                    changed = r.changed,
                    not_modified = r.not_modified,
                    failed = r.failed,
                    "busy calendars refreshed"
                ),
                Err(e) => {
                    tracing::warn!(error = %e, "busy calendars: the refresh round failed; retried later")
                }
            }
        }
    }
}

/// Why one refresh failed.
#[derive(Debug, thiserror::Error)]
enum RefreshError {
    #[error(transparent)]
    Calendar(#[from] CalendarError),
    #[error(transparent)]
    App(#[from] AppError),
}
