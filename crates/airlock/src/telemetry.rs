//! Trace export: when an OTLP endpoint is configured, spans (see the
//! gateway's `trace` module) are batched to it over OTLP/HTTP (protobuf).
//! Without one, the global tracer stays a no-op.

use opentelemetry::global;
use opentelemetry_otlp::{SpanExporter, WithExportConfig};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::trace::SdkTracerProvider;

/// The traces URL for an OTLP endpoint: a base URL gets `/v1/traces`
/// appended, as `OTEL_EXPORTER_OTLP_ENDPOINT` is defined.
pub fn traces_url(endpoint: &str) -> String {
    let trimmed = endpoint.trim_end_matches('/');
    if trimmed.ends_with("/v1/traces") {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v1/traces")
    }
}

/// Installs the exporting tracer provider. The exporter's HTTP client is a
/// blocking one that lives on the batch processor's own thread, so this runs
/// off the async runtime.
pub async fn start(endpoint: &str) -> Result<SdkTracerProvider, String> {
    let url = traces_url(endpoint);
    airlock_providers::install_crypto_provider();
    tokio::task::spawn_blocking(move || {
        let exporter = SpanExporter::builder()
            .with_http()
            .with_endpoint(url)
            .build()
            .map_err(|error| format!("cannot set up OTLP export: {error}"))?;
        let resource = Resource::builder().with_service_name("airlock").build();
        let provider = SdkTracerProvider::builder()
            .with_batch_exporter(exporter)
            .with_resource(resource)
            .build();
        global::set_tracer_provider(provider.clone());
        airlock_gateway::enable_spans();
        Ok(provider)
    })
    .await
    .map_err(|error| format!("cannot set up OTLP export: {error}"))?
}

/// Flushes and stops export.
pub async fn stop(provider: SdkTracerProvider) {
    let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
    if let Ok(Err(error)) = result {
        tracing::warn!(%error, "flushing traces failed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_the_traces_path_to_a_base_endpoint() {
        assert_eq!(
            traces_url("http://collector:4318"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://collector:4318/"),
            "http://collector:4318/v1/traces"
        );
        assert_eq!(
            traces_url("http://c:4318/v1/traces"),
            "http://c:4318/v1/traces"
        );
    }
}
