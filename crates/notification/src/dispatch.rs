//! The dispatcher: sends each pending notification at its schedule's start — on time, only if the schedule is
//! still NOT_STARTED at that start, and with several replicas exactly once. This module is the loop; the
//! decisions are [`crate::domain::delivery`]'s, the sending [`send`]'s and the writing [`record`]'s.
//!
//! * **Waking.** It sleeps until the earliest `next_attempt_at` in the database (computed from the injected
//!   clock), is woken early by the consumers' [`WakeSignal`](pinit_kernel::WakeSignal) (plus PostgreSQL
//!   `NOTIFY` from other replicas' consumers), and looks at least every `safety_poll`.
//! * **Claiming.** Due rows are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single
//!   writer serialises claims). A dispatcher never starts a send later than its lease allows, so a replica that
//!   re-claims an expired lease cannot overlap with it.
//! * **Asking the domain.** The catch-up rule, the members' quiet hours (hold to their end, or drop), then one
//!   batch look-up to the task service per claim: a schedule that is gone, started or completed is dropped
//!   (`suppressed`); one whose start moved is re-timed.
//! * **Sending.** Every device of the owner concurrently, with at most `max_in_flight` requests in flight per
//!   process; devices already served are skipped on a retry.
//! * **Recording.** Each device's result, the gone subscriptions, the notification's outcome or its retry — in
//!   one transaction per batch.
//!
//! Webhook deliveries have their own loop, [`webhooks::WebhookDispatcher`].

mod record;
mod send;
pub mod webhooks;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use jiff::Timestamp;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::DbError;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

use crate::app::{NOTIFY_CHANNEL, Notifications};
use crate::domain::delivery::{self, CatchUp, Check, Due, Plan};
use crate::domain::{MemberId, QuietHours, QuietVerdict, ScheduleKey, Upcoming, later};
use crate::push::{PushSetupError, Pusher};
use crate::store;
use crate::store::upcoming::Claim;

/// How often `pinit_push_due_backlog` is refreshed (as documented in docs/notifications.md).
const BACKLOG_REFRESH: Duration = Duration::from_secs(5);

/// Sends due notifications. Cheap to clone; run one per process ([`Dispatcher::run`]).
#[derive(Clone)]
pub struct Dispatcher {
    inner: Arc<Inner>,
}

struct Inner {
    app: Notifications,
    pusher: Pusher,
    id: String,
    permits: Arc<Semaphore>,
    listen_url: Option<ConnectionUrl>,
}

/// What one [`Dispatcher::run_once`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Notifications claimed.
    pub claimed: usize,
    /// Pushes accepted by a push service.
    pub sent: usize,
    /// Notifications finished (any outcome).
    pub finished: usize,
    /// Notifications given back for later (retries, re-timed, unconfirmed).
    pub released: usize,
}

impl std::ops::AddAssign for RoundReport {
    fn add_assign(&mut self, o: Self) {
        self.claimed += o.claimed;
        self.sent += o.sent;
        self.finished += o.finished;
        self.released += o.released;
    }
}

type Batches = JoinSet<Result<RoundReport, DbError>>;

impl Notifications {
    /// The dispatcher of this context, with senders built from the settings (Web Push always; FCM when
    /// `notification.fcm` is set — this reads the service-account file).
    pub fn dispatcher(&self) -> Result<Dispatcher, PushSetupError> {
        let pusher = Pusher::new(
            self.inner.vapid.clone(),
            &self.inner.settings,
            self.inner.clock.clone(),
            self.inner.policy,
        )?;
        Ok(Dispatcher::new(self, pusher, None))
    }
}

impl Dispatcher {
    fn new(app: &Notifications, pusher: Pusher, listen_url: Option<ConnectionUrl>) -> Self {
        let max = app.settings().max_in_flight.max(1);
        Self {
            inner: Arc::new(Inner {
                app: app.clone(),
                pusher,
                id: format!("dispatcher-{}", uuid::Uuid::now_v7()),
                permits: Arc::new(Semaphore::new(max)),
                listen_url,
            }),
        }
    }

    /// Also wake on PostgreSQL `NOTIFY` (consumers of other replicas arming notifications). Ignored on SQLite.
    pub fn listen_postgres(self, url: ConnectionUrl) -> Self {
        Self::new(&self.inner.app, self.inner.pusher.clone(), Some(url))
    }

    /// This dispatcher's claim owner id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    fn app(&self) -> &Notifications {
        &self.inner.app
    }

    /// Claims and processes everything due now, batch after batch (tests and tools; [`Dispatcher::run`] is
    /// the service loop).
    pub async fn run_once(&self) -> Result<RoundReport, DbError> {
        let mut report = RoundReport::default();
        loop {
            let (batch, claimed_at) = self.claim().await?;
            if batch.is_empty() {
                return Ok(report);
            }
            report += self.process(batch, claimed_at).await?;
        }
    }

    /// Runs until `stop`: sleeps until the next due notification, claims, re-checks, sends. Database and
    /// provider trouble is logged and retried, never fatal. On `stop` it finishes the batches in flight
    /// (bounded by the claim lease) and returns.
    pub async fn run(self, stop: CancellationToken) -> Result<(), std::convert::Infallible> {
        let listener = self.listen(&stop);
        let signal = self.app().signal();
        let mut batches: Batches = JoinSet::new();
        // Extra looks shortly after a wake-up: the arming transaction may not have committed yet.
        let mut settle: Vec<Instant> = Vec::new();
        let mut errors: u32 = 0;
        let mut next_metrics = Instant::now();
        tracing::info!(dispatcher = %self.inner.id, "push dispatcher started");
        while !stop.is_cancelled() {
            let claim_failed = !self.claim_batches(&mut batches, &mut errors).await;
            if Instant::now() >= next_metrics {
                next_metrics = Instant::now() + BACKLOG_REFRESH;
                self.record_backlog().await;
            }
            // Never asleep past the next refresh: the gauge must not keep a value the sends have made old.
            let delay = self
                .sleep_for(claim_failed, errors, &mut settle)
                .await
                .min(next_metrics.saturating_duration_since(Instant::now()));
            let full = batches.len() >= self.max_batches();
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = signal.notified() => {
                    let now = Instant::now();
                    settle.push(now + Duration::from_millis(100));
                    settle.push(now + Duration::from_secs(1));
                }
                Some(done) = batches.join_next(), if !batches.is_empty() => log_batch(done),
                _ = tokio::time::sleep(delay), if !full => {}
            }
        }
        self.drain(batches).await;
        if let Some(listener) = listener {
            listener.abort();
        }
        tracing::info!(dispatcher = %self.inner.id, "push dispatcher stopped");
        Ok(())
    }

    /// The `LISTEN` task on PostgreSQL, when asked for.
    fn listen(&self, stop: &CancellationToken) -> Option<tokio::task::JoinHandle<()>> {
        let url = self.inner.listen_url.clone()?;
        (self.app().db().backend() == pinit_kernel::Backend::Postgres).then(|| {
            tokio::spawn(pinit_kernel::db::listen(
                url,
                NOTIFY_CHANNEL,
                "dispatcher",
                self.app().signal(),
                stop.child_token(),
            ))
        })
    }

    /// Batches processed at once: enough to keep `max_in_flight` sends busy, at least two.
    fn max_batches(&self) -> usize {
        let s = self.app().settings();
        let batch = s.batch_size.max(1) as usize;
        (2 * s.max_in_flight.max(1)).div_ceil(batch).max(2)
    }

    /// Claims batches while there is room (a full batch means there may be more) and starts processing each.
    /// False when claiming failed (`errors` counts failures in a row).
    async fn claim_batches(&self, batches: &mut Batches, errors: &mut u32) -> bool {
        let batch = self.app().settings().batch_size.max(1) as usize;
        while batches.len() < self.max_batches() {
            match self.claim().await {
                Ok((rows, at)) if !rows.is_empty() => {
                    *errors = 0;
                    let full = rows.len() >= batch;
                    let this = self.clone();
                    batches.spawn(async move { this.process(rows, at).await });
                    if !full {
                        break;
                    }
                }
                Ok(_) => {
                    *errors = 0;
                    break;
                }
                Err(e) => {
                    *errors = errors.saturating_add(1);
                    tracing::warn!(error = %e, "claiming due notifications failed");
                    return false;
                }
            }
        }
        true
    }

    /// How long to sleep: until the next due time (at most `safety_poll`), a pending settle look, or — after a
    /// failed claim — a backoff.
    async fn sleep_for(
        &self,
        claim_failed: bool,
        errors: u32,
        settle: &mut Vec<Instant>,
    ) -> Duration {
        let poll = self.app().settings().safety_poll.get();
        let now = Instant::now();
        settle.retain(|at| *at > now);
        let mut delay = if claim_failed {
            Duration::from_millis(100u64 << errors.min(6)).min(Duration::from_secs(5))
        } else {
            self.until_next_due().await.unwrap_or(poll)
        };
        delay = delay.min(poll);
        if let Some(first) = settle.iter().min() {
            delay = delay.min(first.saturating_duration_since(now));
        }
        delay
    }

    /// Finishes the batches in flight (each stops sending before its lease ends).
    async fn drain(&self, mut batches: Batches) {
        let lease = self.app().settings().claim_lease.get();
        let drained = tokio::time::timeout(lease, async {
            while let Some(done) = batches.join_next().await {
                log_batch(done);
            }
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "push dispatcher stopped with batches in flight; their leases expire and another dispatcher takes them"
            );
            batches.abort_all();
        }
    }

    /// How long until the earliest due time or claim expiry (`None`: nothing pending).
    async fn until_next_due(&self) -> Option<Duration> {
        let mut conn = self.app().db().conn().await.ok()?;
        let next = store::upcoming::next_wake(&mut conn).await.ok()??;
        let left = next.as_microsecond() - self.app().now().as_microsecond();
        Some(Duration::from_micros(u64::try_from(left).unwrap_or(0)))
    }

    /// Sets `pinit_push_due_backlog` (every [`BACKLOG_REFRESH`] while the dispatcher runs).
    async fn record_backlog(&self) {
        if let Ok(mut conn) = self.app().db().conn().await
            && let Ok(n) = store::upcoming::backlog(&mut conn, self.app().now()).await
        {
            metrics::gauge!("pinit_push_due_backlog").set(n as f64);
        }
    }

    async fn claim(&self) -> Result<(Vec<Upcoming>, Instant), DbError> {
        let s = self.app().settings();
        let db = self.app().db();
        let now = self.app().now();
        let claimed_at = Instant::now();
        let claim = Claim {
            owner: &self.inner.id,
            now,
            lease_until: later(now, s.claim_lease.get()),
            limit: i64::from(s.batch_size.max(1)),
        };
        let mut tx = db.begin().await?;
        let rows = store::upcoming::claim(&mut tx, db.backend(), claim).await?;
        tx.commit().await?;
        Ok((rows, claimed_at))
    }

    /// Asks the domain about one claimed batch, sends what is due, records it all — in one `dispatch` span when
    /// traces are exported (the re-check call and the sends are its children).
    async fn process(
        &self,
        rows: Vec<Upcoming>,
        claimed_at: Instant,
    ) -> Result<RoundReport, DbError> {
        let span = if pinit_kernel::trace::exporting() {
            tracing::info_span!("dispatch", batch = rows.len())
        } else {
            tracing::Span::none()
        };
        self.process_batch(rows, claimed_at).instrument(span).await
    }

    async fn process_batch(
        &self,
        rows: Vec<Upcoming>,
        claimed_at: Instant,
    ) -> Result<RoundReport, DbError> {
        let grace = self.app().settings().grace.get();
        let now = self.app().now();
        let mut report = RoundReport {
            claimed: rows.len(),
            ..RoundReport::default()
        };
        let mut plans: Vec<Plan> = Vec::with_capacity(rows.len());
        let mut pending = Vec::with_capacity(rows.len());
        for row in rows {
            match delivery::catch_up(row, now, grace) {
                CatchUp::Due(row) => pending.push(row),
                CatchUp::Expired(plan) => plans.push(*plan),
            }
        }
        let pending = self.quiet(pending, now, &mut plans).await?;
        let mut due = self.recheck(pending, now, &mut plans).await;
        if !due.is_empty() {
            self.prepare(&mut due).await?;
            report.sent += self.send_all(&mut due, claimed_at).await;
            let backoff = |attempt| self.app().settings().retry_backoff.delay(attempt);
            plans.extend(
                due.into_iter()
                    .map(|d| delivery::settle(d, now, grace, &backoff)),
            );
        }
        self.record(&plans, &mut report).await?;
        Ok(report)
    }

    /// Applies the owners' quiet hours (one query for the batch); what may go on now, the rest as plans.
    async fn quiet(
        &self,
        pending: Vec<Upcoming>,
        now: Timestamp,
        plans: &mut Vec<Plan>,
    ) -> Result<Vec<Upcoming>, DbError> {
        if pending.is_empty() {
            return Ok(pending);
        }
        let owners: Vec<MemberId> = pending
            .iter()
            .map(|r| r.owner_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let quiet: HashMap<MemberId, QuietHours> = {
            let mut conn = self.app().db().conn().await?;
            store::quiet_hours::enabled_of(&mut conn, &owners)
                .await?
                .into_iter()
                .collect()
        };
        let mut out = Vec::with_capacity(pending.len());
        for row in pending {
            let verdict = quiet
                .get(&row.owner_id)
                .map_or(QuietVerdict::Send, |q| q.verdict(row.slot, row.due_at));
            match delivery::quiet(row, verdict, now) {
                Ok(row) => out.push(row),
                Err(plan) => plans.push(*plan),
            }
        }
        Ok(out)
    }

    /// One look-up to the task service for the whole batch; what is still due, the rest as plans.
    async fn recheck(
        &self,
        pending: Vec<Upcoming>,
        now: Timestamp,
        plans: &mut Vec<Plan>,
    ) -> Vec<Due> {
        if pending.is_empty() {
            return Vec::new();
        }
        let settings = self.app().settings();
        let grace = settings.grace.get();
        let keys: Vec<ScheduleKey> = pending
            .iter()
            .map(|r| ScheduleKey {
                schedule_id: r.schedule_id,
                owner_id: r.owner_id,
            })
            .collect();
        let mut due = Vec::new();
        match self.app().inner.directory.states(&keys).await {
            Ok(found) => {
                for row in pending {
                    let snapshot = found.get(&row.schedule_id);
                    match delivery::recheck(row, snapshot, now, grace) {
                        Check::Send(d) => due.push(d),
                        Check::Plan(p) => plans.push(p),
                    }
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, batch = keys.len(), "cannot re-check schedules with the task service; retrying later");
                let error = e.to_string();
                for row in pending {
                    let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                    let next = later(now, settings.retry_backoff.delay(attempt));
                    plans.push(delivery::recheck_failed(row, next, grace, &error, now));
                }
            }
        }
        due
    }
}

fn log_batch(done: Result<Result<RoundReport, DbError>, tokio::task::JoinError>) {
    match done {
        Ok(Ok(r)) => {
            tracing::debug!(
                claimed = r.claimed,
                sent = r.sent,
                finished = r.finished,
                released = r.released,
                "push batch done"
            )
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "push batch failed; its claims expire and are taken again")
        }
        Err(e) if e.is_cancelled() => {}
        Err(e) => tracing::error!(error = %e, "push batch panicked"),
    }
}
