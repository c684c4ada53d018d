//! The dispatcher: sends each upcoming notification at its schedule's start — on time, only if the schedule is
//! still NOT_STARTED at that start, and with several replicas exactly once.
//!
//! * **Waking.** It sleeps until the earliest `next_attempt_at` in the database (computed from the injected
//!   clock), is woken early by the consumers' [`WakeSignal`](pinit_kernel::WakeSignal) (plus PostgreSQL
//!   `NOTIFY` from other replicas' consumers), and looks at least every `safety_poll`.
//! * **Claiming.** Due rows are claimed with a lease (`FOR UPDATE SKIP LOCKED` on PostgreSQL; SQLite's single
//!   writer serialises claims). A dispatcher never starts a send later than its lease allows, so a replica that
//!   re-claims an expired lease cannot overlap with it.
//! * **Re-check.** One batch look-up to the task service per claim: a schedule that is gone, started or
//!   completed is dropped (`suppressed`); one whose start moved is re-timed.
//! * **Sending.** Every device of the owner concurrently, with at most `max_in_flight` requests in flight per
//!   process. Each device's result is recorded (`sent`, `retrying`, `gone`, `failed`); gone subscriptions are
//!   deleted; transient failures are retried with backoff (and `Retry-After`) while the grace window lasts;
//!   devices already served are skipped on a retry.
//! * **Catch-up.** A notification found more than `grace` after its start (after downtime) is dropped and
//!   recorded as `expired`.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::future::join_all;
use jiff::Timestamp;
use pinit_contracts::events::ScheduleState;
use pinit_kernel::config::ConnectionUrl;
use pinit_kernel::db::DbError;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use crate::app::{NOTIFY_CHANNEL, Notifications};
use crate::directory::{ScheduleKey, ScheduleSnapshot};
use crate::domain::{self, PushMessage};
use crate::push::{PushSetupError, Pusher, SendOutcome};
use crate::settings::micros;
use crate::store::{self, DeliveryRow, NotificationRow, OutcomeRow, SubscriptionRow};

/// How a notification ended (`notification_outcome.outcome`, metric label).
pub mod outcome {
    /// Every device accepted it.
    pub const DELIVERED: &str = "delivered";
    /// Some devices accepted it.
    pub const PARTIAL: &str = "partial";
    /// No device accepted it (failures, gone subscriptions, or retries exhausted within the grace window).
    pub const FAILED: &str = "failed";
    /// The owner has no subscription.
    pub const NO_DEVICES: &str = "no_devices";
    /// The schedule was gone, started or completed at send time.
    pub const SUPPRESSED: &str = "suppressed";
    /// Found after the grace window (downtime): dropped.
    pub const EXPIRED: &str = "expired";
}

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
        Ok(Dispatcher::new(self, pusher))
    }
}

impl Dispatcher {
    pub fn new(app: &Notifications, pusher: Pusher) -> Self {
        let max = app.settings().max_in_flight.max(1);
        Self {
            inner: Arc::new(Inner {
                app: app.clone(),
                pusher,
                id: format!("dispatcher-{}", uuid::Uuid::now_v7()),
                permits: Arc::new(Semaphore::new(max)),
                listen_url: None,
            }),
        }
    }

    /// Also wake on PostgreSQL `NOTIFY` (consumers of other replicas arming notifications). Ignored on SQLite.
    pub fn listen_postgres(self, url: ConnectionUrl) -> Self {
        let inner = Inner {
            app: self.inner.app.clone(),
            pusher: self.inner.pusher.clone(),
            id: self.inner.id.clone(),
            permits: self.inner.permits.clone(),
            listen_url: Some(url),
        };
        Self {
            inner: Arc::new(inner),
        }
    }

    /// This dispatcher's claim owner id.
    pub fn id(&self) -> &str {
        &self.inner.id
    }

    fn now(&self) -> Timestamp {
        self.inner.app.inner.clock.now()
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
        let settings = self.inner.app.settings().clone();
        let backend = self.inner.app.db().backend();
        let listener = match (&self.inner.listen_url, backend) {
            (Some(url), pinit_kernel::Backend::Postgres) => {
                Some(tokio::spawn(pinit_kernel::db::listen(
                    url.clone(),
                    NOTIFY_CHANNEL,
                    "dispatcher",
                    self.inner.app.signal(),
                    stop.child_token(),
                )))
            }
            _ => None,
        };
        let batch = settings.batch_size.max(1) as usize;
        let max_batches = (2 * settings.max_in_flight.max(1)).div_ceil(batch).max(2);
        let signal = self.inner.app.signal();
        let mut tasks: JoinSet<Result<RoundReport, DbError>> = JoinSet::new();
        let mut settle: Vec<Instant> = Vec::new();
        let mut errors: u32 = 0;
        let mut next_metrics = Instant::now();
        tracing::info!(dispatcher = %self.inner.id, "push dispatcher started");
        loop {
            if stop.is_cancelled() {
                break;
            }
            // Claim while there is room; a full batch means there may be more.
            let mut claim_failed = false;
            while tasks.len() < max_batches {
                match self.claim().await {
                    Ok((rows, at)) if !rows.is_empty() => {
                        errors = 0;
                        let full = rows.len() >= batch;
                        let this = self.clone();
                        tasks.spawn(async move { this.process(rows, at).await });
                        if !full {
                            break;
                        }
                    }
                    Ok(_) => {
                        errors = 0;
                        break;
                    }
                    Err(e) => {
                        errors = errors.saturating_add(1);
                        claim_failed = true;
                        tracing::warn!(error = %e, "claiming due notifications failed");
                        break;
                    }
                }
            }
            if Instant::now() >= next_metrics {
                next_metrics = Instant::now() + Duration::from_secs(5);
                self.record_backlog().await;
            }
            let now = Instant::now();
            settle.retain(|at| *at > now);
            let mut delay = if claim_failed {
                Duration::from_millis(100u64 << errors.min(6)).min(Duration::from_secs(5))
            } else {
                self.until_next_due()
                    .await
                    .unwrap_or(settings.safety_poll.get())
            };
            delay = delay.min(settings.safety_poll.get());
            if let Some(first) = settle.iter().min() {
                delay = delay.min(first.saturating_duration_since(now));
            }
            let full = tasks.len() >= max_batches;
            tokio::select! {
                _ = stop.cancelled() => break,
                _ = signal.notified() => {
                    // The arming transaction may not have committed yet: look now, and twice more shortly.
                    let now = Instant::now();
                    settle.push(now + Duration::from_millis(100));
                    settle.push(now + Duration::from_secs(1));
                }
                Some(done) = tasks.join_next(), if !tasks.is_empty() => log_batch(done),
                _ = tokio::time::sleep(delay), if !full => {}
            }
        }
        // Finish what is in flight (each batch stops sending before its lease ends).
        let drain = tokio::time::timeout(settings.claim_lease.get(), async {
            while let Some(done) = tasks.join_next().await {
                log_batch(done);
            }
        })
        .await;
        if drain.is_err() {
            tracing::warn!(
                "push dispatcher stopped with batches in flight; their leases expire and another dispatcher takes them"
            );
            tasks.abort_all();
        }
        if let Some(listener) = listener {
            listener.abort();
        }
        tracing::info!(dispatcher = %self.inner.id, "push dispatcher stopped");
        Ok(())
    }

    /// How long until the earliest due time or claim expiry (`None`: nothing pending).
    async fn until_next_due(&self) -> Option<Duration> {
        let mut conn = self.inner.app.db().pool().acquire().await.ok()?;
        let next = store::next_wake(&mut conn).await.ok()??;
        let now = self.now().as_microsecond();
        Some(Duration::from_micros(
            u64::try_from(next.saturating_sub(now)).unwrap_or(0),
        ))
    }

    async fn record_backlog(&self) {
        let now = self.now().as_microsecond();
        if let Ok(mut conn) = self.inner.app.db().pool().acquire().await
            && let Ok(n) = store::backlog(&mut conn, now).await
        {
            metrics::gauge!("pinit_push_due_backlog").set(n as f64);
        }
    }

    async fn claim(&self) -> Result<(Vec<NotificationRow>, Instant), DbError> {
        let s = self.inner.app.settings();
        let db = self.inner.app.db();
        let now = self.now().as_microsecond();
        let claimed_at = Instant::now();
        let lease_until = now.saturating_add(micros(s.claim_lease.get()));
        let mut tx = db.begin().await?;
        let rows = store::claim(
            &mut tx,
            db.backend(),
            &self.inner.id,
            now,
            lease_until,
            i64::from(s.batch_size.max(1)),
        )
        .await?;
        tx.commit().await?;
        Ok((rows, claimed_at))
    }

    /// Re-checks, sends and records one claimed batch.
    async fn process(
        &self,
        rows: Vec<NotificationRow>,
        claimed_at: Instant,
    ) -> Result<RoundReport, DbError> {
        let app = &self.inner.app;
        let settings = app.settings();
        let grace = settings.grace_us();
        let now = self.now();
        let now_us = now.as_microsecond();
        let mut report = RoundReport {
            claimed: rows.len(),
            ..RoundReport::default()
        };
        let mut plans: Vec<Plan> = Vec::with_capacity(rows.len());
        let mut pending: Vec<NotificationRow> = Vec::with_capacity(rows.len());
        for row in rows {
            if now_us > row.start_at_us.saturating_add(grace) {
                let detail = if row.resolved {
                    "found after the grace window".to_string()
                } else {
                    "the start time could not be confirmed within the grace window".to_string()
                };
                plans.push(Plan::finish(row, outcome::EXPIRED, detail));
            } else {
                pending.push(row);
            }
        }
        // One look-up for the whole batch.
        let mut work: Vec<Work> = Vec::new();
        if !pending.is_empty() {
            let keys: Vec<ScheduleKey> = pending
                .iter()
                .map(|r| ScheduleKey {
                    schedule_id: r.schedule_id,
                    owner_id: r.owner_id,
                })
                .collect();
            match app.inner.directory.states(&keys).await {
                Ok(found) => {
                    for row in pending {
                        let snapshot = found.get(&row.schedule_id).cloned();
                        match self.recheck(row, snapshot, now) {
                            Check::Send(w) => work.push(w),
                            Check::Plan(p) => plans.push(p),
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, batch = keys.len(), "cannot re-check schedules with the task service; retrying later");
                    for row in pending {
                        let attempt = u32::try_from(row.attempts).unwrap_or(u32::MAX);
                        let next =
                            now_us.saturating_add(micros(settings.retry_backoff.delay(attempt)));
                        if next > row.start_at_us.saturating_add(grace) {
                            plans.push(Plan::finish(
                                row,
                                outcome::FAILED,
                                format!("the schedule could not be re-checked: {e}"),
                            ));
                        } else {
                            plans.push(Plan::Release {
                                row,
                                next_us: next,
                                confirmed: None,
                            });
                        }
                    }
                }
            }
        }
        if !work.is_empty() {
            let sent = self.send_all(&mut work, claimed_at).await?;
            report.sent += sent;
            for w in work {
                plans.push(self.settle(w, now_us));
            }
        }
        self.record(&plans, &mut report).await?;
        Ok(report)
    }

    /// Decides about one claimed notification from the task service's answer.
    fn recheck(
        &self,
        row: NotificationRow,
        snapshot: Option<ScheduleSnapshot>,
        now: Timestamp,
    ) -> Check {
        let grace = self.inner.app.settings().grace_us();
        let Some(snapshot) = snapshot else {
            return Check::Plan(Plan::finish(
                row,
                outcome::SUPPRESSED,
                "the schedule no longer exists".into(),
            ));
        };
        if let Some(state) = snapshot.state
            && state != ScheduleState::NotStarted
        {
            return Check::Plan(Plan::finish(
                row,
                outcome::SUPPRESSED,
                format!("the schedule is {}", state_name(state)),
            ));
        }
        let start = snapshot.basics.start_time;
        let title = if snapshot.basics.title.is_empty() {
            row.title.clone()
        } else {
            snapshot.basics.title.clone()
        };
        let row_start = Timestamp::from_microsecond(row.start_at_us).unwrap_or(start);
        if !row.resolved || !domain::same_start(row_start, start) {
            let start_us = start.as_microsecond();
            if start > now {
                // Moved later (its event is on the way) or confirmed for later: wait for the real start.
                return Check::Plan(Plan::Release {
                    next_us: start_us,
                    confirmed: Some((start_us, title)),
                    row,
                });
            }
            if now.as_microsecond() > start_us.saturating_add(grace) {
                return Check::Plan(Plan::finish(
                    row,
                    outcome::EXPIRED,
                    "the schedule's start is past the grace window".into(),
                ));
            }
        }
        Check::Send(Work {
            message: Arc::new(PushMessage::new(
                row.schedule_id,
                &title,
                start,
                &row.idempotent_key,
            )),
            start,
            row,
            devices: Vec::new(),
            orphans: Vec::new(),
            interrupted: false,
        })
    }

    /// Sends every pending device of every notification in `work` concurrently; returns pushes accepted.
    async fn send_all(&self, work: &mut [Work], claimed_at: Instant) -> Result<usize, DbError> {
        let app = &self.inner.app;
        let settings = app.settings();
        let owners: Vec<i64> = work
            .iter()
            .map(|w| w.row.owner_id)
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let keys: Vec<String> = work.iter().map(|w| w.row.idempotent_key.clone()).collect();
        let (subscriptions, deliveries) = {
            let mut conn = app.db().pool().acquire().await?;
            (
                store::subscriptions_of(&mut conn, &owners).await?,
                store::deliveries_for(&mut conn, &keys).await?,
            )
        };
        let mut by_owner: HashMap<i64, Vec<Arc<SubscriptionRow>>> = HashMap::new();
        for s in subscriptions {
            by_owner.entry(s.member_id).or_default().push(Arc::new(s));
        }
        let mut done: HashMap<(String, String), DeliveryRow> = HashMap::new();
        for d in deliveries {
            done.insert((d.idempotent_key.clone(), d.device_id.clone()), d);
        }
        // Stop starting sends well before the lease ends (a send takes at most `push_timeout`, recording the
        // results a little more): after it another replica may claim the row.
        let lease = settings.claim_lease.get();
        let margin = settings.push_timeout.get() + (lease / 4).max(Duration::from_secs(1));
        let deadline = claimed_at + lease.saturating_sub(margin);
        let grace = settings.grace_us();
        let mut sends = Vec::new();
        for (wi, w) in work.iter_mut().enumerate() {
            let key = w.row.idempotent_key.clone();
            for sub in by_owner.get(&w.row.owner_id).into_iter().flatten().cloned() {
                let previous = done.remove(&(key.clone(), sub.device_id.clone()));
                let final_already = previous.as_ref().is_some_and(|d| d.status != "retrying");
                w.devices.push(Device {
                    sub,
                    previous,
                    result: None,
                    skip: final_already,
                });
            }
            // Devices that answered earlier but are no longer subscribed still count for the outcome.
            let leftovers: Vec<DeliveryRow> = done
                .keys()
                .filter(|(k, _)| *k == key)
                .cloned()
                .collect::<Vec<_>>()
                .into_iter()
                .filter_map(|k| done.remove(&k))
                .collect();
            w.orphans = leftovers;
            for (di, d) in w.devices.iter().enumerate() {
                if !d.skip {
                    sends.push((wi, di));
                }
            }
        }
        let futures = sends.iter().map(|&(wi, di)| {
            let w = &work[wi];
            let sub = w.devices[di].sub.clone();
            let message = w.message.clone();
            let start_us = w.start.as_microsecond();
            let permits = self.inner.permits.clone();
            let pusher = self.inner.pusher.clone();
            let clock = app.inner.clock.clone();
            async move {
                let Ok(_permit) = permits.acquire_owned().await else {
                    return ((wi, di), None);
                };
                if Instant::now() >= deadline {
                    return ((wi, di), None);
                }
                let now_us = clock.now().as_microsecond();
                let left = start_us.saturating_add(grace).saturating_sub(now_us).max(0);
                let ttl = Duration::from_micros(u64::try_from(left).unwrap_or(0));
                let outcome = pusher.send(&sub, &message, ttl).await;
                let at = clock.now();
                ((wi, di), Some((outcome, at)))
            }
        });
        let results = join_all(futures).await;
        let mut sent = 0;
        for ((wi, di), result) in results {
            let w = &mut work[wi];
            let device = &mut w.devices[di];
            match result {
                Some((outcome, at)) => {
                    metrics::counter!("pinit_push_deliveries_total", "kind" => kind_label(&device.sub.kind), "outcome" => outcome.label())
                        .increment(1);
                    if let SendOutcome::Sent { .. } = outcome {
                        sent += 1;
                        let late = at.duration_since(w.start).as_secs_f64().max(0.0);
                        metrics::histogram!("pinit_push_lateness_seconds").record(late);
                    } else {
                        tracing::info!(schedule_id = w.row.schedule_id, device = %device.sub.device_id, kind = %device.sub.kind, outcome = outcome.label(), reason = outcome.reason().unwrap_or(""), "push not delivered");
                    }
                    device.result = Some((outcome, at));
                }
                None => w.interrupted = true,
            }
        }
        Ok(sent)
    }

    /// Turns one notification's device results into deliveries and a plan.
    fn settle(&self, w: Work, now_us: i64) -> Plan {
        let settings = self.inner.app.settings();
        let grace_end = w.start.as_microsecond().saturating_add(settings.grace_us());
        let mut deliveries = Vec::new();
        let mut gone = Vec::new();
        let mut touched = Vec::new();
        let mut next_retry: Option<i64> = None;
        let (mut devices, mut delivered) = (0i64, 0i64);
        let mut last_reason = None;
        for d in &w.devices {
            devices += 1;
            let attempts = d.previous.as_ref().map_or(0, |p| p.attempts);
            let Some((result, at)) = &d.result else {
                if d.previous.as_ref().is_some_and(|p| p.status == "sent") {
                    delivered += 1;
                }
                continue;
            };
            let at_us = at.as_microsecond();
            let mut row = DeliveryRow {
                idempotent_key: w.row.idempotent_key.clone(),
                device_id: d.sub.device_id.clone(),
                schedule_id: w.row.schedule_id,
                owner_id: w.row.owner_id,
                kind: d.sub.kind.clone(),
                status: result.label().to_string(),
                attempts: attempts + 1,
                last_http_status: result.status().map(i64::from),
                last_error: result.reason().map(|r| r.chars().take(1000).collect()),
                next_attempt_at_us: None,
                start_at_us: w.start.as_microsecond(),
                sent_at_us: None,
            };
            match result {
                SendOutcome::Sent { .. } => {
                    row.sent_at_us = Some(at_us);
                    delivered += 1;
                    touched.push(d.sub.subscription_id);
                }
                SendOutcome::Gone { .. } => {
                    gone.push((d.sub.subscription_id, d.sub.address.clone()));
                }
                SendOutcome::Failed { .. } => {}
                SendOutcome::Retry { retry_after, .. } => {
                    let attempt = u32::try_from(attempts + 1).unwrap_or(u32::MAX);
                    let backoff = settings.retry_backoff.delay(attempt);
                    let wait = retry_after.map_or(backoff, |ra| ra.max(backoff));
                    let next = now_us.max(at_us).saturating_add(micros(wait));
                    if next > grace_end {
                        row.status = "failed".into();
                        row.last_error = Some(format!(
                            "{}; gave up: the grace window ends before the next attempt",
                            result.reason().unwrap_or("")
                        ));
                    } else {
                        row.next_attempt_at_us = Some(next);
                        next_retry = Some(next_retry.map_or(next, |n: i64| n.min(next)));
                    }
                }
            }
            if row.status == "failed" {
                last_reason = row.last_error.clone();
            }
            deliveries.push(row);
        }
        for orphan in &w.orphans {
            devices += 1;
            if orphan.status == "sent" {
                delivered += 1;
            }
        }
        let effects = Effects {
            deliveries,
            gone,
            touched,
        };
        if w.interrupted {
            // Out of lease time: record what happened, leave the claim to expire; the next claim sends the rest.
            return Plan::Partial {
                schedule_id: w.row.schedule_id,
                effects,
            };
        }
        if let Some(next_us) = next_retry {
            return Plan::Retry {
                confirmed: (w.start.as_microsecond(), w.message.title().to_string()),
                row: w.row,
                next_us,
                effects,
            };
        }
        let (kind, detail) = if devices == 0 {
            (
                outcome::NO_DEVICES,
                Some("the member has no push subscription".to_string()),
            )
        } else if delivered == devices {
            (outcome::DELIVERED, None)
        } else if delivered > 0 {
            (outcome::PARTIAL, last_reason)
        } else {
            (outcome::FAILED, last_reason)
        };
        Plan::Finish {
            outcome: OutcomeRow {
                idempotent_key: w.row.idempotent_key.clone(),
                schedule_id: w.row.schedule_id,
                owner_id: w.row.owner_id,
                start_at_us: w.start.as_microsecond(),
                outcome: kind.to_string(),
                detail,
                devices,
                delivered,
                finished_at_us: now_us,
            },
            row: w.row,
            effects: Some(effects),
        }
    }

    /// Writes a batch's results in one transaction, with multi-row statements: every send's result first
    /// (whatever becomes of its notification, the sends happened), then the finished notifications and
    /// their outcomes, then the releases.
    async fn record(&self, plans: &[Plan], report: &mut RoundReport) -> Result<(), DbError> {
        if plans.is_empty() {
            return Ok(());
        }
        let db = self.inner.app.db();
        let owner = self.inner.id.as_str();
        let now_us = self.now().as_microsecond();
        let mut tx = db.begin().await?;
        let ids: Vec<i64> = plans.iter().map(Plan::schedule_id).collect();
        store::lock_watermarks(&mut tx, db.backend(), &ids, now_us).await?;
        let effects: Vec<&Effects> = plans.iter().filter_map(Plan::effects).collect();
        let deliveries: Vec<DeliveryRow> = effects
            .iter()
            .flat_map(|e| e.deliveries.iter().cloned())
            .collect();
        store::save_deliveries(&mut tx, &deliveries, now_us).await?;
        for (id, address) in effects.iter().flat_map(|e| e.gone.iter()) {
            if store::delete_gone(&mut tx, *id, address).await? {
                metrics::counter!("pinit_push_subscriptions_removed_total").increment(1);
                tracing::info!(subscription_id = id, "push subscription gone; removed");
            }
        }
        let touched: Vec<i64> = effects
            .iter()
            .flat_map(|e| e.touched.iter().copied())
            .collect();
        store::touch_successes(&mut tx, &touched, now_us).await?;

        let finishing: Vec<(i64, &str)> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Finish { row, .. } => Some((row.schedule_id, row.idempotent_key.as_str())),
                _ => None,
            })
            .collect();
        let finished = store::finish_many(&mut tx, owner, &finishing).await?;
        let mut outcomes = Vec::with_capacity(finished.len());
        let mut fired = Vec::with_capacity(finished.len());
        for plan in plans {
            match plan {
                Plan::Finish { row, outcome, .. } => {
                    if !finished.contains(&row.schedule_id) {
                        continue;
                    }
                    let outcome = OutcomeRow {
                        finished_at_us: now_us,
                        ..outcome.clone()
                    };
                    if outcome.outcome != outcome::SUPPRESSED {
                        // This start is over: an event re-announcing it must not arm it again.
                        fired.push((row.schedule_id, outcome.start_at_us));
                    }
                    if outcome.outcome != outcome::DELIVERED {
                        store::abandon_retries(
                            &mut tx,
                            &row.idempotent_key,
                            outcome
                                .detail
                                .as_deref()
                                .unwrap_or(outcome.outcome.as_str()),
                            now_us,
                        )
                        .await?;
                    }
                    report.finished += 1;
                    metrics::counter!("pinit_push_notifications_total", "outcome" => outcome_label(&outcome.outcome))
                        .increment(1);
                    tracing::debug!(schedule_id = row.schedule_id, outcome = %outcome.outcome, detail = outcome.detail.as_deref().unwrap_or(""), "notification finished");
                    outcomes.push(outcome);
                }
                Plan::Release {
                    row,
                    next_us,
                    confirmed,
                } => {
                    let confirmed = confirmed.as_ref().map(|(s, t)| (*s, t.as_str()));
                    if store::release(
                        &mut tx,
                        row.schedule_id,
                        owner,
                        &row.idempotent_key,
                        *next_us,
                        confirmed,
                        now_us,
                    )
                    .await?
                    {
                        report.released += 1;
                    }
                }
                Plan::Retry {
                    row,
                    next_us,
                    confirmed,
                    ..
                } => {
                    if store::release(
                        &mut tx,
                        row.schedule_id,
                        owner,
                        &row.idempotent_key,
                        *next_us,
                        Some((confirmed.0, confirmed.1.as_str())),
                        now_us,
                    )
                    .await?
                    {
                        report.released += 1;
                    }
                }
                Plan::Partial { .. } => {}
            }
        }
        store::record_outcomes(&mut tx, &outcomes).await?;
        store::mark_fired_many(&mut tx, &fired, now_us).await?;
        tx.commit().await?;
        // A retry or re-timing may be due before what the loop computed: look again.
        if report.released > 0 {
            self.inner.app.signal().wake();
        }
        Ok(())
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

fn state_name(state: ScheduleState) -> &'static str {
    match state {
        ScheduleState::NotStarted => "NOT_STARTED",
        ScheduleState::InProgress => "IN_PROGRESS",
        ScheduleState::Suspended => "SUSPENDED",
        ScheduleState::Completed => "COMPLETED",
    }
}

fn kind_label(kind: &str) -> &'static str {
    match kind {
        domain::KIND_FCM => domain::KIND_FCM,
        _ => domain::KIND_WEB_PUSH,
    }
}

fn outcome_label(o: &str) -> &'static str {
    match o {
        outcome::DELIVERED => outcome::DELIVERED,
        outcome::PARTIAL => outcome::PARTIAL,
        outcome::NO_DEVICES => outcome::NO_DEVICES,
        outcome::SUPPRESSED => outcome::SUPPRESSED,
        outcome::EXPIRED => outcome::EXPIRED,
        _ => outcome::FAILED,
    }
}

/// A notification being sent.
struct Work {
    row: NotificationRow,
    start: Timestamp,
    message: Arc<PushMessage>,
    devices: Vec<Device>,
    /// Delivery records of devices no longer subscribed.
    orphans: Vec<DeliveryRow>,
    /// Some sends were not started because the claim was running out.
    interrupted: bool,
}

struct Device {
    sub: Arc<SubscriptionRow>,
    previous: Option<DeliveryRow>,
    result: Option<(SendOutcome, Timestamp)>,
    /// Already sent, gone or failed in an earlier attempt.
    skip: bool,
}

enum Check {
    Send(Work),
    Plan(Plan),
}

/// Database writes of a batch's sends.
#[derive(Default)]
struct Effects {
    deliveries: Vec<DeliveryRow>,
    gone: Vec<(i64, String)>,
    touched: Vec<i64>,
}

enum Plan {
    /// Done: delete the row (if still ours), record the outcome.
    Finish {
        row: NotificationRow,
        outcome: OutcomeRow,
        effects: Option<Effects>,
    },
    /// Give the row back for `next_us` (re-timed, or the re-check failed).
    Release {
        row: NotificationRow,
        next_us: i64,
        confirmed: Option<(i64, String)>,
    },
    /// Some devices wait for a retry at `next_us`; the start time and title the sends used are kept.
    Retry {
        row: NotificationRow,
        next_us: i64,
        confirmed: (i64, String),
        effects: Effects,
    },
    /// Ran out of lease time: record the sends made, leave the claim.
    Partial { schedule_id: i64, effects: Effects },
}

impl Plan {
    /// The database writes of the sends this plan made, if any.
    fn effects(&self) -> Option<&Effects> {
        match self {
            Plan::Finish { effects, .. } => effects.as_ref(),
            Plan::Retry { effects, .. } | Plan::Partial { effects, .. } => Some(effects),
            Plan::Release { .. } => None,
        }
    }

    fn schedule_id(&self) -> i64 {
        match self {
            Plan::Finish { row, .. } | Plan::Release { row, .. } | Plan::Retry { row, .. } => {
                row.schedule_id
            }
            Plan::Partial { schedule_id, .. } => *schedule_id,
        }
    }
}

impl Plan {
    fn finish(row: NotificationRow, kind: &'static str, detail: String) -> Plan {
        let outcome = OutcomeRow {
            idempotent_key: row.idempotent_key.clone(),
            schedule_id: row.schedule_id,
            owner_id: row.owner_id,
            start_at_us: row.start_at_us,
            outcome: kind.to_string(),
            detail: Some(detail),
            devices: 0,
            delivered: 0,
            finished_at_us: 0,
        };
        Plan::Finish {
            row,
            outcome,
            effects: None,
        }
    }
}
