//! Distributed traces: the W3C trace context (`traceparent`, `tracestate`) a request or an event carries, and
//! the spans that continue it (docs/observability.md).
//!
//! Two modes, chosen once at start-up by [`crate::telemetry::init`]:
//!
//! * **exporting** (OTLP configured): the OpenTelemetry layer is installed; a service's spans take the
//!   incoming context as their parent, and what goes out (HTTP headers, gRPC metadata, outbox rows) carries
//!   the context of the span that sends it.
//! * **not exporting** (the default): no OpenTelemetry layer and no extra spans. An incoming context is kept
//!   in a task-local for the request or event it came with and passed on unchanged, so a trace started
//!   upstream still continues at a later hop that exports. Log lines carry its trace id.
//!
//! Either way [`current`] is the context to send on, and [`follow`] runs work on behalf of an incoming one.

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId, TraceState};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

/// The W3C header names (also the AMQP header and gRPC metadata keys).
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// `tracestate` longer than this is dropped (the W3C limit is 32 members; 512 characters is what vendors
/// are told to keep).
const MAX_TRACESTATE: usize = 512;

static EXPORTING: AtomicBool = AtomicBool::new(false);

tokio::task_local! {
    static INCOMING: TraceContext;
}

/// Whether spans are exported (the OpenTelemetry layer is installed).
pub fn exporting() -> bool {
    EXPORTING.load(Ordering::Relaxed)
}

pub(crate) fn set_exporting() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// A W3C trace context: a valid `traceparent` and, optionally, its `tracestate`. Stored with outbox rows as
/// JSON ([`TraceContext::to_stored`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceContext {
    traceparent: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    tracestate: Option<String>,
}

impl TraceContext {
    /// A context from header values; `None` unless `traceparent` is valid (version `00`, or a later version
    /// read as `00`, with non-zero ids). A `tracestate` that is too long or not printable ASCII is dropped.
    pub fn new(traceparent: &str, tracestate: Option<&str>) -> Option<Self> {
        let traceparent = traceparent.trim();
        let bytes = traceparent.as_bytes();
        let hex = |range: std::ops::Range<usize>| {
            bytes[range]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
        };
        let shaped = bytes.len() >= 55
            && hex(0..2)
            && bytes[2] == b'-'
            && hex(3..35)
            && bytes[35] == b'-'
            && hex(36..52)
            && bytes[52] == b'-'
            && hex(53..55);
        let version_ok = shaped
            && match &traceparent[0..2] {
                "00" => bytes.len() == 55,
                "ff" => false,
                _ => bytes.len() == 55 || bytes[55] == b'-',
            };
        if !version_ok
            || traceparent[3..35].bytes().all(|b| b == b'0')
            || traceparent[36..52].bytes().all(|b| b == b'0')
        {
            return None;
        }
        let tracestate = tracestate
            .map(str::trim)
            .filter(|s| {
                !s.is_empty()
                    && s.len() <= MAX_TRACESTATE
                    && s.bytes().all(|b| (0x20..0x7f).contains(&b))
            })
            .map(str::to_string);
        Some(Self {
            traceparent: format!("00{}", &traceparent[2..55]),
            tracestate,
        })
    }

    /// The context in `headers`, if any.
    pub fn from_headers(headers: &HeaderMap) -> Option<Self> {
        let traceparent = headers.get(&TRACEPARENT)?.to_str().ok()?;
        let tracestate = headers.get(&TRACESTATE).and_then(|v| v.to_str().ok());
        Self::new(traceparent, tracestate)
    }

    pub fn traceparent(&self) -> &str {
        &self.traceparent
    }

    pub fn tracestate(&self) -> Option<&str> {
        self.tracestate.as_deref()
    }

    /// The trace id, 32 lowercase hex digits.
    pub fn trace_id(&self) -> &str {
        &self.traceparent[3..35]
    }

    /// The id of the span that sent it, 16 lowercase hex digits.
    pub fn span_id(&self) -> &str {
        &self.traceparent[36..52]
    }

    /// Replaces `traceparent`/`tracestate` in `headers` with this context.
    pub fn write_headers(&self, headers: &mut HeaderMap) {
        headers.remove(&TRACESTATE);
        if let Ok(v) = HeaderValue::from_str(&self.traceparent) {
            headers.insert(TRACEPARENT, v);
        }
        if let Some(v) = self
            .tracestate
            .as_deref()
            .and_then(|s| HeaderValue::from_str(s).ok())
        {
            headers.insert(TRACESTATE, v);
        }
    }

    /// The stored form (outbox column `trace_context`): `{"traceparent":"…","tracestate":"…"}`.
    pub fn to_stored(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Reads the stored form; anything unreadable or invalid is no context.
    pub fn from_stored(text: &str) -> Option<Self> {
        let stored: TraceContext = serde_json::from_str(text).ok()?;
        Self::new(&stored.traceparent, stored.tracestate.as_deref())
    }

    fn from_otel(cx: &opentelemetry::Context) -> Option<Self> {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let state = sc.trace_state().header();
        Self::new(
            &format!(
                "00-{}-{}-{:02x}",
                sc.trace_id(),
                sc.span_id(),
                sc.trace_flags().to_u8()
            ),
            Some(&state),
        )
    }

    fn to_otel(&self) -> Option<opentelemetry::Context> {
        let trace_id = TraceId::from_hex(self.trace_id()).ok()?;
        let span_id = SpanId::from_hex(self.span_id()).ok()?;
        let flags = u8::from_str_radix(&self.traceparent[53..55], 16).ok()?;
        let state = self
            .tracestate
            .as_deref()
            .and_then(|s| s.parse::<TraceState>().ok())
            .unwrap_or_default();
        let sc = SpanContext::new(
            trace_id,
            span_id,
            TraceFlags::new(flags) & TraceFlags::SAMPLED,
            true,
            state,
        );
        Some(opentelemetry::Context::new().with_remote_span_context(sc))
    }
}

/// The context to send on from here: the current span's when exporting, else the one this request or event
/// came with (if any).
pub fn current() -> Option<TraceContext> {
    if exporting()
        && let Some(context) = TraceContext::from_otel(&tracing::Span::current().context())
    {
        return Some(context);
    }
    incoming()
}

/// The context of `span` itself, to send on for work it stands for (only when exporting: otherwise spans
/// have no trace context).
pub fn context_of(span: &tracing::Span) -> Option<TraceContext> {
    if !exporting() {
        return None;
    }
    TraceContext::from_otel(&span.context())
}

/// The context the current request or event came with (set by [`follow`]).
pub fn incoming() -> Option<TraceContext> {
    INCOMING.try_with(Clone::clone).ok()
}

/// Makes `span` a child of `parent` when exporting (otherwise nothing to do).
pub fn set_parent(span: &tracing::Span, parent: Option<&TraceContext>) {
    if exporting()
        && let Some(cx) = parent.and_then(TraceContext::to_otel)
    {
        let _ = span.set_parent(cx);
    }
}

/// Runs `work` in `span` on behalf of `parent`: `span` continues its trace (when exporting), and
/// [`current`]/[`incoming`] inside see it (when not).
pub async fn follow<F: Future>(
    parent: Option<TraceContext>,
    span: tracing::Span,
    work: F,
) -> F::Output {
    set_parent(&span, parent.as_ref());
    within(parent, work.instrument(span)).await
}

/// Runs `work` on behalf of `parent`, without a span of its own: [`current`]/[`incoming`] inside see it.
pub async fn within<F: Future>(parent: Option<TraceContext>, work: F) -> F::Output {
    match parent {
        Some(parent) => INCOMING.scope(parent, work).await,
        None => work.await,
    }
}

/// Replaces the trace headers of an outgoing request with [`current`] (removes them when there is none), so
/// nothing a client made up passes a hop unchecked.
pub fn inject(headers: &mut HeaderMap) {
    headers.remove(&TRACEPARENT);
    headers.remove(&TRACESTATE);
    if let Some(context) = current() {
        context.write_headers(headers);
    }
}

/// The trace id for a log line: the current span's when exporting, else the incoming one.
pub(crate) fn log_trace_id(span: Option<&tracing::span::Id>) -> Option<String> {
    if exporting()
        && let Some(id) = span
        && let Some(dispatch) = crate::telemetry::dispatch()
        && let Some(cx) = tracing_opentelemetry::get_otel_context(id, &dispatch)
    {
        let span = cx.span();
        let sc = span.span_context();
        if sc.is_valid() {
            return Some(sc.trace_id().to_string());
        }
    }
    incoming().map(|c| c.trace_id().to_string())
}

/// A span for a gRPC call a server received, continuing the caller's trace (`tonic`'s `trace_fn`).
pub fn grpc_server_span<B>(request: &http::Request<B>) -> tracing::Span {
    let path = request.uri().path();
    let span = tracing::info_span!(
        "grpc",
        rpc = path,
        otel.name = path.trim_start_matches('/'),
        otel.kind = "server",
        rpc.system = "grpc",
    );
    set_parent(
        &span,
        TraceContext::from_headers(request.headers()).as_ref(),
    );
    span
}

#[cfg(test)]
mod tests {
    use super::*;

    const PARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn valid_traceparents_are_kept_and_bad_ones_dropped() {
        let c = TraceContext::new(PARENT, Some("congo=t61rcWkgMzE")).unwrap();
        assert_eq!(c.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(c.span_id(), "00f067aa0ba902b7");
        assert_eq!(c.tracestate(), Some("congo=t61rcWkgMzE"));
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ] {
            assert_eq!(TraceContext::new(bad, None), None, "{bad}");
        }
        // A later version is read as version 00 (its extra fields are dropped).
        let later =
            TraceContext::new(&format!("01{}-more", &PARENT[2..]), Some("\u{7f}bad")).unwrap();
        assert_eq!(later.traceparent(), PARENT);
        assert_eq!(
            later.tracestate(),
            None,
            "a non-printable tracestate is dropped"
        );
    }

    #[test]
    fn the_stored_form_round_trips_and_garbage_is_no_context() {
        let c = TraceContext::new(PARENT, Some("a=b")).unwrap();
        assert_eq!(TraceContext::from_stored(&c.to_stored()), Some(c));
        let bare = TraceContext::new(PARENT, None).unwrap();
        assert_eq!(bare.to_stored(), format!(r#"{{"traceparent":"{PARENT}"}}"#));
        assert_eq!(TraceContext::from_stored("{}"), None);
        assert_eq!(
            TraceContext::from_stored(r#"{"traceparent":"00-zz"}"#),
            None
        );
    }

    #[test]
    fn headers_are_read_and_replaced() {
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(PARENT));
        headers.insert(TRACESTATE, HeaderValue::from_static("x=1"));
        let c = TraceContext::from_headers(&headers).unwrap();
        assert_eq!(c.tracestate(), Some("x=1"));
        let other = TraceContext::new(
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
            None,
        )
        .unwrap();
        other.write_headers(&mut headers);
        assert_eq!(headers[&TRACEPARENT], other.traceparent());
        assert!(!headers.contains_key(&TRACESTATE));
    }

    #[tokio::test]
    async fn without_exporting_the_incoming_context_is_what_goes_on() {
        assert_eq!(current(), None);
        let c = TraceContext::new(PARENT, None).unwrap();
        let seen = follow(Some(c.clone()), tracing::Span::none(), async {
            let mut headers = HeaderMap::new();
            headers.insert(
                TRACEPARENT,
                HeaderValue::from_static("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"),
            );
            inject(&mut headers);
            (current(), headers[&TRACEPARENT].clone())
        })
        .await;
        assert_eq!(seen.0, Some(c.clone()));
        assert_eq!(seen.1, c.traceparent(), "a made-up header is replaced");
        let mut headers = HeaderMap::new();
        headers.insert(TRACEPARENT, HeaderValue::from_static(PARENT));
        inject(&mut headers);
        assert!(
            headers.is_empty(),
            "outside a traced request nothing is sent"
        );
    }
}
