//! Structured logs — human-readable locally, one JSON object per line with `log.format = "json"` — and, when
//! the standard `OTEL_*` variables ask for it, traces exported with OTLP over HTTP/protobuf
//! (docs/observability.md). Exporting is off by default; then no OpenTelemetry layer is installed at all.

use std::sync::OnceLock;
use std::time::Duration;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Subscriber;
use tracing::dispatcher::{Dispatch, WeakDispatch};
use tracing_subscriber::fmt::format::{FmtSpan, JsonFields, Writer};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::{LogConfig, LogFormat};

#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error(
        "log.level `{level}` is not a valid filter ({reason}); use e.g. `info` or `info,pinit_task=debug`"
    )]
    BadFilter { level: String, reason: String },
    #[error("cannot set up the OTLP trace exporter: {0}")]
    Otlp(String),
}

/// What [`init`] installed. Call [`Telemetry::shutdown`] at the end, so buffered spans are exported.
#[must_use = "spans still buffered are lost unless `shutdown` is called"]
#[derive(Debug, Default)]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
}

impl Telemetry {
    /// Whether spans are exported.
    pub fn exporting(&self) -> bool {
        self.provider.is_some()
    }

    /// Exports the spans still buffered and stops the exporter (bounded by `OTEL_BSP_EXPORT_TIMEOUT`).
    /// Blocks the calling thread: call it after the async work is done, with the runtime still alive (the
    /// export runs on it).
    pub fn shutdown(self) {
        if let Some(provider) = self.provider
            && let Err(e) = provider.shutdown()
        {
            eprintln!("pinit: exporting the last spans failed: {e}");
        }
    }
}

static DISPATCH: OnceLock<WeakDispatch> = OnceLock::new();

/// The installed subscriber (for reading a span's OpenTelemetry context while formatting a log line).
pub(crate) fn dispatch() -> Option<Dispatch> {
    DISPATCH.get().and_then(WeakDispatch::upgrade)
}

/// Installs the global subscriber: logs as `config` says, plus the OpenTelemetry layer when the environment
/// asks for OTLP export ([`otlp_requested`]); `service` is the `service.name` unless `OTEL_SERVICE_NAME` (or
/// `service.name` in `OTEL_RESOURCE_ATTRIBUTES`) names one. With export on it must be called inside the
/// Tokio runtime (the exporter sends on it). A second call (tests) keeps the first subscriber.
pub fn init(config: &LogConfig, service: &str) -> Result<Telemetry, TelemetryError> {
    let filter = filter(&config.level).map_err(|reason| TelemetryError::BadFilter {
        level: config.level.clone(),
        reason,
    })?;
    type Inner = tracing_subscriber::layer::Layered<EnvFilter, Registry>;
    let mut layers: Vec<Box<dyn Layer<Inner> + Send + Sync>> = Vec::new();
    layers.push(match config.format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .with_target(false)
            .with_span_events(FmtSpan::NONE)
            .compact()
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .with_writer(std::io::stderr)
            .fmt_fields(JsonFields::new())
            .event_format(WithTraceId(
                tracing_subscriber::fmt::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            ))
            .boxed(),
    });
    let provider = if otlp_requested() {
        Some(tracer_provider(service)?)
    } else {
        None
    };
    if let Some(provider) = &provider {
        // Spans only: log events stay in the logs (joined to traces by `trace_id`), so nothing a log line
        // says becomes a span attribute.
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("pinit"))
                .with_location(false)
                .with_threads(false)
                .with_tracked_inactivity(false)
                .with_filter(tracing_subscriber::filter::filter_fn(|m| m.is_span()))
                .boxed(),
        );
    }
    let dispatch = Dispatch::new(Registry::default().with(filter).with(layers));
    if dispatch.clone().try_init().is_ok() {
        let _ = DISPATCH.set(dispatch.downgrade());
        if provider.is_some() {
            crate::trace::set_exporting();
        }
    }
    if provider.is_some() {
        let protocol =
            env("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL").or(env("OTEL_EXPORTER_OTLP_PROTOCOL"));
        if let Some(p) = protocol.filter(|p| p != "http/protobuf") {
            tracing::warn!(protocol = %p, "only OTLP over http/protobuf is supported; exporting with it");
        }
    }
    Ok(Telemetry { provider })
}

fn env(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
}

/// Whether traces are to be exported: `OTEL_TRACES_EXPORTER` lists `otlp`, or it is unset and an OTLP
/// endpoint is (`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`); never with
/// `OTEL_SDK_DISABLED=true` or `OTEL_TRACES_EXPORTER=none`.
pub fn otlp_requested() -> bool {
    if env("OTEL_SDK_DISABLED").is_some_and(|v| v.eq_ignore_ascii_case("true")) {
        return false;
    }
    match env("OTEL_TRACES_EXPORTER") {
        Some(exporters) => exporters.split(',').any(|e| e.trim() == "otlp"),
        None => {
            env("OTEL_EXPORTER_OTLP_ENDPOINT").is_some()
                || env("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT").is_some()
        }
    }
}

fn tracer_provider(service: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let runtime = tokio::runtime::Handle::try_current().map_err(|_| {
        TelemetryError::Otlp("the exporter must be set up inside the async runtime".into())
    })?;
    let timeout = env("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT")
        .or(env("OTEL_EXPORTER_OTLP_TIMEOUT"))
        .and_then(|ms| ms.parse::<u64>().ok())
        .map_or(Duration::from_secs(10), Duration::from_millis);
    // Trusts tls.ca_file too when the binary installed it before telemetry (a collector behind a private CA).
    let client = crate::tls::https_client()
        .timeout(timeout)
        .build()
        .map_err(|e| TelemetryError::Otlp(e.to_string()))?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_timeout(timeout)
        .with_http_client(OtlpClient { client, runtime })
        .build()
        .map_err(|e| TelemetryError::Otlp(e.to_string()))?;
    let named = env("OTEL_SERVICE_NAME").is_some()
        || env("OTEL_RESOURCE_ATTRIBUTES").is_some_and(|a| a.contains("service.name="));
    let mut resource = Resource::builder();
    if !named {
        resource = resource.with_service_name(service.to_string());
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// The exporter's HTTP client: the workspace's reqwest (one HTTP and TLS stack), run on the Tokio runtime —
/// the SDK's batch processor exports from a thread of its own, where reqwest cannot run by itself.
#[derive(Debug)]
struct OtlpClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for OtlpClient {
    async fn send_bytes(
        &self,
        request: http::Request<bytes::Bytes>,
    ) -> Result<http::Response<bytes::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let sent = self.runtime.spawn(async move {
            let response = client.execute(request).await?;
            let mut answer = http::Response::builder().status(response.status());
            if let Some(headers) = answer.headers_mut() {
                *headers = response.headers().clone();
            }
            let body = response.bytes().await?;
            Ok::<_, opentelemetry_http::HttpError>(answer.body(body)?)
        });
        sent.await?
    }
}

/// JSON log lines with the trace id first: `{"trace_id":"…","timestamp":…}` (see [`crate::trace`]).
struct WithTraceId<F>(F);

impl<S, N, F> FormatEvent<S, N> for WithTraceId<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &tracing::Event<'_>,
    ) -> std::fmt::Result {
        let span = ctx.parent_span().map(|s| s.id());
        let Some(trace_id) = crate::trace::log_trace_id(span.as_ref()) else {
            return self.0.format_event(ctx, writer, event);
        };
        let mut line = String::new();
        self.0.format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) if !rest.starts_with('}') => {
                write!(writer, "{{\"trace_id\":\"{trace_id}\",{rest}")
            }
            _ => writer.write_str(&line),
        }
    }
}

/// Validates a filter without installing anything (configuration checks).
pub fn check_filter(level: &str) -> Result<(), String> {
    filter(level).map(|_| ())
}

/// Libraries' log lines that say nothing an operator can act on at `info`, quieted unless `log.level` names
/// the library itself: PostgreSQL's NOTICEs during migrations ("relation … already exists, skipping", on every
/// start), and lapin's WARN with the whole body of a message the broker returned (the relay counts and keeps
/// those itself, see docs/messaging.md).
const QUIETER: [(&str, &str); 2] = [
    ("sqlx", "sqlx::postgres::notice=warn"),
    ("lapin", "lapin::returned_messages=error"),
];

/// `log.level` as a filter, with [`QUIETER`] added where the level says nothing about those libraries.
fn filter(level: &str) -> Result<EnvFilter, String> {
    let mut filter = EnvFilter::builder()
        .parse(level)
        .map_err(|e| e.to_string())?;
    for (library, directive) in QUIETER {
        if !level.contains(library) {
            filter = filter.add_directive(directive.parse().map_err(|e| format!("{e}"))?);
        }
    }
    Ok(filter)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn library_noise_is_quieted_unless_asked_for() {
        let quiet = filter("info").unwrap().to_string();
        assert!(
            quiet.contains("sqlx::postgres::notice=warn")
                && quiet.contains("lapin::returned_messages=error"),
            "{quiet}"
        );
        let asked = filter("info,sqlx=debug").unwrap().to_string();
        assert!(!asked.contains("sqlx::postgres::notice"), "{asked}");
        assert!(filter("info,=x=").is_err());
    }
}
