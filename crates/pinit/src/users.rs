//! `pinit user …`: an operator's member management on the auth database (the use cases are
//! `pinit_auth::app::Operator`'s): list, reset a password (printed once), disable, enable.

use std::io::Write;

use pinit_auth::app::{AuthError, Operator};
use pinit_auth::domain::Account;
use pinit_auth::password::{Hasher, PasswordError};
use pinit_kernel::{Db, DbError, SystemClock};

use crate::cli::{Context, UserCommand};
use crate::config::{Config, Mode};
use crate::run::{self, StartError};

/// Why a `pinit user` command failed.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error(
        "there is no auth database at {0}: start `pinit serve` with this data directory once, or pass --data-dir or --database-url"
    )]
    NoDatabase(String),
    #[error(transparent)]
    Start(#[from] StartError),
    #[error(transparent)]
    Database(#[from] DbError),
    #[error("cannot hash the password: {0}")]
    Password(#[from] PasswordError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot write the output: {0}")]
    Output(#[from] std::io::Error),
}

/// Runs `command` on the configured auth database, writing what it has to say to `out`.
pub async fn run(
    config: &Config,
    command: &UserCommand,
    out: &mut dyn Write,
) -> Result<(), UserError> {
    let operator = operator(config).await?;
    match command {
        UserCommand::List(_) => {
            let accounts = operator.accounts().await?;
            write_accounts(out, &accounts)?;
        }
        UserCommand::ResetPassword(args) => {
            let password = operator.reset_password(&args.username).await?;
            writeln!(out, "New password for {}: {password}", args.username.trim())?;
            writeln!(
                out,
                "It is shown only now. Every session of this member is signed out; ask them to change it in \
                 Settings → Change password after signing in."
            )?;
        }
        UserCommand::Disable(args) => {
            let account = operator.set_disabled(&args.username, true).await?;
            writeln!(
                out,
                "{} is disabled (since {}): no login, refresh, app password or API token. Its sessions are \
                 ended; gateways refuse its tokens within 5 seconds.",
                account.username,
                account
                    .disabled_at
                    .map(|t| t.to_string())
                    .unwrap_or_default()
            )?;
        }
        UserCommand::Enable(args) => {
            let account = operator.set_disabled(&args.username, false).await?;
            writeln!(out, "{} is enabled and may log in again.", account.username)?;
        }
    }
    Ok(())
}

/// The operator's use cases on the auth database, migrated to this version's schema.
async fn operator(config: &Config) -> Result<Operator, UserError> {
    let url = config
        .database_url(Context::Auth.name(), Mode::Serve)
        .map_err(StartError::from)?;
    if config.auth.database_url.is_none() {
        let file = config.data_dir.join("auth.db");
        if !file.exists() {
            return Err(UserError::NoDatabase(file.display().to_string()));
        }
    }
    run::migrate(config, &[Context::Auth]).await?;
    let db = Db::connect(&url, &config.database).await?;
    let hasher = Hasher::new(&config.auth.password)?;
    Ok(Operator::new(db, hasher, SystemClock::shared()))
}

/// The members as a table: id, username, nickname, signed up, status.
fn write_accounts(out: &mut dyn Write, accounts: &[Account]) -> std::io::Result<()> {
    let rows: Vec<[String; 5]> = accounts
        .iter()
        .map(|a| {
            let status = match a.disabled_at {
                Some(at) => format!("disabled since {at}"),
                None => "active".into(),
            };
            let mut username = a.username.clone();
            if a.social_login {
                username.push_str(" (OAuth)");
            }
            [
                a.id.get().to_string(),
                username,
                a.nickname.clone().unwrap_or_default(),
                a.created_at.strftime("%Y-%m-%d %H:%M UTC").to_string(),
                status,
            ]
        })
        .collect();
    let header = ["ID", "USERNAME", "NICKNAME", "SIGNED UP", "STATUS"].map(String::from);
    let widths: Vec<usize> = (0..5)
        .map(|i| {
            std::iter::once(&header)
                .chain(&rows)
                .map(|r| r[i].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    for row in std::iter::once(&header).chain(&rows) {
        let cells: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        writeln!(out, "{}", cells.join("  ").trim_end())?;
    }
    writeln!(out, "{} member(s)", accounts.len())
}
