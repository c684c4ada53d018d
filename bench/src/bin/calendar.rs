//! Calendars (issue 19): a CalDAV client syncing a member's 1,000 schedules, and calendar feeds of members with
//! 5,000 schedules — through the task service's real HTTP router (`pinit_task::routes` inside the kernel's
//! `service_router`, served on a random loopback port), on SQLite and PostgreSQL, with `X-Member-Id` as the
//! gateway sends it. The client is a minimal HTTP/1.1 client on one keep-alive connection (as a calendar app
//! keeps one), counting the bytes on the wire both ways (headers included).
//!
//! `cargo run --release -p pinit-bench --bin calendar -- --out docs/benchmarks.md`
//!
//! * **Data**, loaded through the JSON API (`POST /v2/schedules`, then `start` and `complete` for the runs the
//!   tracked feed shows), members in parallel, each member's requests one after another. A manual clock stands at
//!   2026-12-07T00:00Z ("now"); each run is played at its own time (clock set to the schedule's start, started,
//!   clock moved on, completed), so the tracked feed has real elapsed times. Three members:
//!   * `sync`: 1,000 one-off schedules, four a day from 200 days ago on;
//!   * `dense`: 5,000 schedules inside the feeds' windows (29 days back to 60 ahead, about 56 a day) — every one
//!     of them in the planned feed, and the 1,600-odd past ones completed (the tracked feed);
//!   * `years`: 5,000 schedules four a day over 3.4 years (1,190 days back to 60 ahead), the last 100 days' past
//!     ones completed — what a long-time member looks like to a feed that shows 30 (planned) or 90 (tracked)
//!     days back.
//! * **CalDAV**, per repetition, on the `sync` member's collection `/dav/{member}/schedules/`:
//!   initial sync — `PROPFIND` depth 1 (`getetag`, `getcontenttype`, `resourcetype`); `sync-collection` with an
//!   empty token (`getetag`); `calendar-multiget` of every href (`getetag` + `calendar-data`) in batches of
//!   `--batch`; and `sync-collection` with an empty token asking for `calendar-data` too (the one-request
//!   alternative). Then 10 changes through the JSON API (5 `PATCH`, 3 `DELETE`, 2 `POST`) and the incremental
//!   sync — `sync-collection` with the token of the initial one, then `calendar-multiget` of the changed hrefs.
//!   Each answer is checked (item counts, 7 changed and 3 gone in the incremental one).
//! * **Feeds**: `GET /feeds/{token}.ics` of a planned and a tracked feed of `dense` and `years`, `--feed-requests`
//!   times each per round, every full fetch followed by one with `If-None-Match` (the 304 path).
//! * **Rounds**: `--rounds` rounds; each round runs everything on both databases, the order of the databases
//!   flipping every round, so background load shows in both.
//!
//! SQLite: a file in a temporary directory; PostgreSQL: a fresh database `pinit_bench_calendar_<pid>` on the
//! server (trust auth), `ANALYZE`d after loading (autovacuum would have on a live server), dropped at the end.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Parser;
use jiff::{SignedDuration, Timestamp};
use pinit_bench::{BenchDb, BoxError, NOW, ZONE, backend_name, ms, percentile};
use pinit_kernel::{Backend, Db, ManualClock};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;
use tokio_util::sync::CancellationToken;

const SECTION: &str = "## Calendars: CalDAV sync and feeds";
const MARKER: &str = "calendar";

/// CalDAV sync of a member's schedules and calendar feed response times, on SQLite and PostgreSQL, through the
/// task service's HTTP router.
#[derive(Parser, Debug, Clone)]
#[command(name = "calendar", version)]
struct Args {
    #[command(flatten)]
    databases: pinit_bench::Databases,
    /// Schedules of the member a CalDAV client syncs.
    #[arg(long, default_value_t = 1_000)]
    sync_schedules: usize,
    /// Hrefs per `calendar-multiget` of the initial sync.
    #[arg(long, default_value_t = 100)]
    batch: usize,
    /// CalDAV sync repetitions (initial + 10 changes + incremental) per round and database.
    #[arg(long, default_value_t = 3)]
    sync_reps: usize,
    /// Schedules of each feed member (`dense` and `years`).
    #[arg(long, default_value_t = 5_000)]
    feed_schedules: usize,
    /// Full fetches (each followed by a conditional one) per feed, round and database.
    #[arg(long, default_value_t = 50)]
    feed_requests: usize,
    /// Rounds; the order of the databases flips every round.
    #[arg(long, default_value_t = 3)]
    rounds: usize,
    /// Database connections of the service.
    #[arg(long, default_value_t = 8)]
    pool: u32,
    /// Write the report into this markdown file (between the `calendar` markers); print it otherwise.
    #[arg(long)]
    out: Option<PathBuf>,
    /// Keep the PostgreSQL database.
    #[arg(long)]
    keep_db: bool,
}

// ------------------------------------------------------------------------------------------------------------
// A minimal HTTP/1.1 client: one keep-alive connection, bytes counted on the wire.

struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Result<Value, BoxError> {
        Ok(serde_json::from_str(&self.body)?)
    }

    fn success(self, what: &str) -> Result<Self, BoxError> {
        if !(200..300).contains(&self.status) {
            return Err(format!(
                "{what}: expected a 2xx, got {}: {}",
                self.status,
                &self.body[..self.body.len().min(500)]
            )
            .into());
        }
        Ok(self)
    }

    fn expect(self, status: u16, what: &str) -> Result<Self, BoxError> {
        if self.status != status {
            return Err(format!(
                "{what}: expected {status}, got {}: {}",
                self.status,
                &self.body[..self.body.len().min(500)]
            )
            .into());
        }
        Ok(self)
    }
}

/// What a step cost on the wire.
#[derive(Debug, Clone, Copy, Default)]
struct Wire {
    requests: u64,
    sent: u64,
    received: u64,
}

struct Client {
    addr: std::net::SocketAddr,
    conn: Option<BufReader<TcpStream>>,
    wire: Wire,
}

impl Client {
    fn new(addr: std::net::SocketAddr) -> Self {
        Self {
            addr,
            conn: None,
            wire: Wire::default(),
        }
    }

    /// The wire counts since the last call.
    fn take_wire(&mut self) -> Wire {
        std::mem::take(&mut self.wire)
    }

    async fn send(
        &mut self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: &str,
    ) -> Result<Reply, BoxError> {
        let mut request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nUser-Agent: pinit-bench-calendar\r\n",
            self.addr
        );
        for (name, value) in headers {
            let _ = write!(request, "{name}: {value}\r\n");
        }
        if !body.is_empty() || matches!(method, "POST" | "PUT" | "PATCH" | "REPORT" | "PROPFIND") {
            let _ = write!(request, "Content-Length: {}\r\n", body.len());
        }
        request.push_str("\r\n");
        request.push_str(body);
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr).await?;
            stream.set_nodelay(true)?;
            self.conn = Some(BufReader::with_capacity(64 * 1024, stream));
        }
        let conn = self.conn.as_mut().expect("connected");
        conn.get_mut().write_all(request.as_bytes()).await?;
        self.wire.requests += 1;
        self.wire.sent += request.len() as u64;

        let mut received = 0u64;
        let mut line = String::new();
        received += conn.read_line(&mut line).await? as u64;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("a status line, got {line:?}"))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            let n = conn.read_line(&mut line).await?;
            if n == 0 {
                return Err("connection closed in the headers".into());
            }
            received += n as u64;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((name, value)) = l.split_once(':') {
                headers.push((name.trim().to_string(), value.trim().to_string()));
            }
        }
        let find = |name: &str| {
            headers
                .iter()
                .find(|(n, _): &&(String, String)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.clone())
        };
        let mut body = Vec::new();
        if method == "HEAD" || status == 304 || status == 204 {
        } else if let Some(len) = find("content-length") {
            let len: usize = len.parse()?;
            body.resize(len, 0);
            conn.read_exact(&mut body).await?;
            received += len as u64;
        } else if find("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
            loop {
                line.clear();
                received += conn.read_line(&mut line).await? as u64;
                let size = usize::from_str_radix(line.trim().split(';').next().unwrap_or("0"), 16)?;
                let start = body.len();
                body.resize(start + size + 2, 0);
                conn.read_exact(&mut body[start..]).await?;
                body.truncate(start + size);
                received += size as u64 + 2;
                if size == 0 {
                    break;
                }
            }
        }
        self.wire.received += received;
        if find("connection").is_some_and(|v| v.eq_ignore_ascii_case("close")) {
            self.conn = None;
        }
        Ok(Reply {
            status,
            headers,
            body: String::from_utf8(body)?,
        })
    }

    async fn member(
        &mut self,
        method: &str,
        path: &str,
        member: i64,
        body: Option<&Value>,
    ) -> Result<Reply, BoxError> {
        let mut headers = vec![("X-Member-Id", member.to_string())];
        let text = match body {
            Some(b) => {
                headers.push(("Content-Type", "application/json".into()));
                b.to_string()
            }
            None => String::new(),
        };
        self.send(method, path, &headers, &text).await
    }

    async fn dav(
        &mut self,
        method: &str,
        path: &str,
        member: i64,
        depth: Option<&str>,
        body: &str,
    ) -> Result<Reply, BoxError> {
        let mut headers = vec![
            ("X-Member-Id", member.to_string()),
            ("Content-Type", "application/xml; charset=utf-8".into()),
        ];
        if let Some(d) = depth {
            headers.push(("Depth", d.into()));
        }
        self.send(method, path, &headers, body).await
    }
}

// ------------------------------------------------------------------------------------------------------------
// The service under test.

struct Service {
    backend: Backend,
    addr: std::net::SocketAddr,
    clock: Arc<ManualClock>,
    db: Db,
    stop: CancellationToken,
    bench: BenchDb,
    /// The members' feed paths: (label, member, kind, path).
    feeds: Vec<(&'static str, &'static str, String)>,
    sync: SyncMember,
    load: Vec<String>,
}

async fn start_service(args: &Args, backend: Backend) -> Result<Service, BoxError> {
    let bench = BenchDb::create(
        backend,
        &args.databases.server,
        "pinit_bench_calendar",
        args.pool,
    )
    .await?;
    let db = bench.db.clone();
    let service = pinit_bench::TaskService::start(db.clone(), NOW.parse::<Timestamp>()?).await?;
    for m in [SYNC, DENSE, YEARS] {
        service.provision(m, ZONE).await?;
    }
    let (addr, clock, stop) = (service.addr, service.clock, service.stop);
    Ok(Service {
        backend,
        addr,
        clock,
        db,
        stop,
        bench,
        feeds: Vec::new(),
        sync: SyncMember::default(),
        load: Vec::new(),
    })
}

// ------------------------------------------------------------------------------------------------------------
// Loading: members' schedules through the JSON API.

const SYNC: i64 = 1;
const DENSE: i64 = 2;
const YEARS: i64 = 3;

/// Where a member's schedules are: `n` of them over `days` days from `first_day` (relative to NOW's date),
/// spread evenly over 07:00–21:00 local time.
#[derive(Clone, Copy)]
struct Layout {
    n: usize,
    first_day: i64,
    days: i64,
    /// Past schedules at most this many days back are run (started and completed).
    run_back_days: i64,
}

impl Layout {
    fn per_day(&self) -> usize {
        self.n.div_ceil(self.days as usize).max(1)
    }

    fn spacing_mins(&self) -> i64 {
        (14 * 60 / self.per_day() as i64).max(1)
    }

    /// The i-th schedule's local start.
    fn local(&self, i: usize) -> jiff::civil::DateTime {
        let day = self.first_day + (i / self.per_day()) as i64;
        let slot = (i % self.per_day()) as i64;
        let date = jiff::civil::date(2026, 12, 7)
            .checked_add(jiff::Span::new().days(day))
            .expect("a date");
        date.at(7, 0, 0, 0)
            .checked_add(SignedDuration::from_mins(slot * self.spacing_mins()))
            .expect("a time")
    }
}

const KINDS: [&str; 3] = ["DEEP_WORK", "QUICK_TASK", "ADMIN_TASK"];

fn schedule_body(title: &str, local: jiff::civil::DateTime, i: usize) -> Value {
    json!({
        "title": title,
        "description": "주간 계획에서 옮긴 일: 자료 정리와 검토",
        "date": {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S").to_string(), "zoneId": ZONE},
        "scheduleType": KINDS[i % KINDS.len()],
    })
}

/// Creates a member's schedules; returns (ids with their local starts, per-request times).
async fn create_all(
    addr: std::net::SocketAddr,
    member: i64,
    layout: Layout,
) -> Result<(Vec<(i64, jiff::civil::DateTime)>, Vec<Duration>), BoxError> {
    let mut client = Client::new(addr);
    let mut made = Vec::with_capacity(layout.n);
    let mut times = Vec::with_capacity(layout.n);
    for i in 0..layout.n {
        let local = layout.local(i);
        let body = schedule_body(&format!("일정 {i} — 집중 작업"), local, i);
        let t = Instant::now();
        let reply = client
            .member("POST", "/v2/schedules", member, Some(&body))
            .await?
            .expect(201, "create a schedule")?;
        times.push(t.elapsed());
        let id = reply.json()?["id"].as_i64().ok_or("an id")?;
        made.push((id, local));
    }
    Ok((made, times))
}

/// Plays the runs of a member's past schedules at their own times: start at the planned start, complete two
/// thirds of the slot later.
async fn run_past(
    svc: &Service,
    member: i64,
    layout: Layout,
    made: &[(i64, jiff::civil::DateTime)],
) -> Result<(usize, Vec<Duration>), BoxError> {
    let zone = jiff::tz::TimeZone::get(ZONE)?;
    let now: Timestamp = NOW.parse()?;
    let from = now
        .checked_sub(SignedDuration::from_hours(24 * layout.run_back_days))
        .expect("an instant");
    let length = SignedDuration::from_mins(layout.spacing_mins() * 2 / 3);
    let mut client = Client::new(svc.addr);
    let mut times = Vec::new();
    let mut runs = 0;
    for (id, local) in made {
        let start = zone.to_timestamp(*local)?;
        if start < from || start.checked_add(length)? > now {
            continue;
        }
        svc.clock.set(start);
        let t = Instant::now();
        client
            .member("POST", &format!("/v2/schedules/{id}/start"), member, None)
            .await?
            .success("start")?;
        svc.clock.set(start.checked_add(length)?);
        client
            .member(
                "POST",
                &format!("/v2/schedules/{id}/complete"),
                member,
                None,
            )
            .await?
            .success("complete")?;
        times.push(t.elapsed());
        runs += 1;
    }
    svc.clock.set(now);
    Ok((runs, times))
}

#[derive(Default)]
struct SyncMember {
    /// Live schedule ids, oldest first.
    live: Vec<i64>,
    /// Next schedule number for titles of created ones.
    next: usize,
}

fn layouts(args: &Args) -> [(i64, Layout); 3] {
    [
        (
            SYNC,
            Layout {
                n: args.sync_schedules,
                first_day: -200,
                days: args.sync_schedules.div_ceil(4) as i64,
                run_back_days: 0,
            },
        ),
        (
            DENSE,
            Layout {
                n: args.feed_schedules,
                first_day: -29,
                days: 90,
                run_back_days: 30,
            },
        ),
        (
            YEARS,
            Layout {
                n: args.feed_schedules,
                first_day: 60 - args.feed_schedules.div_ceil(4) as i64 + 1,
                days: args.feed_schedules.div_ceil(4) as i64,
                run_back_days: 100,
            },
        ),
    ]
}

async fn load(args: &Args, svc: &mut Service) -> Result<(), BoxError> {
    let name = backend_name(svc.backend);
    eprintln!(
        "[{name}] creating {} + 2 × {} schedules through POST /v2/schedules",
        args.sync_schedules, args.feed_schedules
    );
    let started = Instant::now();
    let mut set = tokio::task::JoinSet::new();
    for (member, layout) in layouts(args) {
        let addr = svc.addr;
        set.spawn(async move {
            create_all(addr, member, layout)
                .await
                .map(|r| (member, layout, r))
        });
    }
    let mut created = Vec::new();
    let mut create_times = Vec::new();
    while let Some(done) = set.join_next().await {
        let (member, layout, (made, times)) = done??;
        create_times.extend(times);
        created.push((member, layout, made));
    }
    let create_wall = started.elapsed();
    create_times.sort();
    created.sort_by_key(|(m, _, _)| *m);

    eprintln!("[{name}] playing the past runs (start + complete at their own times)");
    let started = Instant::now();
    let mut run_times = Vec::new();
    let mut runs_of = Vec::new();
    for (member, layout, made) in &created {
        let (runs, times) = run_past(svc, *member, *layout, made).await?;
        run_times.extend(times);
        runs_of.push((*member, runs));
    }
    let run_wall = started.elapsed();
    run_times.sort();
    svc.sync.live = created[0].2.iter().map(|(id, _)| *id).collect();
    svc.sync.next = args.sync_schedules;

    // Feeds.
    let mut client = Client::new(svc.addr);
    for (member, label) in [(DENSE, "dense"), (YEARS, "years")] {
        for kind in ["planned", "tracked"] {
            let reply = client
                .member(
                    "POST",
                    "/v2/calendar/feeds",
                    member,
                    Some(&json!({"kind": kind})),
                )
                .await?
                .expect(201, "create a feed")?;
            let url = reply.json()?["url"].as_str().ok_or("a url")?.to_string();
            let path = url[url.find("/feeds/").ok_or("a feed path")?..].to_string();
            svc.feeds.push((label, kind, path));
        }
    }
    if svc.backend == Backend::Postgres {
        sqlx::query("ANALYZE").execute(svc.db.pool()).await?;
    }
    let total = args.sync_schedules + 2 * args.feed_schedules;
    svc.load.push(format!(
        "{name}: {total} schedules created in {:.1} s (3 members in parallel; per request p50 {:.2} ms, p99 {:.2} ms); \
         {} runs played (start + complete: p50 {:.2} ms, p99 {:.2} ms the pair) in {:.1} s — dense {}, years {}",
        create_wall.as_secs_f64(),
        ms(percentile(&create_times, 50.0)),
        ms(percentile(&create_times, 99.0)),
        run_times.len(),
        ms(percentile(&run_times, 50.0)),
        ms(percentile(&run_times, 99.0)),
        run_wall.as_secs_f64(),
        runs_of.iter().find(|(m, _)| *m == DENSE).map_or(0, |r| r.1),
        runs_of.iter().find(|(m, _)| *m == YEARS).map_or(0, |r| r.1),
    ));
    eprintln!("[{name}] {}", svc.load.last().expect("a line"));
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// Measurements.

/// One sample of a step: its wall time and what it cost on the wire.
#[derive(Debug, Clone, Copy)]
struct Sample {
    took: Duration,
    wire: Wire,
    round: usize,
}

#[derive(Default)]
struct Results {
    /// (backend, step) → samples, in the order steps were first seen.
    steps: Vec<(Backend, &'static str, Vec<Sample>)>,
}

impl Results {
    fn add(&mut self, backend: Backend, step: &'static str, sample: Sample) {
        match self
            .steps
            .iter_mut()
            .find(|(b, s, _)| *b == backend && *s == step)
        {
            Some((_, _, v)) => v.push(sample),
            None => self.steps.push((backend, step, vec![sample])),
        }
    }

    fn get(&self, backend: Backend, step: &str) -> Option<&[Sample]> {
        self.steps
            .iter()
            .find(|(b, s, _)| *b == backend && *s == step)
            .map(|(_, _, v)| v.as_slice())
    }
}

const PROPFIND_ETAGS: &str = r#"<?xml version="1.0" encoding="utf-8"?><d:propfind xmlns:d="DAV:"><d:prop><d:getetag/><d:getcontenttype/><d:resourcetype/></d:prop></d:propfind>"#;

fn sync_body(token: &str, data: bool) -> String {
    let data = if data { "<c:calendar-data/>" } else { "" };
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><d:sync-collection xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:sync-token>{token}</d:sync-token><d:sync-level>1</d:sync-level><d:prop><d:getetag/>{data}</d:prop></d:sync-collection>"#
    )
}

fn multiget_body(hrefs: &[String]) -> String {
    let mut out = String::from(
        r#"<?xml version="1.0" encoding="utf-8"?><c:calendar-multiget xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav"><d:prop><d:getetag/><c:calendar-data/></d:prop>"#,
    );
    for h in hrefs {
        let _ = write!(out, "<d:href>{h}</d:href>");
    }
    out.push_str("</c:calendar-multiget>");
    out
}

/// The item hrefs of a multistatus (`….ics`), and how many of them are 404s.
fn item_hrefs(body: &str) -> Vec<String> {
    body.split("<d:href>")
        .skip(1)
        .filter_map(|s| s.split_once("</d:href>").map(|(h, _)| h.to_string()))
        .filter(|h| h.ends_with(".ics"))
        .collect()
}

fn count(body: &str, needle: &str) -> usize {
    body.matches(needle).count()
}

fn sync_token(body: &str) -> Result<String, BoxError> {
    let start = body.find("<d:sync-token>").ok_or("a sync-token")? + "<d:sync-token>".len();
    let end = body[start..]
        .find("</d:sync-token>")
        .ok_or("a sync-token end")?;
    Ok(body[start..start + end].to_string())
}

fn check(ok: bool, what: &str) -> Result<(), BoxError> {
    if ok {
        Ok(())
    } else {
        Err(format!("check failed: {what}").into())
    }
}

/// One CalDAV repetition on the `sync` member.
async fn caldav_rep(
    args: &Args,
    svc: &mut Service,
    results: &mut Results,
    round: usize,
    rep: usize,
) -> Result<(), BoxError> {
    let backend = svc.backend;
    let collection = format!("/dav/{SYNC}/schedules/");
    let n = svc.sync.live.len();
    let mut client = Client::new(svc.addr);
    // Open the connection (a client has one already).
    client
        .dav("OPTIONS", &collection, SYNC, None, "")
        .await?
        .expect(200, "OPTIONS")?;
    client.take_wire();
    let record = |results: &mut Results, step, took, wire| {
        results.add(backend, step, Sample { took, wire, round })
    };

    // Initial sync, the PROPFIND way: ETags of everything, then multiget of all.
    let t = Instant::now();
    let reply = client
        .dav("PROPFIND", &collection, SYNC, Some("1"), PROPFIND_ETAGS)
        .await?
        .expect(207, "PROPFIND")?;
    let took = t.elapsed();
    let hrefs = item_hrefs(&reply.body);
    check(hrefs.len() == n, "PROPFIND lists every schedule")?;
    record(results, "propfind", took, client.take_wire());

    let t = Instant::now();
    let mut items = 0;
    for batch in hrefs.chunks(args.batch.max(1)) {
        let reply = client
            .dav(
                "REPORT",
                &collection,
                SYNC,
                Some("1"),
                &multiget_body(batch),
            )
            .await?
            .expect(207, "multiget")?;
        items += count(&reply.body, "BEGIN:VEVENT");
    }
    let took = t.elapsed();
    check(items == n, "multiget returns every item")?;
    record(results, "multiget_all", took, client.take_wire());

    // Initial sync, the sync-collection way.
    let t = Instant::now();
    let reply = client
        .dav(
            "REPORT",
            &collection,
            SYNC,
            Some("1"),
            &sync_body("", false),
        )
        .await?
        .expect(207, "sync-collection")?;
    let took = t.elapsed();
    check(
        item_hrefs(&reply.body).len() == n,
        "a first sync lists everything",
    )?;
    let token = sync_token(&reply.body)?;
    record(results, "sync_initial", took, client.take_wire());

    let t = Instant::now();
    let reply = client
        .dav("REPORT", &collection, SYNC, Some("1"), &sync_body("", true))
        .await?
        .expect(207, "sync-collection with data")?;
    let took = t.elapsed();
    check(
        count(&reply.body, "BEGIN:VEVENT") == n,
        "a first sync with data",
    )?;
    record(results, "sync_initial_data", took, client.take_wire());

    // Ten changes through the JSON API, a second later.
    svc.clock.advance(SignedDuration::from_secs(1));
    let t = Instant::now();
    let live = &mut svc.sync.live;
    let step = (live.len() / 8).max(1);
    let mut edited = Vec::new();
    for k in 0..5 {
        let id = live[(k * step + rep * 7) % live.len()];
        if edited.contains(&id) {
            continue;
        }
        client
            .member(
                "PATCH",
                &format!("/v2/schedules/{id}"),
                SYNC,
                Some(&json!({"title": format!("고친 일정 {rep}-{k}")})),
            )
            .await?
            .success("PATCH")?;
        edited.push(id);
    }
    let mut deleted = 0;
    for k in 0..3 {
        let pos = (k * step + step / 2 + rep * 5) % live.len();
        if edited.contains(&live[pos]) {
            continue;
        }
        let id = live.remove(pos);
        client
            .member("DELETE", &format!("/v2/schedules/{id}"), SYNC, None)
            .await?
            .success("DELETE")?;
        deleted += 1;
    }
    let layout = layouts(args)[0].1;
    for _ in 0..2 {
        let i = svc.sync.next;
        svc.sync.next += 1;
        let body = schedule_body(&format!("새 일정 {i}"), layout.local(i % layout.n), i);
        let reply = client
            .member("POST", "/v2/schedules", SYNC, Some(&body))
            .await?
            .expect(201, "POST")?;
        live.push(reply.json()?["id"].as_i64().ok_or("an id")?);
    }
    record(results, "changes", t.elapsed(), client.take_wire());
    svc.clock.advance(SignedDuration::from_secs(1));

    // Incremental sync: what changed since the token, then the changed items.
    let t = Instant::now();
    let reply = client
        .dav(
            "REPORT",
            &collection,
            SYNC,
            Some("1"),
            &sync_body(&token, false),
        )
        .await?
        .expect(207, "incremental sync-collection")?;
    let took = t.elapsed();
    let gone = count(&reply.body, "404 Not Found");
    let changed: Vec<String> = reply
        .body
        .split("<d:response>")
        .skip(1)
        .filter(|r| !r.contains("404 Not Found"))
        .flat_map(item_hrefs)
        .collect();
    check(
        gone == deleted && changed.len() == edited.len() + 2,
        &format!(
            "the incremental sync has {} changed and {deleted} gone (got {} and {gone}): edited {edited:?}, \
             live {}, answer {}",
            edited.len() + 2,
            changed.len(),
            live.len(),
            &reply.body[..reply.body.len().min(3000)]
        ),
    )?;
    record(results, "sync_incremental", took, client.take_wire());

    let t = Instant::now();
    let reply = client
        .dav(
            "REPORT",
            &collection,
            SYNC,
            Some("1"),
            &multiget_body(&changed),
        )
        .await?
        .expect(207, "multiget of the changes")?;
    let took = t.elapsed();
    check(
        count(&reply.body, "BEGIN:VEVENT") == changed.len(),
        "the changed items",
    )?;
    record(results, "multiget_changed", took, client.take_wire());
    Ok(())
}

/// A round of feed fetches: each feed `requests` times, each full fetch followed by a conditional one.
async fn feeds_round(
    args: &Args,
    svc: &Service,
    results: &mut Results,
    feed_facts: &mut Vec<(Backend, String, usize, usize)>,
    round: usize,
) -> Result<(), BoxError> {
    let mut client = Client::new(svc.addr);
    for (label, kind, path) in &svc.feeds {
        let step_full: &'static str = Box::leak(format!("feed {label} {kind}").into_boxed_str());
        let step_304: &'static str = Box::leak(format!("feed {label} {kind} 304").into_boxed_str());
        // Warm the connection.
        client
            .send("GET", path, &[], "")
            .await?
            .expect(200, "a feed")?;
        client.take_wire();
        for _ in 0..args.feed_requests {
            let t = Instant::now();
            let reply = client
                .send("GET", path, &[], "")
                .await?
                .expect(200, "a feed")?;
            let took = t.elapsed();
            let wire = client.take_wire();
            results.add(svc.backend, step_full, Sample { took, wire, round });
            let etag = reply.header("etag").ok_or("an ETag")?.to_string();
            if !feed_facts
                .iter()
                .any(|(b, s, _, _)| *b == svc.backend && s == step_full)
            {
                feed_facts.push((
                    svc.backend,
                    step_full.to_string(),
                    count(&reply.body, "BEGIN:VEVENT"),
                    reply.body.len(),
                ));
            }
            let t = Instant::now();
            client
                .send("GET", path, &[("If-None-Match", etag)], "")
                .await?
                .expect(304, "a conditional fetch")?;
            let took = t.elapsed();
            let wire = client.take_wire();
            results.add(svc.backend, step_304, Sample { took, wire, round });
        }
    }
    Ok(())
}

// ------------------------------------------------------------------------------------------------------------
// The report.

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "?".into())
}

fn sorted(samples: &[Sample]) -> Vec<Duration> {
    let mut d: Vec<Duration> = samples.iter().map(|s| s.took).collect();
    d.sort();
    d
}

/// The medians of each round, as "a, b, c".
fn round_medians(samples: &[Sample], rounds: usize) -> String {
    (0..rounds)
        .filter_map(|r| {
            let of: Vec<Sample> = samples.iter().copied().filter(|s| s.round == r).collect();
            (!of.is_empty()).then(|| format!("{:.1}", ms(percentile(&sorted(&of), 50.0))))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn kib(bytes: u64) -> String {
    if bytes >= 10 * 1024 {
        format!("{:.0} KiB", bytes as f64 / 1024.0)
    } else if bytes >= 1024 {
        format!("{:.1} KiB", bytes as f64 / 1024.0)
    } else {
        format!("{bytes} B")
    }
}

fn median_wire(samples: &[Sample]) -> Wire {
    let mut v: Vec<Wire> = samples.iter().map(|s| s.wire).collect();
    v.sort_by_key(|w| w.received);
    v[v.len() / 2]
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    services: &[Service],
    results: &Results,
    feed_facts: &[(Backend, String, usize, usize)],
    started_at: Timestamp,
    wall: Duration,
    load_before: &str,
    pg_version: &str,
) -> Result<String, BoxError> {
    let mut out = String::new();
    let mut flags = String::new();
    if args.databases.no_sqlite {
        flags.push_str(" --no-sqlite");
    }
    if args.databases.no_postgres {
        flags.push_str(" --no-postgres");
    }
    writeln!(
        out,
        "Generated by `cargo run --release -p pinit-bench --bin calendar --{flags} --rounds {} --sync-reps {} \
         --feed-requests {} --out docs/benchmarks.md` on {} in {:.0} s ({} CPUs, shared; load average {load_before} \
         before, {} after; {pg_version}). Through the task service's HTTP router on a loopback port, one keep-alive \
         connection; times are client-side, first byte sent to last byte read. Bytes on the wire, headers included \
         (sent / received). {} rounds, the databases' order flipping each round.\n",
        args.rounds,
        args.sync_reps,
        args.feed_requests,
        started_at.strftime("%Y-%m-%d %H:%M UTC"),
        wall.as_secs_f64(),
        std::thread::available_parallelism().map_or(0, |n| n.get()),
        loadavg(),
        args.rounds,
    )?;
    writeln!(out, "Data, loaded through the JSON API:\n")?;
    for svc in services {
        for line in &svc.load {
            writeln!(out, "- {line}")?;
        }
    }
    writeln!(
        out,
        "\n**CalDAV, the `sync` member ({} schedules at the start; each repetition deletes 3 and creates 2)**, {} \
         repetitions per database ({} per round):\n",
        args.sync_schedules,
        args.rounds * args.sync_reps,
        args.sync_reps
    )?;
    writeln!(
        out,
        "| step | DB | requests | sent / received | median | p95 | round medians (ms) |\n|---|---|---:|---:|---:|---:|---|"
    )?;
    let steps: [(&str, String); 7] = [
        (
            "propfind",
            "initial: `PROPFIND` depth 1 (ETags of all)".into(),
        ),
        (
            "multiget_all",
            format!(
                "initial: `calendar-multiget` of all, {} per request",
                args.batch
            ),
        ),
        (
            "sync_initial",
            "initial: `sync-collection`, empty token, `getetag`".into(),
        ),
        (
            "sync_initial_data",
            "initial: `sync-collection`, empty token, with `calendar-data`".into(),
        ),
        (
            "changes",
            "10 changes through the JSON API (5 `PATCH`, 3 `DELETE`, 2 `POST`)".into(),
        ),
        (
            "sync_incremental",
            "incremental: `sync-collection` with the token".into(),
        ),
        (
            "multiget_changed",
            "incremental: `calendar-multiget` of the 7 changed".into(),
        ),
    ];
    for (key, label) in &steps {
        for svc in services {
            let Some(samples) = results.get(svc.backend, key) else {
                continue;
            };
            let d = sorted(samples);
            let w = median_wire(samples);
            writeln!(
                out,
                "| {label} | {} | {} | {} / {} | {:.1} ms | {:.1} ms | {} |",
                backend_name(svc.backend),
                w.requests,
                kib(w.sent),
                kib(w.received),
                ms(percentile(&d, 50.0)),
                ms(percentile(&d, 95.0)),
                round_medians(samples, args.rounds),
            )?;
        }
    }
    // The two ways of an initial sync, summed per repetition.
    writeln!(out)?;
    for svc in services {
        let (Some(p), Some(m), Some(s)) = (
            results.get(svc.backend, "propfind"),
            results.get(svc.backend, "multiget_all"),
            results.get(svc.backend, "sync_initial"),
        ) else {
            continue;
        };
        let mut via_propfind: Vec<Duration> =
            p.iter().zip(m).map(|(a, b)| a.took + b.took).collect();
        via_propfind.sort();
        let mut via_sync: Vec<Duration> = s.iter().zip(m).map(|(a, b)| a.took + b.took).collect();
        via_sync.sort();
        let inc = results.get(svc.backend, "sync_incremental").unwrap_or(&[]);
        let incm = results.get(svc.backend, "multiget_changed").unwrap_or(&[]);
        let mut incremental: Vec<Duration> =
            inc.iter().zip(incm).map(|(a, b)| a.took + b.took).collect();
        incremental.sort();
        writeln!(
            out,
            "- {}: a whole initial sync (ETags, then multiget of all) takes {:.0} ms (median; p95 {:.0} ms) by \
             `PROPFIND` and {:.0} ms by `sync-collection`; an incremental one after 10 changes {:.1} ms (p95 {:.1} ms), \
             2 requests.",
            backend_name(svc.backend),
            ms(percentile(&via_propfind, 50.0)),
            ms(percentile(&via_propfind, 95.0)),
            ms(percentile(&via_sync, 50.0)),
            ms(percentile(&incremental, 50.0)),
            ms(percentile(&incremental, 95.0)),
        )?;
    }

    writeln!(
        out,
        "\n**Feeds** (`GET /feeds/{{token}}.ics`), {} full fetches per feed and database ({} per round), each followed \
         by one with `If-None-Match` (304). `dense`: {} schedules, all inside the feeds' windows; `years`: {} \
         schedules four a day over {:.1} years, the feeds showing the last 30 (planned) or 90 (tracked) days and \
         what is ahead:\n",
        args.rounds * args.feed_requests,
        args.feed_requests,
        args.feed_schedules,
        args.feed_schedules,
        (args.feed_schedules as f64 / 4.0) / 365.0,
    )?;
    writeln!(
        out,
        "| feed | DB | events | body | 200: median / p95 / p99 | 200 round medians (ms) | 304: median / p95 / p99 | 304 received |\n|---|---|---:|---:|---:|---|---:|---:|"
    )?;
    for (label, kind) in [
        ("dense", "planned"),
        ("dense", "tracked"),
        ("years", "planned"),
        ("years", "tracked"),
    ] {
        let full = format!("feed {label} {kind}");
        let cond = format!("feed {label} {kind} 304");
        for svc in services {
            let (Some(f), Some(c)) = (
                results.get(svc.backend, &full),
                results.get(svc.backend, &cond),
            ) else {
                continue;
            };
            let (events, size) = feed_facts
                .iter()
                .find(|(b, s, _, _)| *b == svc.backend && *s == full)
                .map_or((0, 0), |(_, _, e, s)| (*e, *s));
            let fd = sorted(f);
            let cd = sorted(c);
            writeln!(
                out,
                "| {label}, {kind} | {} | {events} | {} | {:.1} / {:.1} / {:.1} ms | {} | {:.1} / {:.1} / {:.1} ms | {} B |",
                backend_name(svc.backend),
                kib(size as u64),
                ms(percentile(&fd, 50.0)),
                ms(percentile(&fd, 95.0)),
                ms(percentile(&fd, 99.0)),
                round_medians(f, args.rounds),
                ms(percentile(&cd, 50.0)),
                ms(percentile(&cd, 95.0)),
                ms(percentile(&cd, 99.0)),
                median_wire(c).received,
            )?;
        }
    }
    Ok(out)
}

// ------------------------------------------------------------------------------------------------------------

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    pinit_bench::allocator_as_shipped();
    let args = Args::parse();
    let started_at = Timestamp::now();
    let started = Instant::now();
    let load_before = loadavg();
    let backends = args.databases.backends()?;
    let mut services = Vec::new();
    let outcome = async {
        for b in &backends {
            services.push(start_service(&args, *b).await?);
        }
        for svc in &mut services {
            load(&args, svc).await?;
        }
        let mut results = Results::default();
        let mut feed_facts = Vec::new();
        for round in 0..args.rounds {
            let order: Vec<usize> = if round % 2 == 0 {
                (0..services.len()).collect()
            } else {
                (0..services.len()).rev().collect()
            };
            for i in order {
                let svc = &mut services[i];
                eprintln!(
                    "round {}/{}: {} — CalDAV × {}, feeds × {}",
                    round + 1,
                    args.rounds,
                    backend_name(svc.backend),
                    args.sync_reps,
                    args.feed_requests
                );
                for r in 0..args.sync_reps {
                    caldav_rep(&args, svc, &mut results, round, round * args.sync_reps + r).await?;
                }
                feeds_round(&args, svc, &mut results, &mut feed_facts, round).await?;
            }
        }
        let pg_version = match services.iter().find(|s| s.backend == Backend::Postgres) {
            Some(svc) => {
                let v: String = sqlx::query_scalar("SHOW server_version")
                    .fetch_one(svc.db.pool())
                    .await?;
                let sc: String = sqlx::query_scalar("SHOW synchronous_commit")
                    .fetch_one(svc.db.pool())
                    .await?;
                format!("PostgreSQL {v}, synchronous_commit {sc}")
            }
            None => "no PostgreSQL".into(),
        };
        report(
            &args,
            &services,
            &results,
            &feed_facts,
            started_at,
            started.elapsed(),
            &load_before,
            &pg_version,
        )
    }
    .await;
    for svc in &services {
        svc.stop.cancel();
        svc.bench.drop_database(args.keep_db).await;
    }
    let block = outcome?;
    pinit_bench::publish(args.out.as_deref(), MARKER, SECTION, &block)?;
    Ok(())
}
