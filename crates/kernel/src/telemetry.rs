//! Structured logs: human-readable locally, one JSON object per line with `log.format = "json"`.

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "log.level `{level}` is not a valid filter ({reason}); use e.g. `info` or `info,pinit_task=debug`"
    )]
    BadFilter { level: String, reason: String },
}

/// Installs the global subscriber. A second call (tests) keeps the first one.
pub fn init(config: &LogConfig) -> Result<(), TelemetryError> {
    let filter =
        EnvFilter::builder()
            .parse(&config.level)
            .map_err(|e| TelemetryError::BadFilter {
                level: config.level.clone(),
                reason: e.to_string(),
            })?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match config.format {
        LogFormat::Pretty => builder
            .with_target(false)
            .with_span_events(FmtSpan::NONE)
            .compact()
            .try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
    };
    Ok(())
}

/// Validates a filter without installing anything (configuration checks).
pub fn check_filter(level: &str) -> Result<(), String> {
    EnvFilter::builder()
        .parse(level)
        .map(|_| ())
        .map_err(|e| e.to_string())
}
