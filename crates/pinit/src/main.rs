use std::ffi::{c_int, c_long};
use std::process::ExitCode;

use clap::Parser;
use pinit::cli::{Cli, Command, Context, KeyKind, KeysCommand};
use pinit::config::{self, Config, Mode};
use pinit::run;
use pinit_kernel::{Lifecycle, SystemClock};

/// Exit codes: 0 success, 1 failure at run time, 2 bad configuration or usage.
const EXIT_FAILURE: u8 = 1;
const EXIT_CONFIG: u8 = 2;

/// mimalloc instead of glibc malloc: less allocator CPU under load (the notification dispatcher, the gateway), and
/// with [`return_freed_memory`] the same memory figures (docs/adr/0009-allocator.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc.h's `mi_option_t` (the same number in mimalloc 2 and 3; a test checks it).
const MI_OPTION_PURGE_DELAY: c_int = 15;

unsafe extern "C" {
    /// mimalloc's, linked by `libmimalloc-sys`.
    safe fn mi_option_set(option: c_int, value: c_long);
}

fn main() -> ExitCode {
    return_freed_memory();
    let cli = Cli::parse();
    let (mode, overrides) = cli.mode_and_overrides();
    let loaded = match config::load(mode, cli.config.as_deref(), &overrides) {
        Ok(loaded) => loaded,
        Err(e) => {
            eprintln!("pinit: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    let config = loaded.config;
    if let Err(e) = pinit_kernel::telemetry::init(&config.log) {
        eprintln!("pinit: invalid configuration: {e}");
        return ExitCode::from(EXIT_CONFIG);
    }
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("pinit: cannot start the async runtime: {e}");
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    runtime.block_on(dispatch(cli.command, mode, config))
}

async fn dispatch(command: Option<Command>, mode: Mode, config: Config) -> ExitCode {
    match command {
        None
        | Some(
            Command::Serve(_)
            | Command::Auth(_)
            | Command::Task(_)
            | Command::Notification(_)
            | Command::Gateway(_),
        ) => run_services(mode, &config).await,
        Some(Command::Migrate(args)) => {
            let contexts = if args.services.is_empty() {
                Context::ALL.to_vec()
            } else {
                args.services
            };
            match run::migrate(&config, &contexts).await {
                Ok(reports) => {
                    for (context, url, report) in reports {
                        if report.applied.is_empty() {
                            println!("{}: up to date ({url})", context.name());
                        }
                        for (set, version, description) in report.applied {
                            println!(
                                "{}: applied {set} {version} {description} ({url})",
                                context.name()
                            );
                        }
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(&e),
            }
        }
        Some(Command::Keys(KeysCommand::Generate(args))) => {
            let dir = args.dir.unwrap_or_else(|| config.keys_dir());
            match generate_keys(&dir, args.only, args.force) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Some(Command::Config(_)) => {
            print!("{}", config::render(&config));
            ExitCode::SUCCESS
        }
    }
}

async fn run_services(mode: Mode, config: &Config) -> ExitCode {
    let lifecycle = Lifecycle::new(config.shutdown.drain_timeout.get())
        .with_lame_duck(config.shutdown.lame_duck.get());
    pinit_messaging::outbox::set_notify_min_interval(
        config.messaging.relay.notify_min_interval.get(),
    );
    let started = match mode {
        Mode::Serve => run::serve(config, &lifecycle, SystemClock::shared()).await,
        _ => run::service(mode, config, &lifecycle, SystemClock::shared()).await,
    };
    let started = match started {
        Ok(s) => s,
        Err(e) => {
            lifecycle.begin_shutdown();
            let _ = lifecycle.drain().await;
            return fail(&e);
        }
    };
    let outcome = lifecycle.run().await;
    drop(started);
    ExitCode::from(outcome.exit_code() as u8)
}

fn generate_keys(
    dir: &std::path::Path,
    only: KeyKind,
    force: bool,
) -> Result<(), pinit_kernel::keyfile::KeyFileError> {
    if matches!(only, KeyKind::All | KeyKind::Jwt) {
        let key = pinit_auth::keys::SigningKey::generate()?;
        for path in key.save(dir, force)? {
            println!("wrote {}", path.display());
        }
        println!("JWT key id (kid): {}", key.kid());
    }
    if matches!(only, KeyKind::All | KeyKind::Vapid) {
        let key = pinit_notification::vapid::VapidKey::generate();
        for path in key.save(dir, force)? {
            println!("wrote {}", path.display());
        }
        println!("VAPID public key: {}", key.public_key_base64url());
    }
    Ok(())
}

fn fail(error: &dyn std::error::Error) -> ExitCode {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let text = cause.to_string();
        if !message.contains(&text) {
            message.push_str(": ");
            message.push_str(&text);
        }
        source = cause.source();
    }
    eprintln!("pinit: {message}");
    ExitCode::from(EXIT_FAILURE)
}

/// mimalloc keeps memory freed to it for 1 s (`purge_delay`) before handing it back to the system, and only acts
/// on that at a later allocation — which a quiet process does not make. So auth, after a burst of logins (argon2id
/// allocates 19 MiB per hash), held ~125 MiB until its blocking threads exited, and idle processes kept start-up
/// garbage. With no delay (and `no_thp`) the memory figures are those of glibc with `mmap_threshold=131072`, for
/// some of mimalloc's CPU gain (docs/adr/0009-allocator.md). `MIMALLOC_PURGE_DELAY` set by an operator wins
/// (mimalloc read it before `main`).
fn return_freed_memory() {
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() {
        mi_option_set(MI_OPTION_PURGE_DELAY, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    unsafe extern "C" {
        safe fn mi_option_get(option: c_int) -> c_long;
    }

    /// Option 15 is the purge delay: its default is mimalloc 3's 1000 ms (mimalloc 2: 10 ms); the options around it
    /// default to 0 or 1, so a renumbering in a mimalloc upgrade fails here.
    #[test]
    fn option_15_is_the_purge_delay() {
        if std::env::var_os("MIMALLOC_PURGE_DELAY").is_some() {
            return;
        }
        let default = mi_option_get(MI_OPTION_PURGE_DELAY);
        assert!(
            matches!(default, 1000 | 10),
            "mimalloc option {MI_OPTION_PURGE_DELAY} defaults to {default}"
        );
    }
}
