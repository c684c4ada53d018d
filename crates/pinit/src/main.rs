use std::process::ExitCode;

use clap::Parser;
use pinit::cli::{Cli, Command, Context, KeyKind, KeysCommand, KeysRotateArgs};
use pinit::config::{self, Config, Mode};
use pinit::run;
use pinit_kernel::{Lifecycle, SystemClock, allocator};

/// Exit codes: 0 success, 1 failure at run time, 2 bad configuration or usage.
const EXIT_FAILURE: u8 = 1;
const EXIT_CONFIG: u8 = 2;

/// mimalloc instead of glibc malloc, set up by [`allocator::return_freed_memory`] (docs/adr/0009-allocator.md).
#[global_allocator]
static GLOBAL: allocator::Allocator = allocator::Allocator;

fn main() -> ExitCode {
    allocator::return_freed_memory();
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
    // Outbound HTTPS trusts tls.ca_file from here on, the trace exporter's included (the files were checked
    // with the configuration).
    if let Err(e) = pinit_kernel::tls::TlsMaterial::load(&config.tls)
        .and_then(|tls| pinit_kernel::tls::trust_for_https(&tls))
    {
        eprintln!("pinit: invalid configuration: {}: {e}", e.key());
        return ExitCode::from(EXIT_CONFIG);
    }
    // Inside the runtime: the trace exporter (when OTEL_* asks for one) sends on it.
    let telemetry = {
        let _runtime = runtime.enter();
        pinit_kernel::telemetry::init(&config.log, &service_name(mode))
    };
    let telemetry = match telemetry {
        Ok(telemetry) => telemetry,
        Err(e) => {
            eprintln!("pinit: invalid configuration: {e}");
            return ExitCode::from(EXIT_CONFIG);
        }
    };
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let code = runtime.block_on(dispatch(cli.command, mode, config));
    // The last spans go out on the runtime, which is still alive here.
    telemetry.shutdown();
    code
}

/// The `service.name` of this process's spans when `OTEL_SERVICE_NAME` does not set one.
fn service_name(mode: Mode) -> String {
    match mode {
        Mode::Serve => "pinit".into(),
        other => format!("pinit-{}", other.name()),
    }
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
        Some(Command::Keys(KeysCommand::Rotate(args))) => match rotate_keys(&config, &args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => fail(e.as_ref()),
        },
        Some(Command::Backup(args)) => {
            let mut progress = |line: String| println!("{line}");
            match pinit::backup::backup(&config, &args.dir, args.force, &mut progress).await {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Some(Command::Restore(args)) => {
            let mut progress = |line: String| println!("{line}");
            match pinit::backup::restore(&config, &args.dir, args.force, &mut progress) {
                Ok(_) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
        Some(Command::Config(_)) => {
            print!("{}", config::render(&config));
            ExitCode::SUCCESS
        }
        Some(Command::User(command)) => {
            match pinit::users::run(&config, &command, &mut std::io::stdout()).await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(&e),
            }
        }
    }
}

async fn run_services(mode: Mode, config: &Config) -> ExitCode {
    let lifecycle = Lifecycle::new(config.shutdown.drain_timeout.get())
        .with_lame_duck(config.shutdown.lame_duck.get());
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

/// `pinit keys rotate`: the JWT signing key with an overlap, or (`--vapid`) the VAPID key without one.
fn rotate_keys(config: &Config, args: &KeysRotateArgs) -> Result<(), Box<dyn std::error::Error>> {
    let dir = args.dir.clone().unwrap_or_else(|| config.keys_dir());
    if args.vapid {
        let key = pinit_notification::vapid::VapidKey::generate();
        for path in key.save(&dir, true)? {
            println!("wrote {}", path.display());
        }
        println!("VAPID public key: {}", key.public_key_base64url());
        println!(
            "Restart the notification service (pinit serve, or pinit notification). Browsers subscribed \
             with the old key get no pushes until they subscribe again; the web client does so when it \
             next opens and sees the new key."
        );
        return Ok(());
    }
    let rotated = pinit_auth::keys::rotate(
        &dir,
        pinit_kernel::Clock::now(&SystemClock),
        args.activate_after.get(),
        config.auth.access_token_ttl.get(),
        args.force,
    )?;
    for path in &rotated.written {
        println!("wrote {}", path.display());
    }
    println!("previous JWT key id (kid): {}", rotated.previous_kid);
    println!("new JWT key id (kid):      {}", rotated.kid);
    println!(
        "Published and accepted now; the new key signs from {}; the previous key is accepted until {}.",
        rotated.rotation.active_from, rotated.rotation.previous_retires_at
    );
    println!(
        "Running auth services take the new keys within a second (no restart). Copies elsewhere (a \
         Kubernetes Secret) must be updated with every file of {} before {}.",
        dir.display(),
        rotated.rotation.active_from
    );
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
