//! W3C trace-context propagation into the request span (feature `otel`).
//!
//! When a request carries `traceparent` (and maybe `tracestate`), the request span of
//! `RequestIdLayer` becomes a child of the caller's span, so a trace crosses services.
//! The propagator is the process-global one that the server's OpenTelemetry setup
//! installs; with none installed nothing is adopted.

use http::HeaderMap;
use opentelemetry::propagation::Extractor;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

struct Headers<'a>(&'a HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(|k| k.as_str()).collect()
    }
}

/// Makes `span` a child of the remote span named in `headers`, if any.
pub(crate) fn adopt_remote_parent(span: &tracing::Span, headers: &HeaderMap) {
    if !headers.contains_key("traceparent") {
        return;
    }
    let cx = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(headers)));
    // Fails only when no OpenTelemetry layer is installed: nothing to link then.
    let _ = span.set_parent(cx);
}
