//! Distributed tracing: W3C trace context in and out, and one OpenTelemetry
//! span pair per request following the GenAI semantic conventions.
//!
//! Spans go to the process-wide tracer provider, which the binary installs
//! (and then calls [`enable_spans`]) when an OTLP endpoint is configured.
//! Otherwise no span is built, and a client's `traceparent` is still
//! forwarded upstream unchanged (an intermediary that does not participate).

use std::sync::atomic::{AtomicBool, Ordering};

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::global::{self, BoxedSpan};
use opentelemetry::trace::{
    Span, SpanContext, SpanId, SpanKind, Status, TraceContextExt, TraceFlags, TraceId, TraceState,
    Tracer,
};
use opentelemetry::{Context, KeyValue};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");

/// The trace context a client sent.
#[derive(Clone, Debug, Default)]
pub struct IncomingTrace {
    parent: Option<SpanContext>,
    tracestate: Option<HeaderValue>,
}

impl IncomingTrace {
    pub fn from_headers(headers: &HeaderMap) -> Self {
        let parent = headers
            .get(TRACEPARENT)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_traceparent);
        let tracestate = parent.as_ref().and(headers.get(TRACESTATE).cloned());
        IncomingTrace { parent, tracestate }
    }
}

/// Parses a W3C `traceparent` (version 00 layout; later versions are read
/// by the same first four fields, as the spec asks).
pub fn parse_traceparent(value: &str) -> Option<SpanContext> {
    let mut fields = value.trim().split('-');
    let version = fields.next()?;
    let (trace_id, span_id, flags) = (fields.next()?, fields.next()?, fields.next()?);
    let hex = |s: &str, len: usize| {
        s.len() == len
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    };
    if !hex(version, 2) || version == "ff" || (version == "00" && fields.next().is_some()) {
        return None;
    }
    if !hex(trace_id, 32) || !hex(span_id, 16) || !hex(flags, 2) {
        return None;
    }
    let trace_id = TraceId::from_hex(trace_id).ok()?;
    let span_id = SpanId::from_hex(span_id).ok()?;
    let flags = TraceFlags::new(u8::from_str_radix(flags, 16).ok()? & 1);
    let context = SpanContext::new(trace_id, span_id, flags, true, TraceState::default());
    context.is_valid().then_some(context)
}

fn traceparent(context: &SpanContext) -> Option<HeaderValue> {
    if !context.is_valid() {
        return None;
    }
    let value = format!(
        "00-{}-{}-{:02x}",
        context.trace_id(),
        context.span_id(),
        context.trace_flags().to_u8()
    );
    HeaderValue::from_str(&value).ok()
}

/// The GenAI operation name for an Airlock operation.
fn genai_operation(operation: &str) -> &str {
    match operation {
        "chat.completions" | "responses" => "chat",
        "generateContent" | "streamGenerateContent" => "generate_content",
        "embeddings" | "embedContent" | "batchEmbedContents" => "embeddings",
        other => other,
    }
}

/// Whether spans are recorded: set once an exporter is installed. Without
/// one, no span is built at all and the client's context passes through.
static EXPORTING: AtomicBool = AtomicBool::new(false);

/// Starts building spans for every request (the binary calls this after
/// installing an exporting tracer provider).
pub fn enable_spans() {
    EXPORTING.store(true, Ordering::Relaxed);
}

/// The trace of one request: its spans when exporting, and what to send on.
pub struct RequestSpans {
    incoming: IncomingTrace,
    live: Option<LiveSpans>,
}

/// The server span for the client's call, and a client span for the model
/// call once the request is routed.
struct LiveSpans {
    server: BoxedSpan,
    model_call: Option<BoxedSpan>,
    server_context: Context,
    operation: String,
}

impl RequestSpans {
    pub fn start(
        incoming: &IncomingTrace,
        request_id: &str,
        surface: &'static str,
        operation: &str,
    ) -> Self {
        let live = EXPORTING.load(Ordering::Relaxed).then(|| {
            let tracer = global::tracer("airlock");
            let parent = match &incoming.parent {
                Some(remote) => Context::new().with_remote_span_context(remote.clone()),
                None => Context::new(),
            };
            let server = tracer
                .span_builder(format!("airlock {operation}"))
                .with_kind(SpanKind::Server)
                .with_attributes([
                    KeyValue::new("airlock.request_id", request_id.to_string()),
                    KeyValue::new("airlock.surface", surface),
                ])
                .start_with_context(&tracer, &parent);
            let server_context = parent.with_remote_span_context(server.span_context().clone());
            LiveSpans {
                server,
                model_call: None,
                server_context,
                operation: operation.to_string(),
            }
        });
        RequestSpans {
            incoming: incoming.clone(),
            live,
        }
    }

    /// Opens the model-call span once the provider and model are known.
    pub fn routed(
        &mut self,
        provider_kind: &'static str,
        provider: &str,
        requested_model: &str,
        upstream_model: &str,
    ) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let tracer = global::tracer("airlock");
        let operation = genai_operation(&live.operation).to_string();
        let span = tracer
            .span_builder(format!("{operation} {upstream_model}"))
            .with_kind(SpanKind::Client)
            .with_attributes([
                KeyValue::new("gen_ai.operation.name", operation),
                KeyValue::new("gen_ai.provider.name", provider_kind),
                KeyValue::new("gen_ai.system", provider_kind),
                KeyValue::new("gen_ai.request.model", upstream_model.to_string()),
                KeyValue::new("airlock.provider", provider.to_string()),
                KeyValue::new("airlock.requested_model", requested_model.to_string()),
            ])
            .start_with_context(&tracer, &live.server_context);
        live.model_call = Some(span);
    }

    /// Headers that carry the trace to the provider: this request's span
    /// when exporting, else the client's own context unchanged.
    pub fn outgoing_headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let context = match &self.live {
            Some(live) => Some(
                live.model_call
                    .as_ref()
                    .unwrap_or(&live.server)
                    .span_context(),
            ),
            None => self.incoming.parent.as_ref(),
        };
        if let Some(value) = context.and_then(traceparent) {
            headers.insert(TRACEPARENT, value);
            if let Some(state) = &self.incoming.tracestate {
                headers.insert(TRACESTATE, state.clone());
            }
        }
        headers
    }

    /// Ends both spans with the outcome and usage.
    pub fn end(&mut self, status: u16, outcome: &'static str, tokens: (Option<i64>, Option<i64>)) {
        let Some(live) = self.live.as_mut() else {
            return;
        };
        let failed = status >= 400;
        if let Some(span) = live.model_call.as_mut() {
            if let Some(input) = tokens.0 {
                span.set_attribute(KeyValue::new("gen_ai.usage.input_tokens", input));
            }
            if let Some(output) = tokens.1 {
                span.set_attribute(KeyValue::new("gen_ai.usage.output_tokens", output));
            }
            if failed {
                span.set_attribute(KeyValue::new("error.type", status.to_string()));
                span.set_status(Status::error(outcome));
            }
            span.end();
        }
        live.server.set_attribute(KeyValue::new(
            "http.response.status_code",
            i64::from(status),
        ));
        live.server
            .set_attribute(KeyValue::new("airlock.outcome", outcome));
        if status >= 500 {
            live.server.set_status(Status::error(outcome));
        }
        live.server.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_valid_traceparents_only() {
        let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
        let context = parse_traceparent(valid).unwrap();
        assert_eq!(
            context.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert!(context.trace_flags().is_sampled());
        assert_eq!(traceparent(&context).unwrap(), valid);
        for invalid in [
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
            "garbage",
        ] {
            assert!(parse_traceparent(invalid).is_none(), "{invalid}");
        }
        // A later version may carry more fields.
        assert!(
            parse_traceparent("01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x")
                .is_some()
        );
    }

    #[test]
    fn without_a_tracer_the_clients_context_is_forwarded() {
        let mut headers = HeaderMap::new();
        headers.insert(
            TRACEPARENT,
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
                .parse()
                .unwrap(),
        );
        headers.insert(TRACESTATE, "vendor=x".parse().unwrap());
        let incoming = IncomingTrace::from_headers(&headers);
        let mut spans = RequestSpans::start(&incoming, "id", "openai", "chat.completions");
        spans.routed("openai", "openai", "gpt-4o", "gpt-4o");
        let outgoing = spans.outgoing_headers();
        assert!(
            outgoing[TRACEPARENT]
                .to_str()
                .unwrap()
                .starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
        assert_eq!(outgoing[TRACESTATE], "vendor=x");
        spans.end(200, "ok", (Some(1), Some(2)));
        let none = RequestSpans::start(
            &IncomingTrace::default(),
            "id",
            "openai",
            "chat.completions",
        );
        assert!(none.outgoing_headers().is_empty());
    }
}
