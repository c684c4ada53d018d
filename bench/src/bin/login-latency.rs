//! Login latency for several argon2id cost settings, measured in one run so the figures compare as ratios.
//!
//! `cargo run --release -p pinit-bench --bin login-latency [-- --rounds N --out docs/benchmarks/login-latency.md]`
//!
//! Each setting gets its own SQLite database with one member; logins run one at a time (the latency a member
//! sees on an idle server), after a warm-up. A login is the whole use case: rate-limit bookkeeping, member
//! lookup, argon2id verification, refresh-token family insert, RS256 access-token signing.

use std::sync::Arc;
use std::time::Instant;

use pinit_auth::app::SignupRequest;
use pinit_auth::keys::SigningKey;
use pinit_auth::oauth::ProviderRegistry;
use pinit_auth::password::Hasher;
use pinit_auth::settings::{PasswordSettings, Settings};
use pinit_auth::tokens::TokenIssuer;
use pinit_auth::{Auth, MIGRATIONS};
use pinit_bench::{ms, percentile};
use pinit_kernel::config::DatabasePoolConfig;
use pinit_kernel::{Db, SharedClock, SystemClock};
use pinit_messaging::Outbox;

struct Case {
    name: &'static str,
    memory_kib: u32,
    iterations: u32,
}

const CASES: &[Case] = &[
    Case {
        name: "OWASP minimum, m=19 MiB t=2 (default)",
        memory_kib: 19 * 1024,
        iterations: 2,
    },
    Case {
        name: "m=46 MiB t=1",
        memory_kib: 46 * 1024,
        iterations: 1,
    },
    Case {
        name: "m=64 MiB t=3",
        memory_kib: 64 * 1024,
        iterations: 3,
    },
    Case {
        name: "m=8 MiB t=1 (too weak; for scale)",
        memory_kib: 8 * 1024,
        iterations: 1,
    },
];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    pinit_bench::allocator_as_shipped();
    let mut rounds = 60usize;
    let mut out: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--rounds" => rounds = args.next().ok_or("--rounds needs a number")?.parse()?,
            "--out" => out = Some(args.next().ok_or("--out needs a path")?),
            "-h" | "--help" => {
                println!("login-latency [--rounds N] [--out FILE.md]");
                return Ok(());
            }
            other => return Err(format!("unknown argument {other}").into()),
        }
    }
    let key_pem = SigningKey::generate()?.private_pem()?;
    let clock: SharedClock = SystemClock::shared();
    let mut rows = Vec::new();
    for case in CASES {
        let dir = tempfile::tempdir()?;
        let db = Db::connect(
            &Db::sqlite_url(&dir.path().join("auth.db")),
            &DatabasePoolConfig::default(),
        )
        .await?;
        db.migrate(pinit_auth::NAME, MIGRATIONS).await?;
        let mut settings = Settings::default();
        settings.rate_limit.enabled = true;
        settings.rate_limit.login_per_ip = u32::MAX;
        settings.password = PasswordSettings {
            memory_kib: case.memory_kib,
            iterations: case.iterations,
            parallelism: 1,
            max_concurrent: 2,
        };
        let key = SigningKey::from_pem(&key_pem, std::path::Path::new("bench"))?;
        let tokens = TokenIssuer::new(
            key.into(),
            &settings.issuer,
            settings.access_token_ttl.get(),
        );
        let auth = Auth::new(
            db.clone(),
            Arc::clone(&clock),
            Hasher::new(&settings.password)?,
            tokens,
            settings.clone(),
            Outbox::new(Arc::clone(&clock), std::time::Duration::ZERO),
            ProviderRegistry::new(&settings.oauth)?,
        );
        auth.signup(SignupRequest {
            client_ip: "bench",
            username: Some("bench-member"),
            password: Some("correct horse battery"),
            ..SignupRequest::default()
        })
        .await?;
        for _ in 0..3 {
            auth.login("bench", Some("bench-member"), Some("correct horse battery"))
                .await?;
        }
        let mut samples = Vec::with_capacity(rounds);
        for i in 0..rounds {
            let started = Instant::now();
            auth.login(
                &format!("ip{i}"),
                Some("bench-member"),
                Some("correct horse battery"),
            )
            .await?;
            samples.push(started.elapsed());
        }
        samples.sort();
        rows.push((
            case.name,
            percentile(&samples, 50.0),
            percentile(&samples, 95.0),
        ));
        eprintln!(
            "{}: p50 {:.1} ms",
            case.name,
            ms(rows.last().map(|r| r.1).unwrap_or_default())
        );
    }
    let base = rows[0].1;
    let mut report = String::new();
    report.push_str(
        "| argon2id setting | login p50 | login p95 | p50 vs default |\n|---|---|---|---|\n",
    );
    for (name, p50, p95) in &rows {
        report.push_str(&format!(
            "| {name} | {:.1} ms | {:.1} ms | {:.2}× |\n",
            ms(*p50),
            ms(*p95),
            p50.as_secs_f64() / base.as_secs_f64().max(f64::EPSILON)
        ));
    }
    let header = format!(
        "<!-- generated by `cargo run --release -p pinit-bench --bin login-latency -- --rounds {rounds}` on {} -->\n",
        jiff::Timestamp::now().strftime("%Y-%m-%d")
    );
    let text = format!("{header}{report}");
    match out {
        Some(path) => std::fs::write(&path, &text)?,
        None => print!("{text}"),
    }
    Ok(())
}
