//! Recording a batch: one transaction, multi-row statements. Every send's result first (whatever becomes of
//! its notification, the sends happened), then the finished notifications and their outcomes, then the
//! releases. The schedules' watermark rows are locked first, in the order the event handlers take them (the
//! outcomes are what a later event re-announcing the same start checks, under that lock).

use std::collections::HashSet;

use jiff::Timestamp;
use pinit_kernel::db::{DbError, Tx};

use super::{Dispatcher, RoundReport};
use crate::domain::delivery::removes_after_refusals;
use crate::domain::{NotificationKey, OutcomeRecord, Plan, ScheduleId, SendResults, Upcoming};
use crate::store;
use crate::store::upcoming::Release;

impl Dispatcher {
    /// Writes what a batch's plans say, in one transaction.
    pub(super) async fn record(
        &self,
        plans: &[Plan],
        report: &mut RoundReport,
    ) -> Result<(), DbError> {
        if plans.is_empty() {
            return Ok(());
        }
        let db = self.app().db();
        let now = self.app().now();
        let mut tx = db.begin().await?;
        let ids: Vec<ScheduleId> = plans.iter().map(Plan::schedule_id).collect();
        store::watermarks::lock_many(&mut tx, db.backend(), &ids, now).await?;
        let sends: Vec<&SendResults> = plans.iter().filter_map(Plan::sends).collect();
        write_sends(&mut tx, &sends, now).await?;
        let finishing: Vec<_> = plans
            .iter()
            .filter_map(|p| match p {
                Plan::Finish { upcoming, .. } => Some(&upcoming.idempotent_key),
                _ => None,
            })
            .collect();
        let finished = store::upcoming::finish_many(&mut tx, &self.inner.id, &finishing).await?;
        let mut outcomes = Vec::with_capacity(finished.len());
        for plan in plans {
            if let Some(outcome) = self
                .write_plan(&mut tx, plan, &finished, now, report)
                .await?
            {
                outcomes.push(outcome);
            }
        }
        store::outcomes::record(&mut tx, &outcomes).await?;
        tx.commit().await?;
        // A retry or re-timing may be due before what the loop computed: look again.
        if report.released > 0 {
            self.app().signal().wake();
        }
        Ok(())
    }
}

impl Dispatcher {
    /// One plan's notification: finished (when its claim still held: it is in `finished`) — returns its
    /// outcome —, or given back for later.
    async fn write_plan(
        &self,
        tx: &mut Tx,
        plan: &Plan,
        finished: &HashSet<NotificationKey>,
        now: Timestamp,
        report: &mut RoundReport,
    ) -> Result<Option<OutcomeRecord>, DbError> {
        match plan {
            Plan::Finish {
                upcoming, outcome, ..
            } if finished.contains(&upcoming.idempotent_key) => {
                report.finished += 1;
                let outcome = finish(tx, upcoming, outcome, now).await?;
                self.app()
                    .queue_reminder_sent(tx, upcoming, &outcome)
                    .await?;
                return Ok(Some(outcome));
            }
            Plan::Release {
                upcoming,
                next_attempt_at,
                due_at,
                confirmed,
                ..
            } => {
                let release = Release {
                    upcoming,
                    owner: &self.inner.id,
                    next_attempt_at: *next_attempt_at,
                    due_at: *due_at,
                    confirmed: confirmed.as_ref(),
                };
                if store::upcoming::release(tx, release, now).await? {
                    report.released += 1;
                }
            }
            // Lost its claim (moved, re-armed, removed, expired), or interrupted: the sends are written.
            Plan::Finish { .. } | Plan::Interrupted { .. } => {}
        }
        Ok(None)
    }
}

/// The devices' delivery records, the gone subscriptions, the refusals, the successes.
async fn write_sends(tx: &mut Tx, sends: &[&SendResults], now: Timestamp) -> Result<(), DbError> {
    let deliveries: Vec<_> = sends
        .iter()
        .flat_map(|s| s.deliveries.iter().cloned())
        .collect();
    store::deliveries::save(tx, &deliveries, now).await?;
    for (id, address) in sends.iter().flat_map(|s| s.gone.iter()) {
        if store::subscriptions::delete_gone(tx, *id, address).await? {
            metrics::counter!("pinit_push_subscriptions_removed_total", "reason" => "gone")
                .increment(1);
            tracing::info!(subscription_id = %id, "push subscription gone; removed");
        }
    }
    for (id, address) in sends.iter().flat_map(|s| s.refused.iter()) {
        let Some(refusals) = store::subscriptions::count_refusal(tx, *id, address).await? else {
            continue;
        };
        if removes_after_refusals(refusals)
            && store::subscriptions::delete_gone(tx, *id, address).await?
        {
            metrics::counter!("pinit_push_subscriptions_removed_total", "reason" => "refused")
                .increment(1);
            tracing::info!(subscription_id = %id, refusals, "push endpoint has no public address; subscription removed");
        }
    }
    let touched: Vec<_> = sends
        .iter()
        .flat_map(|s| s.touched.iter().copied())
        .collect();
    store::subscriptions::touch_successes(tx, &touched, now).await
}

/// A finished notification (its row already deleted): devices still waiting for a retry give up; returns its
/// outcome as recorded now.
async fn finish(
    tx: &mut Tx,
    upcoming: &Upcoming,
    outcome: &OutcomeRecord,
    now: Timestamp,
) -> Result<OutcomeRecord, DbError> {
    let outcome = OutcomeRecord {
        finished_at: now,
        ..outcome.clone()
    };
    if outcome.outcome.abandons_retries() {
        let reason = outcome
            .detail
            .as_deref()
            .unwrap_or(outcome.outcome.as_str());
        store::deliveries::abandon_retries(tx, &upcoming.idempotent_key, reason, now).await?;
    }
    metrics::counter!("pinit_push_notifications_total", "outcome" => outcome.outcome.as_str())
        .increment(1);
    tracing::debug!(schedule_id = %upcoming.schedule_id, outcome = outcome.outcome.as_str(), detail = outcome.detail.as_deref().unwrap_or(""), "notification finished");
    Ok(outcome)
}
