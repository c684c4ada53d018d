//! What the notification service's metrics say, read as Prometheus renders them: the due backlog follows the
//! dispatcher within its refresh period, and stale events are counted (on SQLite and PostgreSQL).

mod support;

use std::time::{Duration, Instant};

use jiff::Timestamp;
use pinit_contracts::events::ScheduleState;
use pinit_kernel::Backend;
use pinit_notification::Settings;
use support::{Reply, id, secs, spawn_app, spawn_realtime_with, test_settings, upcoming};

/// The value of the sample `line_start` (metric name and labels as rendered), 0 when absent.
fn sample(line_start: &str) -> f64 {
    pinit_kernel::metrics::install()
        .render()
        .lines()
        .find_map(|l| l.strip_prefix(line_start)?.trim().parse().ok())
        .unwrap_or(0.0)
}

fn backlog() -> f64 {
    sample("pinit_push_due_backlog ")
}

/// The documented refresh: `pinit_push_due_backlog` is at most 5 s old — also when the dispatcher then has
/// nothing to do for a long time (it once kept the old value until its next safety poll, 30 s by default).
async fn the_due_backlog_is_refreshed_every_five_seconds(backend: Backend) {
    pinit_kernel::metrics::install();
    let app = spawn_realtime_with(
        backend,
        Settings {
            // One notification at a time, each send taking 1.5 s: the others wait, due, in the backlog.
            batch_size: 1,
            max_in_flight: 1,
            safety_poll: pinit_kernel::config::HumanDuration::from_secs(30),
            ..test_settings()
        },
    )
    .await;
    let owner = id();
    app.subscribe_browser(owner, "laptop").await;
    app.push
        .script("laptop", vec![Reply::Slow(Duration::from_millis(1500)); 4]);
    let start = Timestamp::now() + secs(1);
    for _ in 0..4 {
        let schedule = id();
        app.directory.put(
            schedule,
            owner,
            "deep work",
            start,
            ScheduleState::NotStarted,
        );
        app.publish_one(upcoming(schedule, owner, start, 1, Timestamp::now()))
            .await;
    }
    let stop = tokio_util::sync::CancellationToken::new();
    let running = tokio::spawn(app.dispatcher().run(stop.clone()));

    let mut highest = 0.0f64;
    let deadline = Instant::now() + Duration::from_secs(20);
    while app.push.delivered().len() < 4 {
        assert!(Instant::now() < deadline, "not all four were sent");
        highest = highest.max(backlog());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        highest >= 1.0,
        "the backlog was seen while notifications waited"
    );
    let sent = Instant::now();
    while backlog() != 0.0 {
        assert!(
            sent.elapsed() < Duration::from_secs(6),
            "the backlog still says {} {:?} after the last push went out",
            backlog(),
            sent.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    stop.cancel();
    running.await.unwrap().unwrap();
}

/// A stale event (an older version than one applied) is counted as `applied="stale"`.
async fn stale_events_are_counted(backend: Backend) {
    pinit_kernel::metrics::install();
    let app = spawn_app(backend).await;
    let stale = r#"pinit_notification_events_total{event="upcoming_updated",applied="stale"} "#;
    let before = sample(stale);
    let (schedule, owner) = (id(), id());
    let now = app.now();
    app.publish_one(upcoming(schedule, owner, now + secs(3600), 2, now))
        .await;
    app.publish_one(upcoming(schedule, owner, now + secs(60), 1, now + secs(1)))
        .await;
    assert_eq!(
        app.notification(schedule).await.unwrap().start_at,
        now + secs(3600),
        "the stale event changed nothing"
    );
    assert_eq!(sample(stale) - before, 1.0, "{stale}");
}

pinit_testkit::both_backends!(
    the_due_backlog_is_refreshed_every_five_seconds,
    stale_events_are_counted,
);
