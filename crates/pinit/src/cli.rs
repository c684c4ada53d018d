//! The `pinit` command line.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use pinit_kernel::config::HumanDuration;

use crate::config::{Mode, Overrides};

const ABOUT: &str = "Pinit — schedules and time recording, as one program or as four services.";

const LONG_ABOUT: &str = "\
Pinit — schedules and time recording, as one program or as four services.

Run `pinit` (or `pinit serve`) to start everything in one process on SQLite: open
http://127.0.0.1:8080 and you are done. Data and keys are kept in ./pinit-data.

For a cluster, run `pinit auth`, `pinit task`, `pinit notification` and `pinit gateway` as
separate processes on PostgreSQL and RabbitMQ (docs/run-distributed.md: on VMs with systemd;
docs/deploy.md: on Kubernetes).

Configuration comes from, lowest to highest: built-in defaults, a TOML file (--config),
PINIT_* environment variables (PINIT_LOG_FORMAT=json, PINIT_TASK_DATABASE_URL=…), then flags.
`pinit config` shows the result.";

#[derive(Debug, Parser)]
#[command(name = "pinit", version, about = ABOUT, long_about = LONG_ABOUT)]
pub struct Cli {
    /// TOML configuration file.
    #[arg(short, long, global = true, env = "PINIT_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Log format: `pretty` for people, `json` for log collectors. [config: log.format]
    #[arg(long, global = true, value_name = "FORMAT", value_parser = ["pretty", "json"])]
    pub log_format: Option<String>,

    /// Log filter, e.g. `info`, `debug`, `info,pinit_task=debug`. [config: log.level]
    #[arg(long, global = true, value_name = "FILTER")]
    pub log_level: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run all four services in one process on SQLite (the default command).
    ///
    /// The gateway listens on --host:--port; the auth, task and notification services listen on
    /// loopback ports of their own. The data directory holds one SQLite database per service and
    /// the keys, generated on first run.
    Serve(ServeArgs),
    /// Run the auth service alone (PostgreSQL + RabbitMQ).
    Auth(ServiceArgs),
    /// Run the task service alone (PostgreSQL + RabbitMQ; gRPC on task.grpc_port).
    Task(ServiceArgs),
    /// Run the notification service alone (PostgreSQL + RabbitMQ).
    Notification(ServiceArgs),
    /// Run the gateway alone, in front of the three services.
    Gateway(ServiceArgs),
    /// Apply pending database migrations. Safe to repeat; safe with several replicas.
    ///
    /// Uses each service's configured database URL (PINIT_AUTH_DATABASE_URL, …); without one,
    /// the SQLite database of `pinit serve` in the data directory.
    Migrate(MigrateArgs),
    /// Manage keys: the JWT signing key pair and the VAPID (Web Push) key.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// Back up the data of `pinit serve` — its SQLite databases and keys — while it runs.
    ///
    /// Each database is copied in one transaction (SQLite `VACUUM INTO`) on a connection of its own,
    /// so the running instance keeps serving; every write it acknowledged before the backup began is
    /// in the copy. The keys directory is copied as it is (private keys included: keep the backup as
    /// safe as the data directory). DIR gets manifest.json (time, version, every file with its size
    /// and SHA-256), auth.db, task.db, notification.db and keys/; it is written beside DIR first and
    /// renamed into place when complete. DIR must be new or empty (--force replaces an earlier backup).
    Backup(BackupArgs),
    /// Restore a backup made by `pinit backup` into the data directory.
    ///
    /// Refused while a pinit process uses the data directory (stop `pinit serve` first). Checks every
    /// file against the manifest, copies them into a temporary directory inside the data directory,
    /// then moves the current databases and keys aside and the backup's into place. Refused when the
    /// data directory already holds databases or keys, unless --force.
    Restore(RestoreArgs),
    /// Print the effective configuration as TOML, secrets redacted.
    Config(ConfigArgs),
    /// Manage members as an operator: list them, reset a password, disable or enable a member.
    ///
    /// Works on the auth database directly, while Pinit runs or not: the SQLite database of
    /// `pinit serve` in the data directory (--data-dir), or the configured auth.database_url
    /// (PINIT_AUTH_DATABASE_URL, or --database-url) in a distributed setup. Pending migrations of
    /// the auth database are applied first.
    #[command(subcommand)]
    User(UserCommand),
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// List every member: id, username, nickname, when it signed up, whether it is disabled.
    List(UserDbArgs),
    /// Give a member a new random password, printed once, and sign out all its sessions.
    ///
    /// Tell the member the password over a safe channel; they should change it in Settings →
    /// Change password after signing in. API tokens and app passwords keep working (the member
    /// revokes them in Settings, or disable the member).
    ResetPassword(UserArgs),
    /// Disable a member: no login, refresh, app password or API token until enabled again.
    ///
    /// Its sessions end at once (access tokens it already holds expire within
    /// auth.access_token_ttl, 5 minutes by default); gateways refuse its API tokens and app
    /// passwords within 5 seconds. Its data is kept.
    Disable(UserArgs),
    /// Enable a disabled member again (its earlier sessions stay ended; it logs in again).
    Enable(UserArgs),
}

#[derive(Debug, Args)]
pub struct UserDbArgs {
    /// The data directory of `pinit serve` (its auth.db). [default: ./pinit-data] [config: data_dir]
    #[arg(short, long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// The auth database instead, e.g. postgres://pinit@db:5432/pinit_auth. [config: auth.database_url]
    #[arg(long, value_name = "URL")]
    pub database_url: Option<String>,
}

#[derive(Debug, Args)]
pub struct UserArgs {
    /// The member's username (as they log in with it).
    #[arg(value_name = "USERNAME")]
    pub username: String,
    #[command(flatten)]
    pub db: UserDbArgs,
}

impl UserCommand {
    /// Where the command finds the auth database.
    pub fn db(&self) -> &UserDbArgs {
        match self {
            UserCommand::List(db) => db,
            UserCommand::ResetPassword(a) | UserCommand::Disable(a) | UserCommand::Enable(a) => {
                &a.db
            }
        }
    }
}

#[derive(Debug, Args, Default)]
pub struct ServeArgs {
    /// Address the gateway listens on (0.0.0.0 to allow other machines). [config: http.host]
    #[arg(long, value_name = "IP")]
    pub host: Option<IpAddr>,
    /// Port of the gateway. [default: 8080] [config: http.port]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<u16>,
    /// Where the databases and keys live; created on first run. [default: ./pinit-data] [config: data_dir]
    #[arg(short, long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ServiceArgs {
    /// Address to listen on. [default: 0.0.0.0] [config: http.host]
    #[arg(long, value_name = "IP")]
    pub host: Option<IpAddr>,
    /// HTTP port. [default: gateway 8080, auth 8081, task 8082, notification 8083 — metrics on 9095–9098, task
    /// gRPC on 9090, so the four run side by side on one host] [config: http.port]
    #[arg(short, long, value_name = "PORT")]
    pub port: Option<u16>,
}

#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Directory to write the backup to (new or empty).
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The data directory of `pinit serve`. [default: ./pinit-data] [config: data_dir]
    #[arg(short, long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Replace an earlier backup in DIR.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory written by `pinit backup`.
    #[arg(value_name = "DIR")]
    pub dir: PathBuf,
    /// The data directory to restore into. [default: ./pinit-data] [config: data_dir]
    #[arg(short, long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Replace the databases and keys the data directory holds.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Only these services' databases (repeatable). [default: all three]
    #[arg(long = "service", value_name = "SERVICE", value_enum)]
    pub services: Vec<Context>,
    /// Data directory of the SQLite databases. [config: data_dir]
    #[arg(short, long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
}

/// A context with a database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Context {
    Auth,
    Task,
    Notification,
}

impl Context {
    pub const ALL: [Context; 3] = [Context::Auth, Context::Task, Context::Notification];

    pub fn name(self) -> &'static str {
        match self {
            Context::Auth => "auth",
            Context::Task => "task",
            Context::Notification => "notification",
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate keys into the keys directory (refuses to replace existing ones without --force).
    Generate(KeysGenerateArgs),
    /// Rotate the JWT signing key while Pinit runs: no restart, no member logged out.
    ///
    /// The current key becomes the previous one (jwt-previous-private.pem) and a new pair the current
    /// one (jwt-private.pem, jwt-public.pem); jwt-rotation.json records when each applies:
    ///
    ///   * from now on the auth service publishes both public keys (/.well-known/jwks.json) and accepts
    ///     tokens signed by either;
    ///   * from now + --activate-after it signs new access tokens with the new key (a new `kid`);
    ///   * from then + the access-token lifetime (auth.access_token_ttl) + 5 s leeway, when every token
    ///     the previous key signed has expired, the previous key is neither accepted nor published.
    ///
    /// Running auth services (`pinit serve`, and every `pinit auth` replica reading the same files)
    /// check the keys directory every second and take the new keys without a restart. Refused while an
    /// earlier rotation's previous key is still accepted (--force drops it early).
    ///
    /// With --vapid it replaces the VAPID (Web Push) key instead: that cannot overlap — a browser's
    /// push subscription is bound to the key it was made with — so browsers must subscribe again (the
    /// web client does when it sees the new key) and the notification service must be restarted.
    /// See docs/deploy.md, "Key rotation".
    #[command(verbatim_doc_comment)]
    Rotate(KeysRotateArgs),
}

#[derive(Debug, Args)]
pub struct KeysRotateArgs {
    /// The keys directory. [default: <data_dir>/keys] [config: keys.dir]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// How long after the rotation the new key starts signing: at least the time every process
    /// sharing the keys needs to see the new files (1 s for processes on one file system; a
    /// Kubernetes Secret volume takes up to a couple of minutes: use 3m there).
    #[arg(long, value_name = "DURATION", default_value = "5s")]
    pub activate_after: HumanDuration,
    /// Rotate even though the previous key is still accepted (tokens it signed are then refused).
    #[arg(long)]
    pub force: bool,
    /// Replace the VAPID key instead of the JWT key (browsers must subscribe again; restart notification).
    #[arg(long)]
    pub vapid: bool,
}

#[derive(Debug, Args)]
pub struct KeysGenerateArgs {
    /// Directory to write to. [default: <data_dir>/keys] [config: keys.dir]
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Which keys.
    #[arg(long, value_enum, default_value = "all")]
    pub only: KeyKind,
    /// Replace existing keys. Tokens signed with a replaced JWT key stop verifying; browsers
    /// subscribed with a replaced VAPID key must subscribe again.
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum KeyKind {
    All,
    Jwt,
    Vapid,
}

#[derive(Debug, Args)]
pub struct ConfigArgs {
    /// Show the configuration as this command would see it.
    #[arg(
        long = "for",
        value_enum,
        default_value = "serve",
        value_name = "COMMAND"
    )]
    pub for_mode: Mode,
}

impl Cli {
    /// The mode whose defaults apply, and the flags that override configuration keys.
    pub fn mode_and_overrides(&self) -> (Mode, Overrides) {
        let mut o = Overrides::default();
        if let Some(f) = &self.log_format {
            o.set("log.format", "--log-format", f.clone());
        }
        if let Some(l) = &self.log_level {
            o.set("log.level", "--log-level", l.clone());
        }
        let listen = |o: &mut Overrides, host: &Option<IpAddr>, port: &Option<u16>| {
            if let Some(h) = host {
                o.set("http.host", "--host", h.to_string());
            }
            if let Some(p) = port {
                o.set("http.port", "--port", *p);
            }
        };
        let data_dir = |o: &mut Overrides, dir: &Option<PathBuf>| {
            if let Some(d) = dir {
                o.set("data_dir", "--data-dir", d.to_string_lossy().into_owned());
            }
        };
        let mode = match &self.command {
            None => Mode::Serve,
            Some(Command::Serve(a)) => {
                listen(&mut o, &a.host, &a.port);
                data_dir(&mut o, &a.data_dir);
                Mode::Serve
            }
            Some(Command::Auth(a)) => {
                listen(&mut o, &a.host, &a.port);
                Mode::Auth
            }
            Some(Command::Task(a)) => {
                listen(&mut o, &a.host, &a.port);
                Mode::Task
            }
            Some(Command::Notification(a)) => {
                listen(&mut o, &a.host, &a.port);
                Mode::Notification
            }
            Some(Command::Gateway(a)) => {
                listen(&mut o, &a.host, &a.port);
                Mode::Gateway
            }
            Some(Command::Migrate(a)) => {
                data_dir(&mut o, &a.data_dir);
                Mode::Serve
            }
            Some(Command::Keys(_)) => Mode::Serve,
            Some(Command::Backup(BackupArgs { data_dir: dir, .. }))
            | Some(Command::Restore(RestoreArgs { data_dir: dir, .. })) => {
                data_dir(&mut o, dir);
                Mode::Serve
            }
            Some(Command::Config(a)) => a.for_mode,
            Some(Command::User(command)) => {
                let db = command.db();
                data_dir(&mut o, &db.data_dir);
                if let Some(url) = &db.database_url {
                    o.set("auth.database_url", "--database-url", url.clone());
                }
                Mode::Serve
            }
        };
        (mode, o)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn no_command_means_serve() {
        let cli = Cli::parse_from(["pinit"]);
        assert_eq!(cli.mode_and_overrides().0, Mode::Serve);
        let cli = Cli::parse_from(["pinit", "serve", "--port", "9000", "--data-dir", "/tmp/x"]);
        let (mode, o) = cli.mode_and_overrides();
        assert_eq!(mode, Mode::Serve);
        let keys: Vec<&str> = o.entries.iter().map(|(k, _, _)| *k).collect();
        assert_eq!(keys, vec!["http.port", "data_dir"]);
    }
}
