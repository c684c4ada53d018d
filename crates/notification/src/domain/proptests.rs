//! Property tests of the delivery and arming rules, without a database or a sender.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use proptest::prelude::*;

use super::arming::{self, Arming, Lookup};
use super::delivery::{self, Check, Delivery, Due, Plan, SendOutcome};
use super::reminder::{Offset, Slot};
use super::schedule::{ScheduleBasics, ScheduleKey, ScheduleSnapshot, ScheduleState};
use super::subscription::{DeviceId, PushTarget, Subscription};
use super::{
    MemberId, NotificationKey, ScheduleChange, ScheduleEvent, ScheduleId, SubscriptionId, Upcoming,
    Watermark, later,
};

const GRACE: Duration = Duration::from_secs(600);

fn t0() -> Timestamp {
    Timestamp::from_second(1_770_512_400).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn secs(at: i64) -> Timestamp {
    Timestamp::from_second(t0().as_second() + at).unwrap_or(Timestamp::UNIX_EPOCH)
}

fn upcoming(start: Timestamp, resolved: bool) -> Upcoming {
    Upcoming {
        schedule_id: ScheduleId(7),
        owner_id: MemberId(3),
        title: "t".into(),
        start_at: start,
        slot: Slot::planned(Offset::AT_START),
        due_at: start,
        resolved,
        idempotent_key: NotificationKey::from("k"),
        next_attempt_at: start,
        attempts: 1,
        lease_owner: Some("d".into()),
    }
}

fn subscriptions(n: usize) -> Vec<Arc<Subscription>> {
    (0..n)
        .map(|i| {
            Arc::new(Subscription {
                id: SubscriptionId(i as i64),
                member_id: MemberId(3),
                device_id: DeviceId::parse(Some(&format!("device-{i}"))).unwrap(),
                target: PushTarget::Fcm {
                    token: format!("token-{i}"),
                },
            })
        })
        .collect()
}

fn send_outcome(code: u8) -> SendOutcome {
    match code % 5 {
        0 => SendOutcome::Sent { status: 201 },
        1 => SendOutcome::Gone {
            status: 410,
            reason: "gone".into(),
        },
        2 => SendOutcome::Retry {
            status: Some(503),
            retry_after: None,
            reason: "busy".into(),
        },
        3 => SendOutcome::Failed {
            status: Some(400),
            reason: "refused".into(),
        },
        _ => SendOutcome::Refused {
            reason: "no public address".into(),
        },
    }
}

fn state(code: u8) -> Option<ScheduleState> {
    match code % 5 {
        0 => None,
        1 => Some(ScheduleState::NotStarted),
        2 => Some(ScheduleState::InProgress),
        3 => Some(ScheduleState::Suspended),
        _ => Some(ScheduleState::Completed),
    }
}

proptest! {
    /// Attempt after attempt (each device answering anything), a device is never sent to again once its
    /// delivery is final, so it accepts the notification at most once; and the outcome counts what happened.
    #[test]
    fn at_most_one_accepted_send_per_device_and_none_after_a_final_delivery(
        devices in 0usize..5,
        rounds in prop::collection::vec(prop::collection::vec(any::<u8>(), 5), 1..8),
    ) {
        let subs = subscriptions(devices);
        let start = t0();
        let mut previous: HashMap<DeviceId, Delivery> = HashMap::new();
        let mut accepted: HashMap<DeviceId, usize> = HashMap::new();
        let mut finished = None;
        for (round, answers) in rounds.iter().enumerate() {
            let now = later(start, Duration::from_secs(round as u64));
            let mut due = Due::new(upcoming(start, true), start, start, "t");
            due.add_devices(&subs, previous.clone());
            for (i, device) in due.devices.iter_mut().enumerate() {
                if !device.needs_send() {
                    continue;
                }
                let earlier = previous.get(&device.subscription.device_id);
                prop_assert!(earlier.is_none_or(|d| !d.status.is_final()), "sent after {earlier:?}");
                let outcome = send_outcome(answers[i]);
                if outcome == (SendOutcome::Sent { status: 201 }) {
                    *accepted.entry(device.subscription.device_id.clone()).or_default() += 1;
                }
                device.result = Some((outcome, now));
            }
            let plan = delivery::settle(due, now, GRACE, &|_| Duration::from_secs(1));
            for d in plan.sends().map(|s| s.deliveries.clone()).unwrap_or_default() {
                previous.insert(d.device_id.clone(), d);
            }
            if let Plan::Finish { outcome, .. } = plan {
                finished = Some(outcome);
                break;
            }
        }
        prop_assert!(accepted.values().all(|n| *n <= 1), "{accepted:?}");
        if let Some(outcome) = finished {
            prop_assert_eq!(outcome.devices, devices as i64);
            prop_assert_eq!(outcome.delivered, accepted.len() as i64);
            prop_assert_eq!(outcome.outcome, delivery::Outcome::of(outcome.devices, outcome.delivered));
        }
    }

    /// Whatever the task service answers, a schedule that is missing, started, suspended or completed at the
    /// re-check is never sent; a moved (or unconfirmed) one is sent only at its new start, never before it.
    #[test]
    fn the_recheck_never_sends_a_stale_or_early_notification(
        exists in any::<bool>(),
        state_code in any::<u8>(),
        resolved in any::<bool>(),
        stored_start in -1_000i64..1_000,
        current_start in -1_000i64..1_000,
        now in -1_000i64..1_000,
    ) {
        let snapshot = exists.then(|| ScheduleSnapshot {
            basics: ScheduleBasics {
                schedule_id: ScheduleId(7),
                owner_id: MemberId(3),
                title: "t".into(),
                start_time: secs(current_start),
            },
            state: state(state_code),
        });
        let moved = !resolved || stored_start != current_start;
        match delivery::recheck(upcoming(secs(stored_start), resolved), snapshot.as_ref(), secs(now), GRACE) {
            Check::Send(due) => {
                let s = snapshot.as_ref().expect("sent for a missing schedule");
                prop_assert!(matches!(s.state, None | Some(ScheduleState::NotStarted)), "{:?}", s.state);
                prop_assert_eq!(due.start, secs(current_start));
                prop_assert!(!(moved && current_start > now), "sent before its new start");
            }
            Check::Plan(Plan::Release { next_attempt_at, .. }) => {
                prop_assert!(moved);
                prop_assert_eq!(next_attempt_at, secs(current_start));
            }
            Check::Plan(_) => {}
        }
    }

    /// Events of one schedule in any order: once its deletion is applied nothing arms it again, and an event
    /// older than one applied changes nothing.
    #[test]
    fn late_events_never_resurrect_a_deleted_schedule(
        events in prop::collection::vec((0u8..5, 1i64..20, -100i64..100), 1..12),
    ) {
        let key = ScheduleKey { schedule_id: ScheduleId(7), owner_id: MemberId(3) };
        let now = t0();
        let mut watermark = Watermark::default();
        let mut pending: Vec<Upcoming> = Vec::new();
        let mut deleted = false;
        for (i, (change, version, start)) in events.into_iter().enumerate() {
            let change = ScheduleChange::ALL[usize::from(change)];
            let event = ScheduleEvent {
                change,
                schedule: key,
                id: NotificationKey::from(format!("e{i}").as_str()),
                version: Some(version),
                occurred_at: None,
                new_start: Some(secs(start)),
                reminders: vec![Offset::from_seconds(-60).unwrap_or(Offset::AT_START), Offset::AT_START],
            };
            let before = watermark.clone();
            if !watermark.admit(&event) {
                prop_assert!(deleted || before.version > Some(version));
                prop_assert_eq!(&watermark, &before, "a refused event changed the watermark");
                continue;
            }
            let decision = match change {
                ScheduleChange::UpcomingUpdated => {
                    arming::on_upcoming(&event, secs(start), &pending, &[], now, GRACE)
                }
                ScheduleChange::Canceled => arming::on_canceled(&pending).unwrap_or_else(|| {
                    let basics = ScheduleBasics {
                        schedule_id: key.schedule_id,
                        owner_id: key.owner_id,
                        title: "t".into(),
                        start_time: secs(start),
                    };
                    arming::rearm(&event, Lookup::Found(basics), &watermark, &[], now, GRACE)
                }),
                stop => arming::on_stop(stop),
            };
            match decision.arming {
                Arming::Change { arm, remove, .. } => {
                    pending.retain(|p| !remove.contains(&p.slot));
                    for arm in arm {
                        prop_assert!(!deleted, "armed after the deletion");
                        prop_assert!(
                            pending.iter().all(|p| p.slot != arm.slot),
                            "a slot armed twice"
                        );
                        pending.push(Upcoming {
                            start_at: arm.start_at,
                            slot: arm.slot,
                            due_at: arm.due,
                            resolved: arm.resolved,
                            idempotent_key: arm.idempotent_key,
                            next_attempt_at: arm.due,
                            ..upcoming(arm.start_at, arm.resolved)
                        });
                    }
                    // Every pending notification is for the event's start.
                    if change == ScheduleChange::UpcomingUpdated {
                        prop_assert!(pending.iter().all(|p| p.start_at == secs(start)));
                    }
                }
                Arming::Disarm { .. } => pending.clear(),
                Arming::Keep => {}
            }
            deleted |= change == ScheduleChange::Deleted;
        }
        prop_assert!(!deleted || pending.is_empty());
    }
}
