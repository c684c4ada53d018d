//! `pinit backup` and `pinit restore`: the embedded mode's data — one SQLite database per context and the keys —
//! copied while `pinit serve` runs, and put back into a data directory no process is using.
//!
//! A backup is a directory:
//!
//! ```text
//! manifest.json                       format, Pinit version, when, and every file with its size and SHA-256
//! auth.db, task.db, notification.db   `VACUUM INTO` copies: each one transaction-consistent
//! keys/…                              every file of the keys directory
//! ```
//!
//! Each database is copied in one read transaction on a connection of its own (`VACUUM INTO`), so the running
//! instance keeps writing; every write acknowledged before the backup began is in the copy. The three databases
//! are copied one after the other, producers first (auth, task, notification), and an event published by one
//! context shortly before its copy may not yet have reached the copy of its consumer: so in the copies, the
//! outbox rows published from a minute before the backup began on are marked unpublished again
//! ([`REPUBLISH_WINDOW`]). The restored instance publishes them once more and the consumers drop those they
//! had (inbox), so no event falls between two copies.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use jiff::Timestamp;
use pinit_kernel::{Backend, Clock, Db, SystemClock};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::cli::Context;
use crate::config::{Config, Mode};
use crate::run::{StartError, lock_data_dir};

/// The manifest's file name inside a backup.
pub const MANIFEST: &str = "manifest.json";
/// The manifest format this program writes and reads.
pub const FORMAT: u32 = 1;
/// Outbox rows published this long before a backup began are published again after a restore.
pub const REPUBLISH_WINDOW: Duration = Duration::from_secs(60);
/// The keys directory inside a backup.
const KEYS: &str = "keys";

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{0} is not empty; choose an empty or new directory, or pass --force to replace an earlier backup there"
    )]
    TargetNotEmpty(PathBuf),
    #[error(
        "{0} holds files that are not a Pinit backup (no manifest.json); it is not replaced, even with --force"
    )]
    NotABackup(PathBuf),
    #[error(
        "{context}.database_url is set: `pinit backup` copies the SQLite databases of `pinit serve`; back up \
         PostgreSQL with pg_dump (docs/deploy.md, backups)"
    )]
    NotSqlite { context: &'static str },
    #[error(
        "no {context} database at {path}: is this the data directory of `pinit serve` (--data-dir)?"
    )]
    NoDatabase {
        context: &'static str,
        path: PathBuf,
    },
    #[error(
        "a pinit process is using the data directory {0}: stop it before restoring (a backup can be taken while it runs)"
    )]
    Running(PathBuf),
    #[error(
        "the data directory {0} already holds databases or keys; pass --force to replace them with the backup"
    )]
    DataDirNotEmpty(PathBuf),
    #[error("{path}: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error("{what} {path}: {source}")]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("copying the {context} database: {source}")]
    Copy {
        context: &'static str,
        #[source]
        source: sqlx::Error,
    },
    #[error(transparent)]
    Start(#[from] StartError),
}

/// What a backup holds (`manifest.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Manifest {
    pub format: u32,
    pub pinit_version: String,
    /// Every write acknowledged before this instant is in the backup.
    pub started_at: Timestamp,
    pub finished_at: Timestamp,
    /// Outbox rows published from this instant on are marked for publishing again.
    pub republish_from: Timestamp,
    pub files: Vec<FileEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FileEntry {
    /// Relative to the backup directory, `/`-separated.
    pub path: String,
    pub bytes: u64,
    pub sha256: String,
}

fn io(what: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> BackupError {
    let path = path.to_path_buf();
    move |source| BackupError::Io { what, path, source }
}

/// `pinit backup <target>`: copies the databases and keys of `config.data_dir` into `target`, through a
/// temporary sibling directory renamed into place at the end. `progress` gets one line per file.
pub async fn backup(
    config: &Config,
    target: &Path,
    force: bool,
    progress: &mut dyn FnMut(String),
) -> Result<Manifest, BackupError> {
    let replace = check_target(target, force)?;
    let name = target
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("backup");
    let parent = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let staging = parent.join(format!(".{name}.partial-{}", std::process::id()));
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io("cannot clear", &staging))?;
    }
    std::fs::create_dir_all(staging.join(KEYS)).map_err(io("cannot create", &staging))?;
    let result = fill(config, &staging, progress).await;
    let manifest = match result {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if replace {
        std::fs::remove_dir_all(target).map_err(io("cannot replace", target))?;
    } else if target.exists() {
        std::fs::remove_dir(target).map_err(io("cannot replace", target))?;
    }
    std::fs::rename(&staging, target).map_err(io("cannot move the backup to", target))?;
    progress(format!(
        "backup complete: {} ({} files)",
        target.display(),
        manifest.files.len()
    ));
    Ok(manifest)
}

/// Whether `target` may be written: absent or empty, or (with `force`) an earlier backup, which is then
/// replaced (returns true).
fn check_target(target: &Path, force: bool) -> Result<bool, BackupError> {
    let mut entries = match std::fs::read_dir(target) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(io("cannot read", target)(e)),
    };
    if entries.next().is_none() {
        return Ok(false);
    }
    if !force {
        return Err(BackupError::TargetNotEmpty(target.to_path_buf()));
    }
    if !target.join(MANIFEST).is_file() {
        return Err(BackupError::NotABackup(target.to_path_buf()));
    }
    Ok(true)
}

async fn fill(
    config: &Config,
    staging: &Path,
    progress: &mut dyn FnMut(String),
) -> Result<Manifest, BackupError> {
    let started_at = SystemClock.now();
    let republish_from = pinit_kernel::clock::earlier(started_at, REPUBLISH_WINDOW);
    let mut files = Vec::new();
    for context in Context::ALL {
        let source = sqlite_path(config, context)?;
        let copy = staging.join(format!("{}.db", context.name()));
        let republished = copy_database(context, &source, &copy, republish_from).await?;
        let entry = describe(staging, &copy)?;
        progress(format!(
            "copied {} ({} bytes; {republished} events to publish again)",
            entry.path, entry.bytes
        ));
        files.push(entry);
    }
    let keys_dir = config.keys_dir();
    let mut names: Vec<PathBuf> = std::fs::read_dir(&keys_dir)
        .map_err(io("cannot read the keys directory", &keys_dir))?
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.is_file())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| !n.starts_with('.'))
        })
        .collect();
    names.sort();
    for source in names {
        let Some(file_name) = source.file_name() else {
            continue;
        };
        let copy = staging.join(KEYS).join(file_name);
        copy_file(&source, &copy)?;
        let entry = describe(staging, &copy)?;
        progress(format!("copied {} ({} bytes)", entry.path, entry.bytes));
        files.push(entry);
    }
    let manifest = Manifest {
        format: FORMAT,
        pinit_version: env!("CARGO_PKG_VERSION").to_string(),
        started_at,
        finished_at: SystemClock.now(),
        republish_from,
        files,
    };
    let json = serde_json::to_string_pretty(&manifest).map_err(|e| BackupError::Invalid {
        path: staging.join(MANIFEST),
        reason: e.to_string(),
    })?;
    let path = staging.join(MANIFEST);
    std::fs::write(&path, format!("{json}\n")).map_err(io("cannot write", &path))?;
    Ok(manifest)
}

/// The SQLite file of `context` in the data directory; an error when the context is configured on PostgreSQL.
fn sqlite_path(config: &Config, context: Context) -> Result<PathBuf, BackupError> {
    let name = context.name();
    let url = config
        .database_url(name, Mode::Serve)
        .map_err(StartError::from)?;
    if Backend::from_url(&url).ok() != Some(Backend::Sqlite) {
        return Err(BackupError::NotSqlite { context: name });
    }
    let path = config.data_dir.join(format!("{name}.db"));
    if !path.is_file() {
        return Err(BackupError::NoDatabase {
            context: name,
            path,
        });
    }
    Ok(path)
}

/// `VACUUM INTO` on a connection of its own (one read transaction: a consistent copy while the instance
/// writes), then, in the copy, the recently published outbox rows are marked unpublished. Returns how many.
async fn copy_database(
    context: Context,
    source: &Path,
    copy: &Path,
    republish_from: Timestamp,
) -> Result<u64, BackupError> {
    let context = context.name();
    let err = |source| BackupError::Copy { context, source };
    let pool = pinit_kernel::config::DatabasePoolConfig {
        max_connections: 1,
        ..Default::default()
    };
    let db = Db::connect(&Db::sqlite_url(source), &pool)
        .await
        .map_err(|e| BackupError::Invalid {
            path: source.to_path_buf(),
            reason: e.to_string(),
        })?;
    let copied = sqlx::query("VACUUM INTO $1")
        .bind(copy.to_string_lossy().into_owned())
        .execute(db.pool())
        .await;
    db.close().await;
    copied.map_err(err)?;

    let db = Db::connect(&Db::sqlite_url(copy), &pool)
        .await
        .map_err(|e| BackupError::Invalid {
            path: copy.to_path_buf(),
            reason: e.to_string(),
        })?;
    let republished = async {
        let has_outbox: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'messaging_outbox'",
        )
        .fetch_one(db.pool())
        .await?;
        let mut republished = 0;
        if has_outbox > 0 {
            republished = sqlx::query(
                "UPDATE messaging_outbox SET published_at_us = NULL, claimed_by = NULL, \
                 claimed_until_us = NULL WHERE published_at_us >= $1",
            )
            .bind(republish_from.as_microsecond())
            .execute(db.pool())
            .await?
            .rows_affected();
        }
        // One self-contained file: no write-ahead log beside it.
        sqlx::query("PRAGMA journal_mode = DELETE")
            .execute(db.pool())
            .await?;
        Ok::<u64, sqlx::Error>(republished)
    }
    .await;
    db.close().await;
    republished.map_err(err)
}

/// Copies a key file, keeping its permissions (private keys stay 0600).
fn copy_file(source: &Path, copy: &Path) -> Result<(), BackupError> {
    std::fs::copy(source, copy).map_err(io("cannot copy", source))?;
    let permissions = std::fs::metadata(source)
        .map_err(io("cannot read", source))?
        .permissions();
    std::fs::set_permissions(copy, permissions).map_err(io("cannot set permissions of", copy))?;
    let file = std::fs::File::open(copy).map_err(io("cannot open", copy))?;
    file.sync_all().map_err(io("cannot sync", copy))
}

/// Size and SHA-256 of `path`, named relative to `root`.
fn describe(root: &Path, path: &Path) -> Result<FileEntry, BackupError> {
    let (bytes, sha256) = digest(path)?;
    let relative = path
        .strip_prefix(root)
        .unwrap_or(path)
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect::<Vec<_>>()
        .join("/");
    Ok(FileEntry {
        path: relative,
        bytes,
        sha256,
    })
}

fn digest(path: &Path) -> Result<(u64, String), BackupError> {
    let mut file = std::fs::File::open(path).map_err(io("cannot open", path))?;
    let mut hasher = Sha256::new();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buffer).map_err(io("cannot read", path))?;
        if n == 0 {
            break;
        }
        bytes += n as u64;
        hasher.update(&buffer[..n]);
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok((bytes, sha256))
}

/// The files a backup must hold, and where each goes in the data directory.
fn destination(config: &Config, path: &str) -> Option<PathBuf> {
    match path.split('/').collect::<Vec<_>>().as_slice() {
        [db] => Context::ALL
            .iter()
            .find(|c| format!("{}.db", c.name()) == *db)
            .map(|_| config.data_dir.join(db)),
        [KEYS, name] if !name.is_empty() && !name.starts_with('.') && *name != ".." => {
            Some(config.keys_dir().join(name))
        }
        _ => None,
    }
}

/// Reads and checks a backup: its manifest, every file's size and SHA-256, the three databases present.
pub fn verify(config: &Config, source: &Path) -> Result<Manifest, BackupError> {
    let path = source.join(MANIFEST);
    let invalid = |reason: String| BackupError::Invalid {
        path: path.clone(),
        reason,
    };
    let text = std::fs::read_to_string(&path).map_err(io("cannot read the manifest", &path))?;
    let manifest: Manifest =
        serde_json::from_str(&text).map_err(|e| invalid(format!("not a backup manifest: {e}")))?;
    if manifest.format != FORMAT {
        return Err(invalid(format!(
            "format {} is not the {FORMAT} this Pinit reads",
            manifest.format
        )));
    }
    for context in Context::ALL {
        let db = format!("{}.db", context.name());
        if !manifest.files.iter().any(|f| f.path == db) {
            return Err(invalid(format!("{db} is missing")));
        }
    }
    for entry in &manifest.files {
        if destination(config, &entry.path).is_none() {
            return Err(invalid(format!("unexpected file {:?}", entry.path)));
        }
        let file = source.join(&entry.path);
        let (bytes, sha256) = digest(&file)?;
        if bytes != entry.bytes || sha256 != entry.sha256 {
            return Err(BackupError::Invalid {
                path: file,
                reason: format!(
                    "{bytes} bytes, SHA-256 {sha256}; the manifest says {} bytes, {}: the backup is damaged",
                    entry.bytes, entry.sha256
                ),
            });
        }
    }
    Ok(manifest)
}

/// `pinit restore <source>`: checks the backup, then replaces the databases and keys of `config.data_dir`
/// with it — only while no process holds the data directory (it holds it itself meanwhile). The files are
/// copied into a temporary directory inside the data directory first, then renamed into place.
pub fn restore(
    config: &Config,
    source: &Path,
    force: bool,
    progress: &mut dyn FnMut(String),
) -> Result<Manifest, BackupError> {
    let data_dir = &config.data_dir;
    std::fs::create_dir_all(data_dir).map_err(io("cannot create", data_dir))?;
    let _lock = match lock_data_dir(data_dir) {
        Ok(lock) => lock,
        Err(StartError::DataDirBusy(dir)) => return Err(BackupError::Running(dir)),
        Err(e) => return Err(e.into()),
    };
    let manifest = verify(config, source)?;
    progress(format!(
        "backup of {} (Pinit {}): {} files, checked",
        manifest.started_at,
        manifest.pinit_version,
        manifest.files.len()
    ));
    let keys_dir = config.keys_dir();
    let occupied = Context::ALL
        .iter()
        .any(|c| data_dir.join(format!("{}.db", c.name())).exists())
        || std::fs::read_dir(&keys_dir).is_ok_and(|mut d| d.next().is_some());
    if occupied && !force {
        return Err(BackupError::DataDirNotEmpty(data_dir.clone()));
    }

    let pid = std::process::id();
    let staging = data_dir.join(format!(".restore-{pid}"));
    let replaced = data_dir.join(format!(".replaced-{pid}"));
    for dir in [&staging, &replaced] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).map_err(io("cannot clear", dir))?;
        }
    }
    std::fs::create_dir_all(staging.join(KEYS)).map_err(io("cannot create", &staging))?;
    for entry in &manifest.files {
        let from = source.join(&entry.path);
        copy_file(&from, &staging.join(&entry.path))?;
    }

    // Out of the way: the current databases (with their write-ahead logs) and keys.
    std::fs::create_dir_all(&replaced).map_err(io("cannot create", &replaced))?;
    for context in Context::ALL {
        for suffix in ["", "-wal", "-shm"] {
            let name = format!("{}.db{suffix}", context.name());
            move_if_exists(&data_dir.join(&name), &replaced.join(&name))?;
        }
    }
    move_if_exists(&keys_dir, &replaced.join(KEYS))?;
    // In place: the backup's.
    if let Some(parent) = keys_dir.parent() {
        std::fs::create_dir_all(parent).map_err(io("cannot create", parent))?;
    }
    std::fs::rename(staging.join(KEYS), &keys_dir).map_err(io("cannot restore", &keys_dir))?;
    for entry in &manifest.files {
        let to = destination(config, &entry.path).unwrap_or_else(|| data_dir.join(&entry.path));
        if !entry.path.starts_with(KEYS) {
            std::fs::rename(staging.join(&entry.path), &to).map_err(io("cannot restore", &to))?;
        }
        progress(format!(
            "restored {} ({} bytes) to {}",
            entry.path,
            entry.bytes,
            to.display()
        ));
    }
    std::fs::remove_dir_all(&staging).map_err(io("cannot remove", &staging))?;
    std::fs::remove_dir_all(&replaced).map_err(io("cannot remove", &replaced))?;
    progress(format!("restore complete: {}", data_dir.display()));
    Ok(manifest)
}

fn move_if_exists(from: &Path, to: &Path) -> Result<(), BackupError> {
    match std::fs::rename(from, to) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io("cannot move aside", from)(e)),
    }
}
