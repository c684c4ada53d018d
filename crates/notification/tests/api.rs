//! The subscription endpoints over HTTP, on SQLite and PostgreSQL.

mod support;

use pinit_kernel::Backend;
use pinit_notification::domain::{MemberId, PushKind, PushTarget, Subscription, SubscriptionId};
use pinit_notification::store;
use serde_json::{Value, json};
use support::{id, secs, spawn_app};

async fn vapid_key_is_public_text(backend: Backend) {
    let app = spawn_app(backend).await;
    assert_eq!(
        app.get("/push/vapid", None).await.status(),
        404,
        "no deprecated aliases"
    );
    for path in ["/v0/push/vapid"] {
        let res = app.get(path, None).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/plain")
        );
        assert_eq!(res.text().await.unwrap(), app.app.vapid_public_key());
    }
    assert_eq!(app.app.vapid_public_key().len(), 87, "65 bytes, base64url");
}

async fn subscribed(app: &support::App, member: &str, device: &str) -> Value {
    let res = app
        .get(
            &format!("/v0/push/subscribed?deviceId={device}"),
            Some(member),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json"),
        "a JSON boolean, as the reference client parses it"
    );
    res.json::<Value>().await.unwrap()
}

async fn fcm_tokens_subscribe_resubscribe_and_unsubscribe(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id();
    let m = member.to_string();
    let device = "123e4567-e89b-12d3-a456-426614174000";
    assert_eq!(subscribed(&app, &m, device).await, json!(false));

    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&m),
            json!({"deviceId": device, "token": "fcm-token-1"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.text().await.unwrap(), "", "an empty body");
    assert_eq!(subscribed(&app, &m, device).await, json!(true));

    // Re-subscribing replaces the device's token (the reference silently kept the old one).
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&m),
            json!({"deviceId": device, "token": "fcm-token-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let subs = app.subscriptions(member).await;
    assert_eq!(subs.len(), 1, "one subscription per device");
    assert_eq!(subs[0].target.address(), "fcm-token-2");
    assert_eq!(subs[0].target.kind(), PushKind::Fcm);

    // A second device.
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&m),
            json!({"deviceId": "tablet", "token": "fcm-token-3"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.subscription_count(member).await, 2);

    // The same token subscribed by another member (a shared browser after a re-login) moves to them.
    let other = id();
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&other.to_string()),
            json!({"deviceId": device, "token": "fcm-token-2"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.subscription_count(member).await, 1);
    assert_eq!(app.subscription_count(other).await, 1);

    // Unsubscribe is by (member, device) and idempotent; the reference client also sends the token.
    for _ in 0..2 {
        let res = app
            .post(
                "/v0/push/unsubscribe",
                Some(&m),
                json!({"deviceId": "tablet", "token": "whatever"}),
            )
            .await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.text().await.unwrap(), "");
    }
    assert_eq!(app.subscription_count(member).await, 0);
    assert_eq!(app.subscription_count(other).await, 1);
}

async fn web_push_subscriptions_are_validated(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id();
    let m = member.to_string();
    let browser = app.subscribe_browser(member, "laptop").await;
    let subs = app.subscriptions(member).await;
    assert_eq!(subs[0].target.kind().as_str(), "webpush");
    assert_eq!(subs[0].target.address(), browser.endpoint);
    assert_eq!(p256dh(&subs[0]), Some(browser.p256dh.as_str()));

    // Switching the device from FCM to Web Push and back replaces its subscription.
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&m),
            json!({"deviceId": "laptop", "token": "fcm-now"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let subs = app.subscriptions(member).await;
    assert_eq!((subs.len(), subs[0].target.kind().as_str()), (1, "fcm"));
    assert_eq!(p256dh(&subs[0]), None);

    let bad = |body: Value| {
        let m = m.clone();
        let app = &app;
        async move {
            let res = app.post("/v0/push/subscribe", Some(&m), body).await;
            assert_eq!(res.status(), 400);
            let body: Value = res.json().await.unwrap();
            assert_eq!(body["status"], 400);
            assert_eq!(body["path"], "/v0/push/subscribe");
            body["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap().to_string(),
                        e["reason"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let keys = json!({"p256dh": browser.p256dh, "auth": browser.auth});
    let errors = bad(
        json!({"deviceId": "d", "subscription": {"endpoint": "ftp://x.example/1", "keys": keys}}),
    )
    .await;
    assert_eq!(errors[0].0, "subscription.endpoint");
    assert!(errors[0].1.contains("https"), "{errors:?}");
    let errors = bad(
        json!({"deviceId": "d", "subscription": {"endpoint": browser.endpoint,
        "keys": {"p256dh": "BAAA", "auth": browser.auth}}}),
    )
    .await;
    assert_eq!(errors[0].0, "subscription.keys.p256dh");
    assert!(errors[0].1.contains("65 bytes"), "{errors:?}");
    let errors = bad(
        json!({"deviceId": "d", "subscription": {"endpoint": browser.endpoint,
        "keys": {"p256dh": browser.p256dh, "auth": "c2hvcnQ"}}}),
    )
    .await;
    assert_eq!(errors[0].0, "subscription.keys.auth");
    let errors =
        bad(json!({"deviceId": "d", "subscription": {"endpoint": browser.endpoint}})).await;
    assert_eq!(errors.len(), 2, "{errors:?}");
    let errors = bad(json!({"deviceId": "", "token": "t"})).await;
    assert_eq!(errors[0].0, "deviceId");
    let errors = bad(json!({"deviceId": "d"})).await;
    assert_eq!(errors[0].0, "token");
    let errors =
        bad(json!({"deviceId": "d", "token": "t", "subscription": browser.subscription()})).await;
    assert!(errors[0].1.contains("not both"), "{errors:?}");
    let errors = bad(json!({"deviceId": "d", "token": "has spaces in it"})).await;
    assert_eq!(errors[0].0, "token");
    // `null` is not "left out": the document allows neither.
    let errors = bad(json!({"deviceId": "d", "token": "t", "subscription": null})).await;
    assert_eq!(
        errors,
        [("subscription".to_string(), "must not be null".to_string())]
    );
    let errors =
        bad(json!({"deviceId": "d", "token": null, "subscription": browser.subscription()})).await;
    assert_eq!(errors[0].0, "token");

    // Malformed JSON is a 400 in the same shape, never a 500.
    let res = app
        .server
        .client
        .post(app.url("/v0/push/subscribe"))
        .header("x-member-id", &m)
        .header("content-type", "application/json")
        .body("{nope")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body: Value = res.json().await.unwrap();
    assert!(body["message"].is_string());
}

async fn the_strict_policy_refuses_private_endpoints(backend: Backend) {
    let app = spawn_app(backend).await;
    let strict = pinit_notification::Notifications::new(
        app.db.clone(),
        pinit_kernel::SystemClock::shared(),
        pinit_notification::Settings {
            allow_insecure_endpoints: false,
            ..support::test_settings()
        },
        support::VAPID.clone(),
        app.directory.clone(),
    );
    let browser = app.push.browser("private");
    for endpoint in [
        browser.endpoint.clone(),
        "https://127.0.0.1/push/1".to_string(),
        "https://10.0.0.7/push/1".to_string(),
        "https://[::1]/push".to_string(),
        "https://metadata.google.internal/computeMetadata".to_string(),
    ] {
        let err = strict
            .subscribe(
                MemberId(1),
                pinit_notification::app::SubscribeInput {
                    device_id: Some("d".into()),
                    token: None,
                    subscription: Some(pinit_notification::app::WebPushInput {
                        endpoint: Some(endpoint.clone()),
                        p256dh: Some(browser.p256dh.clone()),
                        auth: Some(browser.auth.clone()),
                    }),
                },
            )
            .await
            .expect_err("refused");
        let pinit_notification::NotificationError::Invalid(problems) = err else {
            panic!("{endpoint}: {err}")
        };
        assert_eq!(problems[0].field, "subscription.endpoint", "{endpoint}");
    }
}

async fn the_member_header_is_required(backend: Backend) {
    let app = spawn_app(backend).await;
    for member in [None, Some("abc"), Some("-3"), Some("0"), Some("")] {
        let res = app.get("/v0/push/subscribed?deviceId=d", member).await;
        assert_eq!(res.status(), 401, "{member:?}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 401);
        assert_eq!(body["error"], "Unauthorized");
        let res = app
            .post(
                "/v0/push/subscribe",
                member,
                json!({"deviceId": "d", "token": "t"}),
            )
            .await;
        assert_eq!(res.status(), 401);
        let res = app
            .post("/v0/push/unsubscribe", member, json!({"deviceId": "d"}))
            .await;
        assert_eq!(res.status(), 401);
    }
    let res = app.get("/v0/push/subscribed", Some("5")).await;
    assert_eq!(res.status(), 400, "deviceId is required");
}

async fn idle_subscriptions_are_pruned(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id();
    let m = member.to_string();
    for device in ["stale", "refreshed"] {
        let res = app
            .post(
                "/v0/push/subscribe",
                Some(&m),
                json!({"deviceId": device, "token": format!("t-{device}")}),
            )
            .await;
        assert_eq!(res.status(), 200);
    }
    app.advance(jiff::SignedDuration::from_hours(60 * 24));
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&m),
            json!({"deviceId": "refreshed", "token": "t-refreshed"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    app.advance(jiff::SignedDuration::from_hours(31 * 24));
    // 91 days idle > notification.subscription_max_idle (90 days); the refreshed one is 31 days idle.
    assert!(app.app.prune().await.unwrap() >= 1);
    let left: Vec<String> = app
        .subscriptions(member)
        .await
        .into_iter()
        .map(|s| s.device_id.to_string())
        .collect();
    assert_eq!(left, ["refreshed"]);
}

/// A success is written to the subscription at most once a day (pruning counts idle days); a later one after
/// that is written again.
async fn a_success_is_recorded_once_a_day(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id();
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&member.to_string()),
            json!({"deviceId": "d", "token": "t"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let subscription = app.subscriptions(member).await[0].id;
    let hour = 3_600_000_000i64;
    let t0 = 1_000 * 24 * hour;
    let mut recorded = Vec::new();
    for at in [t0, t0 + hour, t0 + 23 * hour, t0 + 25 * hour] {
        let mut tx = app.db.begin().await.unwrap();
        store::subscriptions::touch_successes(&mut tx, &[subscription], instant(at))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT last_success_at_us FROM push_subscription WHERE subscription_id = $1",
        )
        .bind(subscription.get())
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        recorded.push(last);
    }
    assert_eq!(
        recorded,
        [Some(t0), Some(t0), Some(t0), Some(t0 + 25 * hour)]
    );
}

/// PostgreSQL writes a subscription's last success in place (a HOT update): migration 0003 keeps half of each
/// page of `push_subscription` free, so a burst of successes adds no entry to the table's four indexes. With
/// full pages only a handful of these 600 updates happen in place.
#[tokio::test]
async fn successes_are_written_in_place_on_postgres() {
    let app = spawn_app(Backend::Postgres).await;
    let first = id();
    sqlx::query(
        "INSERT INTO push_subscription (member_id, device_id, kind, address, p256dh, auth_secret, \
         created_at_us, updated_at_us) \
         SELECT $1 + g / 3, 'device-' || (g % 3), 'webpush', 'https://push.example/' || $1 || '/' || g, \
         repeat('B', 87), repeat('a', 22), 1, 1 FROM generate_series(0, 599) AS g",
    )
    .bind(first)
    .execute(app.db.pool())
    .await
    .unwrap();
    let ids: Vec<i64> = sqlx::query_scalar("SELECT subscription_id FROM push_subscription")
        .fetch_all(app.db.pool())
        .await
        .unwrap();
    assert_eq!(ids.len(), 600);
    let mut tx = app.db.begin().await.unwrap();
    let ids: Vec<SubscriptionId> = ids.into_iter().map(SubscriptionId).collect();
    store::subscriptions::touch_successes(&mut tx, &ids, instant(1_000_000))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Statistics reach the shared counters when the updating connection goes idle (at most once a second).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let (updated, in_place) = loop {
        let (updated, in_place): (i64, i64) = sqlx::query_as(
            "SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_user_tables WHERE relname = 'push_subscription'",
        )
        .fetch_one(app.db.pool())
        .await
        .unwrap();
        if updated >= 600 || std::time::Instant::now() > deadline {
            break (updated, in_place);
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    };
    assert_eq!((updated, in_place), (600, 600));
}

async fn the_openapi_document_lists_every_route(backend: Backend) {
    let app = spawn_app(backend).await;
    let res = app.get("/openapi.json", None).await;
    assert_eq!(res.status(), 200);
    let doc: Value = res.json().await.unwrap();
    assert_eq!(
        doc,
        serde_json::from_str::<Value>(pinit_notification::http::OPENAPI).unwrap()
    );
    let mut documented: Vec<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let mut served: Vec<(String, String)> = pinit_notification::http::ENDPOINTS
        .iter()
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    documented.sort();
    served.sort();
    assert_eq!(documented, served);
    let text = pinit_notification::http::OPENAPI;
    for name in doc["components"]["schemas"].as_object().unwrap().keys() {
        assert!(text.contains(&format!("#/components/schemas/{name}")) || name == "ErrorResponse");
    }
    for (method, path) in pinit_notification::http::ENDPOINTS {
        let res = match *method {
            "GET" => app.get(path, Some("1")).await,
            "PUT" => app.put(path, Some("1"), json!({})).await,
            "PATCH" => app.patch(path, Some("1"), json!({})).await,
            "DELETE" => app.delete(path, Some("1")).await,
            _ => app.post(path, Some("1"), json!({})).await,
        };
        let status = res.status().as_u16();
        // A route's own 404 names what it did not find (`/v0/webhooks/{id}` with no such endpoint); the
        // router's has no route to say it.
        let own_404 = status == 404
            && res.json::<Value>().await.unwrap_or_default()["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("no such"));
        assert!(
            status != 405 && (status != 404 || own_404),
            "{method} {path}: {status}"
        );
    }
}

/// A member keeps at most `max_subscriptions_per_member` (20 by default) devices: a new device beyond it
/// replaces the least recently used one; a device re-subscribing replaces only its own.
async fn a_new_device_beyond_the_cap_replaces_the_least_recently_used(backend: Backend) {
    let app = spawn_app(backend).await;
    let member = id();
    let m = member.to_string();
    let subscribe = |device: String| {
        let (app, m) = (&app, &m);
        async move {
            let res = app
                .post(
                    "/v0/push/subscribe",
                    Some(m),
                    json!({"deviceId": device, "token": format!("token-{member}-{device}")}),
                )
                .await;
            assert_eq!(res.status(), 200);
        }
    };
    for n in 0..20 {
        subscribe(format!("d{n}")).await;
        app.advance(secs(1));
    }
    // d0 is used again (re-subscribed): d1 is now the least recently used.
    subscribe("d0".into()).await;
    app.advance(secs(1));
    subscribe("d20".into()).await;
    let devices = |subs: Vec<Subscription>| {
        subs.iter()
            .map(|s| s.device_id.as_str().to_string())
            .collect::<Vec<_>>()
    };
    let now = devices(app.subscriptions(member).await);
    assert_eq!(now.len(), 20, "{now:?}");
    assert!(now.contains(&"d0".to_string()) && now.contains(&"d20".to_string()));
    assert!(
        !now.contains(&"d1".to_string()),
        "the least recently used went"
    );

    // A device already subscribed replaces its own subscription, nobody else's.
    app.advance(secs(1));
    subscribe("d5".into()).await;
    assert_eq!(devices(app.subscriptions(member).await), now);
    // A flood of new devices never takes the member beyond the cap; the newest stay.
    for n in 100..150 {
        app.advance(secs(1));
        subscribe(format!("d{n}")).await;
    }
    let flooded = devices(app.subscriptions(member).await);
    assert_eq!(flooded.len(), 20);
    assert!(
        (130..150).all(|n| flooded.contains(&format!("d{n}"))),
        "{flooded:?}"
    );
    // Other members are not affected.
    let other = id();
    let res = app
        .post(
            "/v0/push/subscribe",
            Some(&other.to_string()),
            json!({"deviceId": "d0", "token": format!("token-{other}")}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.subscription_count(member).await, 20);
}

pinit_testkit::both_backends!(
    a_new_device_beyond_the_cap_replaces_the_least_recently_used,
    the_openapi_document_lists_every_route,
    idle_subscriptions_are_pruned,
    a_success_is_recorded_once_a_day,
    vapid_key_is_public_text,
    fcm_tokens_subscribe_resubscribe_and_unsubscribe,
    web_push_subscriptions_are_validated,
    the_strict_policy_refuses_private_endpoints,
    the_member_header_is_required,
);

/// A Web Push subscription's stored `p256dh` key (none for FCM).
fn p256dh(s: &Subscription) -> Option<&str> {
    match &s.target {
        PushTarget::WebPush(w) => Some(w.p256dh.as_str()),
        PushTarget::Fcm { .. } => None,
    }
}

fn instant(us: i64) -> jiff::Timestamp {
    jiff::Timestamp::from_microsecond(us).unwrap()
}
