//! Personal API tokens at the gateway, in front of fake services: `Bearer pinit_pat_…` checked by the fake auth
//! (the gateway's signed call only), the member vouched for as an API token and the token not forwarded; a read
//! token refused on anything but GET, HEAD and OPTIONS — on the JSON API and on /dav — before any service is
//! asked; unknown tokens refused and never cached; a revoked token accepted no longer than the cache bound.

mod support;

use pinit_gateway::api_tokens::{READ_ONLY, REFUSED};
use pinit_gateway::calendar::CHECK_CACHE_TTL;
use pinit_kernel::Clock;
use pinit_kernel::identity::api_token_check::Scope;
use pinit_kernel::identity::{ASSERTION_HEADER, Credential};
use serde_json::Value;
use support::*;

const WRITE: &str = "pinit_pat_writewritewritewritewritewrite";
const READ: &str = "pinit_pat_readreadreadreadreadreadreadr";

async fn with_tokens() -> Gw {
    let gw = gateway(None).await;
    let mut tokens = gw.auth.tokens.lock().unwrap();
    tokens.insert(WRITE.into(), (42, vec![Scope::Read, Scope::Write], None));
    tokens.insert(READ.into(), (42, vec![Scope::Read], None));
    drop(tokens);
    gw
}

impl Gw {
    fn token_checks(&self) -> usize {
        *self.auth.token_checks.lock().unwrap()
    }

    async fn with_bearer(&self, m: &str, path: &str, token: &str) -> reqwest::Response {
        self.request(m, path)
            .bearer_auth(token)
            .header("x-member-id", "7")
            .body("{}")
            .send()
            .await
            .unwrap()
    }

    /// The member and credential a service was vouched for, from what the fake task service echoed.
    fn vouched(&self, seen: &Value) -> Option<(i64, Credential)> {
        let assertion = seen["headers"][ASSERTION_HEADER].as_str()?;
        self.identity.verify_member(
            assertion,
            seen["method"].as_str()?,
            seen["path"].as_str()?,
            self.clock.now().as_second(),
        )
    }
}

#[tokio::test]
async fn a_token_reaches_the_services_as_its_member_without_the_token() {
    let gw = with_tokens().await;
    for (m, path) in [
        ("POST", "/v2/tasks"),
        ("PATCH", "/v2/tasks/3"),
        ("DELETE", "/v2/schedules/9"),
        ("GET", "/v2/tasks"),
    ] {
        let res = gw.with_bearer(m, path, WRITE).await;
        assert_eq!(res.status(), 207, "{m} {path}");
        let seen: Value = res.json().await.unwrap();
        assert_eq!(
            seen["headers"]["x-member-id"], "42",
            "not the client's header"
        );
        assert!(seen["headers"].get("authorization").is_none(), "{seen}");
        assert_eq!(
            gw.vouched(&seen),
            Some((42, Credential::ApiToken)),
            "{m} {path}"
        );
    }
    // One check with auth for the four requests (cached for the bound).
    assert_eq!(gw.token_checks(), 1);

    // A JWT is still a session, and keeps its Authorization header (auth reads it at /v0/me).
    let jwt = gw.token("42");
    let res = gw.with_bearer("GET", "/v2/tasks", &jwt).await;
    let seen: Value = res.json().await.unwrap();
    assert_eq!(gw.vouched(&seen), Some((42, Credential::Session)));
    assert!(seen["headers"]["authorization"].is_string());
    assert_eq!(gw.token_checks(), 1, "a JWT is never sent to auth's check");
}

#[tokio::test]
async fn a_read_token_calls_only_safe_methods() {
    let gw = with_tokens().await;
    for (m, path) in [
        ("GET", "/v2/tasks"),
        ("HEAD", "/v2/tasks"),
        ("GET", "/dav/calendars/42/"),
        ("PROPFIND", "/dav/"),
        ("REPORT", "/dav/calendars/42/"),
    ] {
        let res = gw.with_bearer(m, path, READ).await;
        assert_eq!(res.status(), 207, "{m} {path}");
    }
    assert_eq!(gw.task_hits(), 5);
    for (m, path) in [
        ("POST", "/v2/tasks"),
        ("PUT", "/v2/tasks/3"),
        ("PATCH", "/v2/tasks/3"),
        ("DELETE", "/v2/tasks/3"),
        ("POST", "/v0/app-passwords"),
        ("PROPPATCH", "/dav/"),
        ("PUT", "/dav/calendars/42/schedules/1.ics"),
    ] {
        let res = gw.with_bearer(m, path, READ).await;
        assert_eq!(res.status(), 403, "{m} {path}");
        assert_eq!(
            res.headers()["www-authenticate"],
            "Bearer error=\"insufficient_scope\", scope=\"write\"",
            "{m} {path}"
        );
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["status"], 403);
        assert_eq!(body["message"], READ_ONLY, "{m} {path}");
    }
    assert_eq!(gw.task_hits(), 5, "no refused request reached a service");
}

#[tokio::test]
async fn unknown_tokens_are_refused_and_never_cached() {
    let gw = with_tokens().await;
    let unknown = "pinit_pat_unknownunknownunknownunknownunkn";
    for _ in 0..2 {
        let res = gw.with_bearer("GET", "/v2/tasks", unknown).await;
        assert_eq!(res.status(), 401);
        assert_eq!(res.headers()["www-authenticate"], "Bearer");
        let body: Value = res.json().await.unwrap();
        assert_eq!(body["message"], REFUSED);
    }
    assert_eq!(gw.token_checks(), 2, "each failure is auth's to see");
    // On /dav a refused token is the Basic challenge calendar apps answer.
    let res = gw.with_bearer("GET", "/dav/", unknown).await;
    assert_eq!(res.status(), 401);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .starts_with("Basic")
    );
    assert_eq!(gw.task_hits(), 0);
}

#[tokio::test]
async fn a_revoked_token_is_accepted_no_longer_than_the_cache_bound() {
    let gw = with_tokens().await;
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        207
    );
    // Revoked in auth.
    gw.auth.tokens.lock().unwrap().remove(WRITE);
    let bound = jiff::SignedDuration::try_from(CHECK_CACHE_TTL).unwrap();
    gw.clock
        .advance(bound - jiff::SignedDuration::from_millis(1));
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        207,
        "within the bound this replica may still accept it"
    );
    gw.clock.advance(jiff::SignedDuration::from_millis(1));
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        401
    );
    assert_eq!(gw.token_checks(), 2);
}

#[tokio::test]
async fn a_token_expiring_within_the_cache_bound_is_cached_only_until_its_expiry() {
    let gw = with_tokens().await;
    let expires = gw.clock.now() + jiff::SignedDuration::from_secs(2);
    gw.auth.tokens.lock().unwrap().insert(
        WRITE.into(),
        (42, vec![Scope::Read, Scope::Write], Some(expires)),
    );
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        207
    );
    gw.clock.advance(jiff::SignedDuration::from_millis(1_999));
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        207
    );
    assert_eq!(gw.token_checks(), 1, "cached until then");
    // Expired: the gateway asks auth again (whose answer is now 401).
    gw.auth.tokens.lock().unwrap().remove(WRITE);
    gw.clock.advance(jiff::SignedDuration::from_millis(1));
    assert_eq!(
        gw.with_bearer("GET", "/v2/tasks", WRITE).await.status(),
        401
    );
    assert_eq!(gw.token_checks(), 2);
}
