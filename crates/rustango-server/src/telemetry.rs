//! OpenTelemetry export of the request spans (feature `otel`).
//!
//! [`init_tracing`](crate::init_tracing) adds an OTLP/HTTP (protobuf) exporter when
//! `OTEL_EXPORTER_OTLP_ENDPOINT` (or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`) is set:
//!
//! ```text
//! OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318   # spans go to …/v1/traces
//! OTEL_SERVICE_NAME=notes                             # default: rustango
//! ```
//!
//! Every request is one server span named `GET /notes/{id}` (the route template) with
//! the request id, method, path, route and status code as attributes; spans the
//! handler opens are its children, and a `traceparent` header from the caller makes
//! the request span a child of the caller's (W3C trace context). 5xx responses mark
//! the span as an error. Spans are sent in batches from a thread of their own, with a
//! blocking HTTP client, so a slow collector never blocks a request; the
//! [`TracingGuard`](crate::TracingGuard) that `init_tracing` returns flushes them when
//! dropped.

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;

use crate::Error;

/// The environment variables that turn the exporter on.
pub const ENDPOINT_VARS: &[&str] = &[
    "OTEL_EXPORTER_OTLP_ENDPOINT",
    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
];

/// Whether the environment asks for an exporter.
pub fn configured() -> bool {
    ENDPOINT_VARS
        .iter()
        .any(|v| std::env::var(v).is_ok_and(|s| !s.trim().is_empty()))
}

/// Builds the tracer provider that exports over OTLP/HTTP, and installs the W3C trace
/// context propagator. The endpoint and headers come from the standard `OTEL_*`
/// environment variables.
pub fn provider() -> Result<SdkTracerProvider, Error> {
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .build()
        .map_err(|e| Error::Tracing(format!("cannot build the OTLP exporter: {e}")))?;
    let service = std::env::var("OTEL_SERVICE_NAME")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| "rustango".to_owned());
    let provider = SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(Resource::builder().with_service_name(service).build())
        .build();
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    Ok(provider)
}

/// The `tracing` layer that turns spans into OpenTelemetry spans of `provider`.
pub fn layer<S>(provider: &SdkTracerProvider) -> impl tracing_subscriber::Layer<S> + use<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    tracing_opentelemetry::layer().with_tracer(provider.tracer("rustango"))
}

/// Flushes and stops the exporter when dropped (at the end of `main`).
pub(crate) struct Exporter(pub(crate) SdkTracerProvider);

impl Drop for Exporter {
    fn drop(&mut self) {
        if let Err(e) = self.0.shutdown() {
            eprintln!("rustango: flushing spans failed: {e}");
        }
    }
}
