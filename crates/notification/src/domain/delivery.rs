//! Delivery: what the dispatcher decides about a claimed notification, and how the sends settle.
//!
//! * **Catch-up** ([`catch_up`]): a notification found more than `grace` after it was due (after downtime) is
//!   dropped as [`Outcome::Expired`].
//! * **Quiet hours** ([`quiet`]): one due inside the member's quiet hours is held to their end or dropped
//!   ([`Outcome::Quiet`]).
//! * **Re-check** ([`recheck`]): just before sending, the task service's answer decides — a schedule that is
//!   gone, started or completed is [`Outcome::Suppressed`]; a reminder whose start moved (or was unconfirmed)
//!   waits for the real start plus its offset, or expires if that is past the grace window (a snooze of the old
//!   start is suppressed); otherwise it is sent, announcing the start the task service reports. When the task service cannot answer: retried with backoff inside the grace window
//!   ([`recheck_failed`]).
//! * **Devices** ([`Due::add_devices`]): every current subscription of the owner; a device whose delivery of
//!   this notification is final (sent, gone, failed) is never sent to again — at most one accepted send per
//!   (notification, device).
//! * **Settling** ([`settle`]): each device's [`SendOutcome`] becomes its [`Delivery`] (`sent`, `retrying`,
//!   `gone`, `failed`); transient failures are retried with backoff (and `Retry-After`) while the grace window
//!   lasts; the notification's [`Outcome`] follows from how many devices accepted it ([`Outcome::of`]).
//!
//! The grace window is also the TTL given to push services ([`ttl`]), and a dispatcher stops starting sends
//! well before its claim ends ([`send_deadline`]), so a replica that takes over an expired claim never overlaps.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use super::arming::Upcoming;
use super::message::{PushMessage, same_start};
use super::quiet::QuietVerdict;
use super::reminder::Slot;
use super::schedule::{ScheduleSnapshot, ScheduleState, state_name};
use super::subscription::{DeviceId, PushKind, Subscription};
use super::{MemberId, NotificationKey, ScheduleId, SubscriptionId, later, micros};

/// Longest error text kept per delivery (characters).
pub const MAX_ERROR_CHARS: usize = 1000;

/// How one push to one device ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendOutcome {
    /// Accepted by the push service.
    Sent { status: u16 },
    /// The subscription no longer exists (404/410, FCM `UNREGISTERED`): delete it.
    Gone { status: u16, reason: String },
    /// Worth retrying (429, 5xx, timeouts, connection errors); `retry_after` from the service, if it said.
    Retry {
        status: Option<u16>,
        retry_after: Option<Duration>,
        reason: String,
    },
    /// Retrying cannot help (a refused request, a configuration problem): recorded, subscription kept.
    Failed { status: Option<u16>, reason: String },
    /// The endpoint's host resolves to no public address, so the SSRF guard would not connect: recorded
    /// `failed`, never retried, and after [`REFUSALS_BEFORE_REMOVAL`] refusals in a row the subscription is
    /// removed.
    Refused { reason: String },
}

/// Refusals by the SSRF guard in a row (no successful push in between) after which a subscription is removed.
pub const REFUSALS_BEFORE_REMOVAL: i64 = 3;

/// Whether a subscription refused `refusals` times in a row is removed.
pub fn removes_after_refusals(refusals: i64) -> bool {
    refusals >= REFUSALS_BEFORE_REMOVAL
}

impl SendOutcome {
    /// The delivery status it records.
    pub fn status(&self) -> DeliveryStatus {
        match self {
            SendOutcome::Sent { .. } => DeliveryStatus::Sent,
            SendOutcome::Gone { .. } => DeliveryStatus::Gone,
            SendOutcome::Retry { .. } => DeliveryStatus::Retrying,
            SendOutcome::Failed { .. } | SendOutcome::Refused { .. } => DeliveryStatus::Failed,
        }
    }

    /// The metric label (`pinit_push_deliveries_total{outcome}`): the status, or `refused`.
    pub fn label(&self) -> &'static str {
        match self {
            SendOutcome::Refused { .. } => "refused",
            other => other.status().as_str(),
        }
    }

    /// The push service's HTTP status, when it answered.
    pub fn http_status(&self) -> Option<u16> {
        match self {
            SendOutcome::Sent { status } | SendOutcome::Gone { status, .. } => Some(*status),
            SendOutcome::Retry { status, .. } | SendOutcome::Failed { status, .. } => *status,
            SendOutcome::Refused { .. } => None,
        }
    }

    pub fn reason(&self) -> Option<&str> {
        match self {
            SendOutcome::Sent { .. } => None,
            SendOutcome::Gone { reason, .. }
            | SendOutcome::Retry { reason, .. }
            | SendOutcome::Failed { reason, .. }
            | SendOutcome::Refused { reason } => Some(reason),
        }
    }
}

/// Where one device's delivery of one notification stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Sent,
    /// Waiting for another attempt.
    Retrying,
    /// The subscription was gone.
    Gone,
    Failed,
}

impl DeliveryStatus {
    /// The stored and metric label: `sent`, `retrying`, `gone`, `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Sent => "sent",
            DeliveryStatus::Retrying => "retrying",
            DeliveryStatus::Gone => "gone",
            DeliveryStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "sent" => Some(DeliveryStatus::Sent),
            "retrying" => Some(DeliveryStatus::Retrying),
            "gone" => Some(DeliveryStatus::Gone),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }

    /// Nothing more is sent to this device for this notification.
    pub fn is_final(self) -> bool {
        self != DeliveryStatus::Retrying
    }
}

/// One device's delivery of one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub idempotent_key: NotificationKey,
    pub device_id: DeviceId,
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
    pub kind: PushKind,
    pub status: DeliveryStatus,
    pub attempts: i64,
    pub last_http_status: Option<u16>,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<Timestamp>,
    pub start_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// How a notification ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// Every device accepted it.
    Delivered,
    /// Some devices accepted it.
    Partial,
    /// No device accepted it (failures, gone subscriptions, or retries exhausted within the grace window).
    Failed,
    /// The owner has no subscription.
    NoDevices,
    /// The schedule was gone, started or completed at send time.
    Suppressed,
    /// Found after the grace window (downtime): dropped.
    Expired,
    /// Due inside the member's quiet hours, which drop such reminders.
    Quiet,
}

impl Outcome {
    /// The stored and metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Delivered => "delivered",
            Outcome::Partial => "partial",
            Outcome::Failed => "failed",
            Outcome::NoDevices => "no_devices",
            Outcome::Suppressed => "suppressed",
            Outcome::Expired => "expired",
            Outcome::Quiet => "quiet",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        [
            Outcome::Delivered,
            Outcome::Partial,
            Outcome::Failed,
            Outcome::NoDevices,
            Outcome::Suppressed,
            Outcome::Expired,
            Outcome::Quiet,
        ]
        .into_iter()
        .find(|o| o.as_str() == text)
    }

    /// The outcome of a sent notification: `delivered` of its `devices` accepted it.
    pub fn of(devices: i64, delivered: i64) -> Outcome {
        if devices == 0 {
            Outcome::NoDevices
        } else if delivered == devices {
            Outcome::Delivered
        } else if delivered > 0 {
            Outcome::Partial
        } else {
            Outcome::Failed
        }
    }

    /// Whether this start is over: an event re-announcing it must not arm it again (a suppressed
    /// notification's schedule may still be re-armed, e.g. after a cancel).
    pub fn marks_fired(self) -> bool {
        self != Outcome::Suppressed
    }

    /// Whether devices still waiting for a retry give up.
    pub fn abandons_retries(self) -> bool {
        self != Outcome::Delivered
    }
}

/// How a notification ended, as recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutcomeRecord {
    pub idempotent_key: NotificationKey,
    pub schedule_id: ScheduleId,
    pub owner_id: MemberId,
    pub start_at: Timestamp,
    /// Which reminder of the schedule it was.
    pub slot: Slot,
    pub outcome: Outcome,
    pub detail: Option<String>,
    pub devices: i64,
    pub delivered: i64,
    pub finished_at: Timestamp,
}

impl OutcomeRecord {
    fn new(
        upcoming: &Upcoming,
        start_at: Timestamp,
        outcome: Outcome,
        detail: Option<String>,
        now: Timestamp,
    ) -> Self {
        Self {
            idempotent_key: upcoming.idempotent_key.clone(),
            schedule_id: upcoming.schedule_id,
            owner_id: upcoming.owner_id,
            start_at,
            slot: upcoming.slot,
            outcome,
            detail,
            devices: 0,
            delivered: 0,
            finished_at: now,
        }
    }
}

/// The start and title the task service confirmed, kept with a notification given back for later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    pub start_at: Timestamp,
    pub title: String,
}

/// The database writes of a notification's sends.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SendResults {
    /// Each device's delivery record after this attempt.
    pub deliveries: Vec<Delivery>,
    /// Subscriptions the push service declared gone (deleted unless re-subscribed with another address).
    pub gone: Vec<(SubscriptionId, String)>,
    /// Subscriptions the SSRF guard refused to connect to (counted; removed after
    /// [`REFUSALS_BEFORE_REMOVAL`] in a row, unless re-subscribed with another address).
    pub refused: Vec<(SubscriptionId, String)>,
    /// Subscriptions that accepted a push (their last success is recorded).
    pub touched: Vec<SubscriptionId>,
}

/// What becomes of a claimed notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// Done: delete it (if the claim still holds) and record the outcome.
    Finish {
        upcoming: Upcoming,
        outcome: OutcomeRecord,
        sends: Option<SendResults>,
    },
    /// Give it back, to be looked at again at `next_attempt_at` (re-timed, held by quiet hours, retrying
    /// devices, or a failed re-check), due at `due_at` from now on, with the start and title confirmed, if any.
    Release {
        upcoming: Upcoming,
        next_attempt_at: Timestamp,
        due_at: Timestamp,
        confirmed: Option<Confirmed>,
        sends: Option<SendResults>,
    },
    /// The claim ran short before every device was tried: record the sends made, leave the claim to expire;
    /// the next claim sends the rest.
    Interrupted {
        schedule_id: ScheduleId,
        sends: SendResults,
    },
}

impl Plan {
    fn finish(upcoming: Upcoming, outcome: Outcome, detail: &str, now: Timestamp) -> Plan {
        let record = OutcomeRecord::new(
            &upcoming,
            upcoming.start_at,
            outcome,
            Some(detail.to_string()),
            now,
        );
        Plan::Finish {
            upcoming,
            outcome: record,
            sends: None,
        }
    }

    pub fn schedule_id(&self) -> ScheduleId {
        match self {
            Plan::Finish { upcoming, .. } | Plan::Release { upcoming, .. } => upcoming.schedule_id,
            Plan::Interrupted { schedule_id, .. } => *schedule_id,
        }
    }

    /// The writes of the sends this plan made, if any.
    pub fn sends(&self) -> Option<&SendResults> {
        match self {
            Plan::Finish { sends, .. } | Plan::Release { sends, .. } => sends.as_ref(),
            Plan::Interrupted { sends, .. } => Some(sends),
        }
    }
}

/// What the catch-up rule says of a claimed notification.
#[derive(Debug)]
pub enum CatchUp {
    /// Inside the grace window: re-check it.
    Due(Upcoming),
    /// Found after the grace window (downtime): dropped. (Boxed: a plan is much larger than a row.)
    Expired(Box<Plan>),
}

/// The catch-up rule: a notification found more than `grace` after it was due is dropped as expired.
pub fn catch_up(upcoming: Upcoming, now: Timestamp, grace: Duration) -> CatchUp {
    if now <= later(upcoming.due_at, grace) {
        return CatchUp::Due(upcoming);
    }
    let detail = if upcoming.resolved {
        "found after the grace window"
    } else {
        "the start time could not be confirmed within the grace window"
    };
    CatchUp::Expired(Box::new(Plan::finish(
        upcoming,
        Outcome::Expired,
        detail,
        now,
    )))
}

/// Applies the member's quiet hours (`verdict`, for the notification's due time): it goes on (`Ok`), is held
/// to the window's end, or is dropped.
pub fn quiet(
    upcoming: Upcoming,
    verdict: QuietVerdict,
    now: Timestamp,
) -> Result<Upcoming, Box<Plan>> {
    match verdict {
        QuietVerdict::Send => Ok(upcoming),
        QuietVerdict::Hold(end) => Err(Box::new(Plan::Release {
            upcoming,
            next_attempt_at: end,
            due_at: end,
            confirmed: None,
            sends: None,
        })),
        QuietVerdict::Drop => Err(Box::new(Plan::finish(
            upcoming,
            Outcome::Quiet,
            "due inside the member's quiet hours",
            now,
        ))),
    }
}

/// The re-check's verdict.
#[derive(Debug)]
pub enum Check {
    Send(Due),
    Plan(Plan),
}

/// Decides about a claimed notification from the task service's `snapshot` of its schedule (`None`: it does
/// not exist, or is not its owner's).
pub fn recheck(
    upcoming: Upcoming,
    snapshot: Option<&ScheduleSnapshot>,
    now: Timestamp,
    grace: Duration,
) -> Check {
    let Some(snapshot) = snapshot else {
        return Check::Plan(Plan::finish(
            upcoming,
            Outcome::Suppressed,
            "the schedule no longer exists",
            now,
        ));
    };
    if let Some(state) = snapshot.state
        && state != ScheduleState::NotStarted
    {
        let detail = format!("the schedule is {}", state_name(state));
        return Check::Plan(Plan::finish(upcoming, Outcome::Suppressed, &detail, now));
    }
    let start = snapshot.basics.start_time;
    let title = if snapshot.basics.title.is_empty() {
        upcoming.title.clone()
    } else {
        snapshot.basics.title.clone()
    };
    let mut due_at = upcoming.due_at;
    if !upcoming.resolved || !same_start(upcoming.start_at, start) {
        if upcoming.slot.is_snooze() && upcoming.resolved {
            // Snoozed for a start that is no longer the schedule's: its own reminders were re-armed.
            return Check::Plan(Plan::finish(
                upcoming,
                Outcome::Suppressed,
                "the schedule moved after the snooze",
                now,
            ));
        }
        due_at = upcoming.slot.offset.due(start);
        if due_at > now {
            // Moved later (its event is on the way) or confirmed for later: wait for the real time.
            return Check::Plan(Plan::Release {
                upcoming,
                next_attempt_at: due_at,
                due_at,
                confirmed: Some(Confirmed {
                    start_at: start,
                    title,
                }),
                sends: None,
            });
        }
        if now > later(due_at, grace) {
            return Check::Plan(Plan::finish(
                upcoming,
                Outcome::Expired,
                "the reminder's time is past the grace window",
                now,
            ));
        }
    }
    Check::Send(Due::new(upcoming, start, due_at, &title))
}

/// The re-check could not be made (`error`): look again at `next_attempt_at` (the backoff after this claim's
/// attempt), or give up as failed when that is past the grace window.
pub fn recheck_failed(
    upcoming: Upcoming,
    next_attempt_at: Timestamp,
    grace: Duration,
    error: &str,
    now: Timestamp,
) -> Plan {
    if next_attempt_at > later(upcoming.due_at, grace) {
        let detail = format!("the schedule could not be re-checked: {error}");
        return Plan::finish(upcoming, Outcome::Failed, &detail, now);
    }
    Plan::Release {
        due_at: upcoming.due_at,
        upcoming,
        next_attempt_at,
        confirmed: None,
        sends: None,
    }
}

/// One device of a notification being sent.
#[derive(Debug, Clone)]
pub struct Device {
    pub subscription: Arc<Subscription>,
    /// What an earlier attempt of this notification recorded for the device.
    pub previous: Option<Delivery>,
    /// This attempt's send and when it ended (none: not sent in this attempt).
    pub result: Option<(SendOutcome, Timestamp)>,
}

impl Device {
    /// Whether this attempt sends to the device: not when an earlier attempt's delivery is final.
    pub fn needs_send(&self) -> bool {
        !self.previous.as_ref().is_some_and(|p| p.status.is_final())
    }
}

/// A notification being sent: the start and message it announces, when it was due, and its devices.
#[derive(Debug)]
pub struct Due {
    pub upcoming: Upcoming,
    pub start: Timestamp,
    /// When it was meant to go out (lateness, the TTL and retries run from here).
    pub due_at: Timestamp,
    pub message: Arc<PushMessage>,
    pub devices: Vec<Device>,
    /// Delivery records of devices no longer subscribed (they still count for the outcome).
    pub orphans: Vec<Delivery>,
    /// Some sends were not started because the claim was running short.
    pub interrupted: bool,
}

impl Due {
    pub fn new(upcoming: Upcoming, start: Timestamp, due_at: Timestamp, title: &str) -> Self {
        let message = PushMessage::new(
            upcoming.schedule_id,
            title,
            start,
            upcoming.slot,
            &upcoming.idempotent_key,
        );
        Self {
            upcoming,
            start,
            due_at,
            message: Arc::new(message),
            devices: Vec::new(),
            orphans: Vec::new(),
            interrupted: false,
        }
    }

    /// The owner's current subscriptions become the devices, each with what an earlier attempt of this
    /// notification recorded for it (`previous`, by device); the rest of `previous` are orphans.
    pub fn add_devices(
        &mut self,
        subscriptions: &[Arc<Subscription>],
        mut previous: HashMap<DeviceId, Delivery>,
    ) {
        for subscription in subscriptions {
            self.devices.push(Device {
                previous: previous.remove(&subscription.device_id),
                subscription: Arc::clone(subscription),
                result: None,
            });
        }
        self.orphans = previous.into_values().collect();
    }
}

/// How long a push service should keep trying to deliver: until the grace window after `due_at` ends.
pub fn ttl(due_at: Timestamp, now: Timestamp, grace: Duration) -> Duration {
    let left = micros(grace)
        .saturating_add(due_at.as_microsecond())
        .saturating_sub(now.as_microsecond())
        .max(0);
    Duration::from_micros(u64::try_from(left).unwrap_or(0))
}

/// How long after its claim a dispatcher may still start a send: a send takes at most `push_timeout`, and
/// recording the results a little more; after the lease another replica may claim the notification.
pub fn send_deadline(lease: Duration, push_timeout: Duration) -> Duration {
    let margin = push_timeout + (lease / 4).max(Duration::from_secs(1));
    lease.saturating_sub(margin)
}

/// Turns a notification's device results into their delivery records and a plan. `backoff(n)` is the wait
/// before a device's attempt `n + 1`.
pub fn settle(
    due: Due,
    now: Timestamp,
    grace: Duration,
    backoff: &dyn Fn(u32) -> Duration,
) -> Plan {
    let mut tally = Tally::default();
    let retry = Retry {
        now,
        grace_end: later(due.due_at, grace),
        backoff,
    };
    for device in &due.devices {
        tally.device(&due, device, &retry);
    }
    for orphan in &due.orphans {
        tally.count(orphan.status == DeliveryStatus::Sent);
    }
    tally.plan(due, now)
}

/// When a device's transient failure is tried again.
struct Retry<'a> {
    now: Timestamp,
    grace_end: Timestamp,
    backoff: &'a dyn Fn(u32) -> Duration,
}

impl Retry<'_> {
    /// The next attempt after a failure at `at` (the `attempts`-th), or `None` when it would fall after the
    /// grace window.
    fn next(
        &self,
        attempts: i64,
        at: Timestamp,
        retry_after: Option<Duration>,
    ) -> Option<Timestamp> {
        let backoff = (self.backoff)(u32::try_from(attempts).unwrap_or(u32::MAX));
        let wait = retry_after.map_or(backoff, |after| after.max(backoff));
        Some(later(self.now.max(at), wait)).filter(|next| *next <= self.grace_end)
    }
}

/// A notification's devices, counted as their results settle.
#[derive(Default)]
struct Tally {
    sends: SendResults,
    next_retry: Option<Timestamp>,
    devices: i64,
    delivered: i64,
    last_reason: Option<String>,
}

impl Tally {
    fn count(&mut self, delivered: bool) {
        self.devices += 1;
        self.delivered += i64::from(delivered);
    }

    /// One device: its result in this attempt becomes its delivery record; a device not sent to in this
    /// attempt counts as what it was.
    fn device(&mut self, due: &Due, device: &Device, retry: &Retry<'_>) {
        let Some((result, at)) = &device.result else {
            let sent = device.previous.as_ref().map(|p| p.status) == Some(DeliveryStatus::Sent);
            self.count(sent);
            return;
        };
        let mut delivery = delivery(due, device, result);
        let subscription = &device.subscription;
        match result {
            SendOutcome::Sent { .. } => {
                delivery.sent_at = Some(*at);
                self.sends.touched.push(subscription.id);
            }
            SendOutcome::Gone { .. } => {
                let address = subscription.target.address().to_string();
                self.sends.gone.push((subscription.id, address));
            }
            SendOutcome::Failed { .. } => {}
            SendOutcome::Refused { .. } => {
                let address = subscription.target.address().to_string();
                self.sends.refused.push((subscription.id, address));
            }
            SendOutcome::Retry { retry_after, .. } => {
                match retry.next(delivery.attempts, *at, *retry_after) {
                    Some(next) => {
                        delivery.next_attempt_at = Some(next);
                        self.next_retry = Some(self.next_retry.map_or(next, |n| n.min(next)));
                    }
                    None => {
                        delivery.status = DeliveryStatus::Failed;
                        delivery.last_error = Some(format!(
                            "{}; gave up: the grace window ends before the next attempt",
                            result.reason().unwrap_or("")
                        ));
                    }
                }
            }
        }
        self.count(delivery.status == DeliveryStatus::Sent);
        if delivery.status == DeliveryStatus::Failed {
            self.last_reason = delivery.last_error.clone();
        }
        self.sends.deliveries.push(delivery);
    }

    /// Interrupted: record what was sent; some device retrying: give the notification back for the earliest
    /// retry; otherwise it is finished, with the outcome its devices add up to.
    fn plan(self, due: Due, now: Timestamp) -> Plan {
        if due.interrupted {
            return Plan::Interrupted {
                schedule_id: due.upcoming.schedule_id,
                sends: self.sends,
            };
        }
        if let Some(next_attempt_at) = self.next_retry {
            return Plan::Release {
                due_at: due.due_at,
                confirmed: Some(Confirmed {
                    start_at: due.start,
                    title: due.message.title().to_string(),
                }),
                upcoming: due.upcoming,
                next_attempt_at,
                sends: Some(self.sends),
            };
        }
        let outcome = Outcome::of(self.devices, self.delivered);
        let detail = match outcome {
            Outcome::NoDevices => Some("the member has no push subscription".to_string()),
            Outcome::Delivered => None,
            _ => self.last_reason,
        };
        let mut record = OutcomeRecord::new(&due.upcoming, due.start, outcome, detail, now);
        record.devices = self.devices;
        record.delivered = self.delivered;
        Plan::Finish {
            upcoming: due.upcoming,
            outcome: record,
            sends: Some(self.sends),
        }
    }
}

/// A device's delivery record after this attempt's `result`.
fn delivery(due: &Due, device: &Device, result: &SendOutcome) -> Delivery {
    Delivery {
        idempotent_key: due.upcoming.idempotent_key.clone(),
        device_id: device.subscription.device_id.clone(),
        schedule_id: due.upcoming.schedule_id,
        owner_id: due.upcoming.owner_id,
        kind: device.subscription.target.kind(),
        status: result.status(),
        attempts: device.previous.as_ref().map_or(0, |p| p.attempts) + 1,
        last_http_status: result.http_status(),
        last_error: result
            .reason()
            .map(|r| r.chars().take(MAX_ERROR_CHARS).collect()),
        next_attempt_at: None,
        start_at: due.start,
        sent_at: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::schedule::ScheduleBasics;
    use crate::domain::subscription::PushTarget;

    const GRACE: Duration = Duration::from_secs(600);

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn upcoming(start: Timestamp) -> Upcoming {
        Upcoming {
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            title: "stored".into(),
            start_at: start,
            slot: crate::domain::Slot::planned(crate::domain::Offset::AT_START),
            due_at: start,
            resolved: true,
            idempotent_key: NotificationKey::from("k"),
            next_attempt_at: start,
            attempts: 1,
            lease_owner: Some("d".into()),
        }
    }

    fn snapshot(start: Timestamp, state: Option<ScheduleState>) -> ScheduleSnapshot {
        ScheduleSnapshot {
            basics: ScheduleBasics {
                schedule_id: ScheduleId(7),
                owner_id: MemberId(3),
                title: "current".into(),
                start_time: start,
            },
            state,
        }
    }

    fn device(name: &str, id: i64) -> Arc<Subscription> {
        Arc::new(Subscription {
            id: SubscriptionId(id),
            member_id: MemberId(3),
            device_id: DeviceId::parse(Some(name)).unwrap(),
            target: PushTarget::Fcm {
                token: format!("token-{name}"),
            },
        })
    }

    fn no_backoff(_: u32) -> Duration {
        Duration::from_secs(1)
    }

    fn finished(plan: &Plan) -> &OutcomeRecord {
        match plan {
            Plan::Finish { outcome, .. } => outcome,
            other => panic!("not finished: {other:?}"),
        }
    }

    #[test]
    fn the_outcome_follows_how_many_devices_accepted() {
        assert_eq!(Outcome::of(0, 0), Outcome::NoDevices);
        assert_eq!(Outcome::of(2, 2), Outcome::Delivered);
        assert_eq!(Outcome::of(3, 1), Outcome::Partial);
        assert_eq!(Outcome::of(3, 0), Outcome::Failed);
        for o in [Outcome::Delivered, Outcome::Expired, Outcome::NoDevices] {
            assert_eq!(Outcome::parse(o.as_str()), Some(o));
        }
        assert!(!Outcome::Suppressed.marks_fired() && Outcome::Expired.marks_fired());
        assert!(!Outcome::Delivered.abandons_retries() && Outcome::Partial.abandons_retries());
    }

    #[test]
    fn a_notification_found_after_the_grace_window_expires() {
        let start = at("2026-02-08T01:00:00Z");
        assert!(matches!(
            catch_up(upcoming(start), later(start, GRACE), GRACE),
            CatchUp::Due(_)
        ));
        let late = later(start, GRACE + Duration::from_secs(1));
        let CatchUp::Expired(plan) = catch_up(upcoming(start), late, GRACE) else {
            panic!("still due")
        };
        assert_eq!(finished(&plan).outcome, Outcome::Expired);
    }

    #[test]
    fn the_recheck_suppresses_moves_or_sends() {
        let start = at("2026-02-08T01:00:00Z");
        let now = start;
        let gone = recheck(upcoming(start), None, now, GRACE);
        assert!(matches!(&gone, Check::Plan(p) if finished(p).outcome == Outcome::Suppressed));
        let started = snapshot(start, Some(ScheduleState::InProgress));
        let Check::Plan(plan) = recheck(upcoming(start), Some(&started), now, GRACE) else {
            panic!()
        };
        assert_eq!(
            finished(&plan).detail.as_deref(),
            Some("the schedule is IN_PROGRESS")
        );
        let moved = snapshot(later(start, Duration::from_secs(3600)), None);
        let Check::Plan(Plan::Release {
            next_attempt_at,
            confirmed,
            ..
        }) = recheck(upcoming(start), Some(&moved), now, GRACE)
        else {
            panic!()
        };
        assert_eq!(next_attempt_at, moved.basics.start_time);
        assert_eq!(confirmed.unwrap().title, "current");
        let Check::Send(due) = recheck(
            upcoming(start),
            Some(&snapshot(start, Some(ScheduleState::NotStarted))),
            now,
            GRACE,
        ) else {
            panic!()
        };
        assert_eq!((due.start, due.message.title()), (start, "current"));
    }

    #[test]
    fn a_moved_reminder_waits_for_its_offset_and_a_moved_snooze_is_dropped() {
        use crate::domain::{Offset, Slot};
        let start = at("2026-02-08T01:00:00Z");
        let ten = Slot::planned(Offset::from_seconds(-600).unwrap());
        let lead = Upcoming {
            slot: ten,
            due_at: at("2026-02-08T00:50:00Z"),
            ..upcoming(start)
        };
        let now = lead.due_at;
        let moved_start = later(start, Duration::from_secs(3600));
        let moved = snapshot(moved_start, Some(ScheduleState::NotStarted));
        let Check::Plan(Plan::Release {
            next_attempt_at,
            due_at,
            ..
        }) = recheck(lead.clone(), Some(&moved), now, GRACE)
        else {
            panic!()
        };
        assert_eq!(
            (next_attempt_at, due_at),
            (at("2026-02-08T01:50:00Z"), at("2026-02-08T01:50:00Z"))
        );
        // Moved a few minutes earlier: ten minutes before the new start has just passed — sent now, due then.
        let earlier_start = at("2026-02-08T00:58:00Z");
        let Check::Send(due) = recheck(
            lead.clone(),
            Some(&snapshot(earlier_start, Some(ScheduleState::NotStarted))),
            now,
            GRACE,
        ) else {
            panic!()
        };
        assert_eq!(
            (due.start, due.due_at),
            (earlier_start, at("2026-02-08T00:48:00Z"))
        );
        let snoozed = Upcoming {
            slot: Slot { snooze: 1, ..ten },
            ..lead
        };
        let Check::Plan(plan) = recheck(snoozed, Some(&moved), now, GRACE) else {
            panic!()
        };
        assert_eq!(finished(&plan).outcome, Outcome::Suppressed);
    }

    #[test]
    fn quiet_hours_hold_to_their_end_or_drop() {
        let start = at("2026-02-08T01:00:00Z");
        let end = at("2026-02-08T07:00:00Z");
        let Err(plan) = quiet(upcoming(start), QuietVerdict::Hold(end), start) else {
            panic!()
        };
        assert!(
            matches!(*plan, Plan::Release { next_attempt_at, due_at, .. } if next_attempt_at == end && due_at == end)
        );
        let Err(plan) = quiet(upcoming(start), QuietVerdict::Drop, start) else {
            panic!()
        };
        assert_eq!(finished(&plan).outcome, Outcome::Quiet);
        assert!(Outcome::Quiet.marks_fired() && Outcome::Quiet.abandons_retries());
        assert!(quiet(upcoming(start), QuietVerdict::Send, start).is_ok());
    }

    #[test]
    fn a_failed_recheck_retries_inside_the_grace_window_only() {
        let start = at("2026-02-08T01:00:00Z");
        let soon = later(start, Duration::from_secs(5));
        assert!(matches!(
            recheck_failed(upcoming(start), soon, GRACE, "down", start),
            Plan::Release { next_attempt_at, .. } if next_attempt_at == soon
        ));
        let too_late = later(start, GRACE + Duration::from_secs(1));
        let plan = recheck_failed(upcoming(start), too_late, GRACE, "down", start);
        assert_eq!(
            finished(&plan).detail.as_deref(),
            Some("the schedule could not be re-checked: down")
        );
    }

    #[test]
    fn final_deliveries_are_not_sent_again_and_orphans_count() {
        let start = at("2026-02-08T01:00:00Z");
        let mut due = Due::new(upcoming(start), start, start, "t");
        let record = |name: &str, status| Delivery {
            idempotent_key: NotificationKey::from("k"),
            device_id: DeviceId::parse(Some(name)).unwrap(),
            schedule_id: ScheduleId(7),
            owner_id: MemberId(3),
            kind: PushKind::Fcm,
            status,
            attempts: 1,
            last_http_status: None,
            last_error: None,
            next_attempt_at: None,
            start_at: start,
            sent_at: None,
        };
        let previous = HashMap::from([
            (
                DeviceId::parse(Some("sent")).unwrap(),
                record("sent", DeliveryStatus::Sent),
            ),
            (
                DeviceId::parse(Some("retry")).unwrap(),
                record("retry", DeliveryStatus::Retrying),
            ),
            (
                DeviceId::parse(Some("old")).unwrap(),
                record("old", DeliveryStatus::Sent),
            ),
        ]);
        due.add_devices(
            &[device("sent", 1), device("retry", 2), device("new", 3)],
            previous,
        );
        let sends: Vec<bool> = due.devices.iter().map(Device::needs_send).collect();
        assert_eq!(sends, [false, true, true]);
        assert_eq!(due.orphans.len(), 1);
        for d in due.devices.iter_mut().filter(|d| d.needs_send()) {
            d.result = Some((SendOutcome::Sent { status: 201 }, start));
        }
        let plan = settle(due, start, GRACE, &no_backoff);
        let o = finished(&plan);
        assert_eq!(
            (o.outcome, o.devices, o.delivered),
            (Outcome::Delivered, 4, 4)
        );
        assert_eq!(plan.sends().unwrap().deliveries.len(), 2);
    }

    #[test]
    fn retries_wait_for_retry_after_and_give_up_at_the_end_of_the_grace_window() {
        let start = at("2026-02-08T01:00:00Z");
        let mut due = Due::new(upcoming(start), start, start, "t");
        due.add_devices(&[device("busy", 1), device("late", 2)], HashMap::new());
        due.devices[0].result = Some((
            SendOutcome::Retry {
                status: Some(429),
                retry_after: Some(Duration::from_secs(30)),
                reason: "slow down".into(),
            },
            start,
        ));
        due.devices[1].result = Some((
            SendOutcome::Retry {
                status: Some(503),
                retry_after: Some(GRACE * 2),
                reason: "down".into(),
            },
            start,
        ));
        let Plan::Release {
            next_attempt_at,
            sends: Some(sends),
            ..
        } = settle(due, start, GRACE, &no_backoff)
        else {
            panic!()
        };
        assert_eq!(next_attempt_at, later(start, Duration::from_secs(30)));
        assert_eq!(sends.deliveries[0].status, DeliveryStatus::Retrying);
        assert_eq!(sends.deliveries[1].status, DeliveryStatus::Failed);
        assert!(
            sends.deliveries[1]
                .last_error
                .as_deref()
                .unwrap()
                .contains("grace")
        );
    }

    #[test]
    fn a_send_refused_by_the_ssrf_guard_is_final_and_counts_towards_removal() {
        let start = at("2026-02-08T01:00:00Z");
        let mut due = Due::new(upcoming(start), start, start, "t");
        due.add_devices(&[device("private", 1), device("ok", 2)], HashMap::new());
        let refused = SendOutcome::Refused {
            reason: "internal.example has no public address".into(),
        };
        assert_eq!(refused.label(), "refused");
        assert_eq!(refused.status(), DeliveryStatus::Failed);
        due.devices[0].result = Some((refused, start));
        due.devices[1].result = Some((SendOutcome::Sent { status: 201 }, start));
        // Not retried: the notification finishes at once (a retry would give it back for later).
        let plan = settle(due, start, GRACE, &no_backoff);
        let o = finished(&plan);
        assert_eq!(
            (o.outcome, o.devices, o.delivered),
            (Outcome::Partial, 2, 1)
        );
        let sends = plan.sends().unwrap();
        assert_eq!(sends.deliveries[0].status, DeliveryStatus::Failed);
        assert_eq!(sends.deliveries[0].next_attempt_at, None);
        assert!(
            sends.deliveries[0]
                .last_error
                .as_deref()
                .unwrap()
                .contains("no public address")
        );
        assert_eq!(
            sends.refused,
            vec![(SubscriptionId(1), "token-private".into())]
        );
        assert!(sends.gone.is_empty());
        // Removed on the third refusal in a row, not before.
        assert!(!removes_after_refusals(1) && !removes_after_refusals(2));
        assert!(removes_after_refusals(3) && removes_after_refusals(4));
    }

    #[test]
    fn the_ttl_ends_with_the_grace_window_and_sends_stop_before_the_lease() {
        let start = at("2026-02-08T01:00:00Z");
        assert_eq!(ttl(start, start, GRACE), GRACE);
        assert_eq!(ttl(start, later(start, GRACE * 2), GRACE), Duration::ZERO);
        assert_eq!(
            send_deadline(Duration::from_secs(60), Duration::from_secs(10)),
            Duration::from_secs(35)
        );
        assert_eq!(
            send_deadline(Duration::from_secs(2), Duration::from_secs(3)),
            Duration::ZERO
        );
    }
}
