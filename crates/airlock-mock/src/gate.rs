//! Admission of a provider request, before any route logic: it is counted,
//! its override headers are read, the effective fault is applied, and the
//! API-key rules are enforced. HTTP routes get each failure as the
//! provider's HTTP error ([`admit`]); realtime routes take the
//! [`Refusal`] from [`judge`] and answer it the way their protocol does.

use axum::response::Response;
use http::request::Parts;
use http::{HeaderMap, Uri};

use crate::config::Fault;
use crate::delivery::{self, Payload, Plan};
use crate::keys::{self, KeyVerdict};
use crate::overrides::Overrides;
use crate::server::MockServer;
use crate::{gemini, openai};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    Gemini,
    OpenAi,
}

/// A request that may proceed.
#[derive(Debug, Clone, Copy)]
pub struct Admitted {
    pub plan: Plan,
    /// Unique per request, for response ids.
    pub serial: u64,
}

/// Query parameters, decoded; `None` if the query string is malformed.
pub fn query_pairs(uri: &Uri) -> Option<Vec<(String, String)>> {
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(uri)
        .ok()
        .map(|q| q.0)
}

/// Whether a request on a path both providers serve (`/v1/models...`) is
/// meant for Gemini: it carries `x-goog-api-key`, another `x-goog-*`
/// header, or a `key`, `pageSize` or `pageToken` query parameter.
pub fn looks_like_gemini(headers: &HeaderMap, uri: &Uri) -> bool {
    headers.keys().any(|k| k.as_str().starts_with("x-goog-"))
        || query_pairs(uri).unwrap_or_default().iter().any(|(k, _)| {
            matches!(
                k.as_str(),
                "key" | "pageSize" | "pageToken" | "page_size" | "page_token"
            )
        })
}

pub fn api_key(provider: Provider, parts: &Parts) -> Option<String> {
    match provider {
        Provider::Gemini => parts
            .headers
            .get("x-goog-api-key")
            .and_then(|v| v.to_str().ok())
            .map(|k| k.trim().to_owned())
            .or_else(|| {
                query_pairs(&parts.uri)?
                    .into_iter()
                    .find(|(k, _)| k == "key")
                    .map(|(_, v)| v)
            }),
        Provider::OpenAi => parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.trim().split_once(' ')?;
                scheme
                    .eq_ignore_ascii_case("bearer")
                    .then(|| token.trim().to_owned())
            }),
    }
}

/// Why a provider request is refused before any route logic.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// An `x-mock-fault` or `x-mock-latency` header does not parse.
    BadOverride(String),
    /// The effective fault is `Fault::Status`.
    Status(u16),
    /// The effective fault is `Fault::RateLimit`.
    RateLimited { retry_after_secs: u64 },
    /// The key rules refuse the key (never `KeyVerdict::Valid`).
    Key(KeyVerdict),
}

/// Counts a request carrying `key`, reads its override headers, applies the
/// effective fault and the key rules. The plan is returned even for a
/// refusal: latency and slow headers apply to error answers too.
pub fn judge(
    server: &MockServer,
    provider: Provider,
    key: Option<&str>,
    headers: &HeaderMap,
) -> (Admitted, Option<Refusal>) {
    let serial = server.record(key);
    let overrides = match Overrides::from_headers(headers) {
        Ok(o) => o,
        Err(e) => {
            let admitted = Admitted {
                plan: Plan::default(),
                serial,
            };
            return (admitted, Some(Refusal::BadOverride(e.to_string())));
        }
    };
    let (configured_fault, configured_latency) = server.current(Some(provider), serial);
    let fault = overrides.fault.unwrap_or(configured_fault);
    let mut plan = Plan {
        latency: overrides.latency.unwrap_or(configured_latency),
        ..Plan::default()
    };
    let refusal = match fault {
        Some(Fault::SlowHeaders(wait)) => {
            plan.slow_headers = Some(wait);
            None
        }
        Some(Fault::DisconnectAfterChunks(n)) => {
            plan.disconnect_after = Some(n);
            None
        }
        Some(Fault::GoAway { time_left }) => {
            plan.go_away = Some(time_left);
            None
        }
        Some(Fault::StallAfterChunks(n)) => {
            plan.stall_after = Some(n);
            None
        }
        Some(Fault::Reset) => {
            plan.reset = true;
            None
        }
        Some(Fault::Status(code)) => Some(Refusal::Status(code)),
        Some(Fault::RateLimit { retry_after_secs }) => {
            Some(Refusal::RateLimited { retry_after_secs })
        }
        None => None,
    };
    let refusal = refusal.or_else(|| match keys::classify(key) {
        KeyVerdict::Valid => None,
        verdict => Some(Refusal::Key(verdict)),
    });
    (Admitted { plan, serial }, refusal)
}

/// Runs the admission steps; an `Err` is the finished rejection.
pub async fn admit(
    server: &MockServer,
    provider: Provider,
    parts: &Parts,
) -> Result<Admitted, Response> {
    let key = api_key(provider, parts);
    match judge(server, provider, key.as_deref(), &parts.headers) {
        (admitted, None) => Ok(admitted),
        (admitted, Some(refusal)) => {
            let payload = refusal_payload(provider, &refusal, key.as_deref().unwrap_or(""), parts);
            Err(delivery::render(payload, admitted.plan).await)
        }
    }
}

/// A refusal as the provider's HTTP error.
pub fn refusal_payload(provider: Provider, refusal: &Refusal, key: &str, parts: &Parts) -> Payload {
    match refusal {
        Refusal::BadOverride(message) => bad_override(provider, message),
        Refusal::Status(code) => status_error(provider, *code),
        Refusal::RateLimited { retry_after_secs } => rate_limited(provider, *retry_after_secs),
        Refusal::Key(verdict) => key_error(provider, *verdict, key, parts),
    }
}

fn bad_override(provider: Provider, message: &str) -> Payload {
    match provider {
        Provider::Gemini => gemini::errors::invalid_argument(message),
        Provider::OpenAi => openai::errors::invalid_request(message, None, None),
    }
}

fn status_error(provider: Provider, code: u16) -> Payload {
    match provider {
        Provider::Gemini => gemini::errors::for_status(code),
        Provider::OpenAi => openai::errors::for_status(code),
    }
}

fn rate_limited(provider: Provider, retry_after_secs: u64) -> Payload {
    match provider {
        Provider::Gemini => gemini::errors::quota_exhausted(retry_after_secs),
        Provider::OpenAi => openai::errors::rate_limited(retry_after_secs),
    }
}

fn key_error(provider: Provider, verdict: KeyVerdict, key: &str, parts: &Parts) -> Payload {
    match (provider, verdict) {
        (Provider::Gemini, KeyVerdict::Missing) => gemini::errors::unregistered_caller(),
        (Provider::Gemini, KeyVerdict::Invalid) => gemini::errors::invalid_key(),
        (Provider::Gemini, KeyVerdict::Denied) => gemini::errors::blocked_key(parts.uri.path()),
        (Provider::Gemini, _) => gemini::errors::quota_exhausted(keys::LIMITED_RETRY_AFTER_SECS),
        (Provider::OpenAi, KeyVerdict::Missing) => openai::errors::missing_key(),
        (Provider::OpenAi, KeyVerdict::Invalid) => openai::errors::invalid_key(key),
        (Provider::OpenAi, KeyVerdict::Denied) => openai::errors::permission_denied(),
        (Provider::OpenAi, _) => openai::errors::rate_limited(keys::LIMITED_RETRY_AFTER_SECS),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parts(uri: &str, headers: &[(&'static str, &str)]) -> Parts {
        let mut builder = http::Request::builder().uri(uri);
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        builder.body(()).unwrap().into_parts().0
    }

    #[test]
    fn shared_paths_are_told_apart() {
        let p = parts("/v1/models", &[("authorization", "Bearer k")]);
        assert!(!looks_like_gemini(&p.headers, &p.uri));
        for p in [
            parts("/v1/models", &[("x-goog-api-key", "k")]),
            parts("/v1/models?key=k", &[]),
            parts("/v1/models?pageSize=2", &[("authorization", "Bearer k")]),
            parts("/v1/models", &[("x-goog-api-client", "genai")]),
        ] {
            assert!(looks_like_gemini(&p.headers, &p.uri), "{:?}", p.uri);
        }
    }

    #[test]
    fn keys_are_read_per_provider() {
        let p = parts("/v1beta/models?key=from%20query", &[]);
        assert_eq!(api_key(Provider::Gemini, &p).as_deref(), Some("from query"));
        let p = parts("/v1beta/models?key=q", &[("x-goog-api-key", "h")]);
        assert_eq!(api_key(Provider::Gemini, &p).as_deref(), Some("h"));
        let p = parts("/v1/models", &[("authorization", "bearer  sk-1 ")]);
        assert_eq!(api_key(Provider::OpenAi, &p).as_deref(), Some("sk-1"));
        let p = parts("/v1/models", &[("authorization", "Basic abc")]);
        assert_eq!(api_key(Provider::OpenAi, &p), None);
    }
}
