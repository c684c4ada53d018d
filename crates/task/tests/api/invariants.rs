//! Random sequences of use cases against the real stores (both databases), checking after every step
//! what must always hold: elapsed time is never negative, at most one schedule holds the running slot
//! and the member's slot names it, and every statistics bucket equals the sum of the elapsed times of
//! the COMPLETED schedules recorded into it (per type), never negative.

use std::collections::BTreeMap;

use pinit_kernel::Backend;
use pinit_task::AppError;
use pinit_task::domain::{
    Description, MemberId, ScheduleDraft, ScheduleId, ScheduleType, TaskId, Title,
};
use pinit_testkit::both_backends;
use sqlx::Row;

use crate::support::{App, spawn_app};

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const ZONES: [&str; 4] = ["Asia/Seoul", "Europe/Berlin", "America/New_York", "UTC"];
const TYPES: [ScheduleType; 3] = [
    ScheduleType::DeepWork,
    ScheduleType::AdminTask,
    ScheduleType::QuickTask,
];

/// A refusal the rules allow (409/404/400); anything else fails the test.
fn expected(result: Result<(), AppError>) {
    match result {
        Ok(())
        | Err(AppError::Schedule(_))
        | Err(AppError::Task(_))
        | Err(AppError::ScheduleNotFound(_))
        | Err(AppError::TaskNotFound(_)) => {}
        Err(other) => panic!("unexpected failure: {other:?}"),
    }
}

async fn check(app: &App, m: i64, step: usize) {
    let pool = app.db.pool();
    let rows = sqlx::query(
        "SELECT schedule_id, schedule_type, state, elapsed_us, stats_week_start, stats_week_zone_id \
         FROM schedule WHERE owner_id = $1",
    )
    .bind(m)
    .fetch_all(pool)
    .await
    .unwrap();
    let mut holders = Vec::new();
    let mut expected_buckets: BTreeMap<(String, String), [i64; 3]> = BTreeMap::new();
    for r in &rows {
        let id: i64 = r.get(0);
        let kind: String = r.get(1);
        let state: String = r.get(2);
        let elapsed: i64 = r.get(3);
        assert!(elapsed >= 0, "step {step}: negative elapsed on {id}");
        if state == "IN_PROGRESS" || state == "SUSPENDED" {
            holders.push(id);
        }
        if state == "COMPLETED" {
            let key = (r.get::<String, _>(4), r.get::<String, _>(5));
            let b = expected_buckets.entry(key).or_default();
            match kind.as_str() {
                "DEEP_WORK" => b[0] += elapsed,
                "ADMIN_TASK" => b[1] += elapsed,
                _ => {}
            }
            b[2] += elapsed;
        }
    }
    assert!(
        holders.len() <= 1,
        "step {step}: several running: {holders:?}"
    );
    let slot: Option<i64> =
        sqlx::query("SELECT now_running_schedule_id FROM member WHERE member_id = $1")
            .bind(m)
            .fetch_one(pool)
            .await
            .unwrap()
            .get(0);
    assert_eq!(
        slot,
        holders.first().copied(),
        "step {step}: the slot names the holder"
    );
    let stats = sqlx::query(
        "SELECT week_start, zone_id, deep_work_us, admin_work_us, total_work_us FROM statistics WHERE member_id = $1",
    )
    .bind(m)
    .fetch_all(pool)
    .await
    .unwrap();
    for r in &stats {
        let key = (r.get::<String, _>(0), r.get::<String, _>(1));
        let got = [r.get::<i64, _>(2), r.get::<i64, _>(3), r.get::<i64, _>(4)];
        assert!(
            got.iter().all(|v| *v >= 0),
            "step {step}: negative bucket {key:?}"
        );
        let want = expected_buckets.remove(&key).unwrap_or_default();
        assert_eq!(got, want, "step {step}: bucket {key:?}");
    }
    for (key, want) in expected_buckets {
        assert_eq!(want, [0, 0, 0], "step {step}: missing bucket {key:?}");
    }
}

async fn random_operations_keep_the_invariants(backend: Backend) {
    let app = spawn_app(backend).await;
    let m = app.member(1, None).await;
    let member = MemberId(m);
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (backend as u64 + 1));
    let task = TaskId(app.task(m, "linked", "2026-02-03", "Asia/Seoul").await);
    let start: jiff::Timestamp = "2026-02-01T03:00:00Z".parse().unwrap();
    let mut schedules: Vec<ScheduleId> = Vec::new();
    let draft = |rng: &mut Rng| {
        ScheduleDraft::new(
            Title::parse("s").unwrap(),
            Description::parse("d").unwrap(),
            TYPES[rng.below(3) as usize],
            start,
        )
    };
    for _ in 0..3 {
        let d = draft(&mut rng);
        schedules.push(
            app.app
                .create_schedule(member, d)
                .await
                .unwrap()
                .schedule
                .id(),
        );
    }
    let linked = app
        .app
        .schedule_task(
            member,
            task,
            None,
            None,
            ScheduleType::DeepWork,
            start,
            None,
            None,
        )
        .await
        .unwrap()
        .schedule
        .id();
    schedules.push(linked);

    let mut successes = 0;
    for step in 0..200 {
        // Time moves: often minutes, sometimes days (week and DST boundaries get crossed).
        match rng.below(10) {
            0 => app.advance_secs(rng.below(3 * 24 * 3600) as i64),
            1..=6 => app.advance_secs(rng.below(3600) as i64),
            _ => {}
        }
        let s = schedules[rng.below(schedules.len() as u64) as usize];
        let result = match rng.below(14) {
            0..=2 => app.app.start_schedule(member, s).await,
            3..=4 => app.app.suspend_schedule(member, s).await,
            5..=7 => app.app.complete_schedule(member, s).await,
            8..=9 => app.app.cancel_schedule(member, s).await,
            10 => app.app.complete_task(member, task).await,
            11 => app.app.reopen_task(member, task).await,
            12 => app
                .app
                .set_zone(member, ZONES[rng.below(4) as usize])
                .await
                .map(|_| ()),
            _ => {
                // Delete one (if allowed) and create a fresh one in its place.
                let r = app
                    .app
                    .delete_schedule(member, s, pinit_task::domain::Scope::This)
                    .await;
                if r.is_ok() && s != linked {
                    schedules.retain(|x| *x != s);
                    let d = draft(&mut rng);
                    schedules.push(
                        app.app
                            .create_schedule(member, d)
                            .await
                            .unwrap()
                            .schedule
                            .id(),
                    );
                }
                r
            }
        };
        if result.is_ok() {
            successes += 1;
        }
        expected(result);
        check(&app, m, step).await;
    }
    let completions: i64 = sqlx::query(
        "SELECT COUNT(*) FROM messaging_outbox WHERE routing_key = 'schedule.state.completed'",
    )
    .fetch_one(app.db.pool())
    .await
    .unwrap()
    .get(0);
    assert!(
        successes > 60 && completions > 10,
        "a meaningful run: {successes} ok, {completions} completions"
    );
}

both_backends!(random_operations_keep_the_invariants);
