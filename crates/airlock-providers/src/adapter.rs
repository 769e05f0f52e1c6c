//! The provider trait: what differs between upstream kinds.
//!
//! An adapter knows its provider's URLs, how a key is attached and how the
//! provider says "this key is bad" or "slow down". Everything else (sending,
//! retrying on another key, streaming) is shared in [`crate::Provider`].

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use url::Url;

use crate::Secret;

/// The wire protocol an upstream speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    OpenAi,
    Gemini,
}

/// The kinds of provider Airlock can call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProviderKind {
    /// Google AI Studio's Gemini API.
    Gemini,
    /// OpenAI's API.
    Openai,
    /// Any server speaking OpenAI's API (vLLM, llama.cpp, Ollama); keys optional.
    OpenaiCompatible,
}

impl ProviderKind {
    pub fn protocol(self) -> Protocol {
        match self {
            ProviderKind::Gemini => Protocol::Gemini,
            ProviderKind::Openai | ProviderKind::OpenaiCompatible => Protocol::OpenAi,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ProviderKind::Gemini => "gemini",
            ProviderKind::Openai => "openai",
            ProviderKind::OpenaiCompatible => "openai_compatible",
        }
    }
}

/// One upstream operation, protocol-specific.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamCall<'a> {
    /// Gemini `POST /{version}/models/{model}:{method}`; streaming methods ask for SSE.
    GeminiModelMethod {
        version: &'a str,
        model: &'a str,
        method: &'a str,
    },
    /// Gemini `GET /{version}/models` with paging, or `GET /{version}/models/{model}`.
    GeminiListModels {
        version: &'a str,
        page_size: Option<&'a str>,
        page_token: Option<&'a str>,
    },
    GeminiGetModel {
        version: &'a str,
        model: &'a str,
    },
    /// OpenAI `POST {base}/{path}` such as `chat/completions` or `embeddings`.
    OpenAiPost {
        path: &'a str,
    },
    /// OpenAI `GET {base}/models`, or `GET {base}/models/{model}`.
    OpenAiListModels,
    OpenAiGetModel {
        model: &'a str,
    },
    /// Gemini Live: the `BidiGenerateContent` WebSocket of `{version}`.
    GeminiLive {
        version: &'a str,
    },
    /// OpenAI Realtime: the `{base}/realtime?model=` WebSocket.
    OpenAiRealtime {
        model: &'a str,
    },
}

impl UpstreamCall<'_> {
    pub fn method(&self) -> http::Method {
        match self {
            UpstreamCall::GeminiModelMethod { .. } | UpstreamCall::OpenAiPost { .. } => {
                http::Method::POST
            }
            _ => http::Method::GET,
        }
    }
}

/// What an error answer says about the key that was used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyVerdict {
    /// The answer is about the request, not the key: hand it to the client.
    Fine,
    /// The key is invalid or forbidden: take it out of rotation.
    Rejected,
    /// The key is rate-limited: rest it, try another key.
    RateLimited,
}

/// What differs between provider kinds.
pub trait ProviderAdapter: Send + Sync + 'static {
    fn kind(&self) -> ProviderKind;

    fn base_url(&self) -> &Url;

    /// The upstream URL for a call, or `None` when this adapter's protocol has
    /// no such call.
    fn url(&self, call: &UpstreamCall<'_>) -> Option<Url>;

    /// The header that carries a key the way this provider expects it
    /// (marked sensitive, so no debug output shows it). Used for HTTP calls
    /// and for realtime sockets' handshakes alike.
    fn key_header(&self, key: &Secret) -> (HeaderName, HeaderValue);

    /// Reads an error answer: is the key at fault?
    fn judge_key(&self, status: StatusCode, body: &[u8]) -> KeyVerdict;

    /// How long a rate-limited answer asks to wait: by default its
    /// `Retry-After` header.
    fn retry_after(&self, headers: &HeaderMap, _body: &[u8]) -> Option<Duration> {
        header_retry_after(headers)
    }

    /// Whether this provider can be called with no key at all.
    fn keys_optional(&self) -> bool {
        false
    }
}

/// `Retry-After` in seconds (the HTTP-date form is not used by these
/// providers), capped at an hour.
pub(crate) fn header_retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(http::header::RETRY_AFTER)?.to_str().ok()?;
    seconds(value.trim())
}

/// A non-negative number of seconds, capped at an hour.
pub(crate) fn seconds(text: &str) -> Option<Duration> {
    let seconds: f64 = text.parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
}

/// A key as a header value that debug output never shows.
pub(crate) fn sensitive_value(value: &str) -> HeaderValue {
    // Keys come from configuration and are checked to be printable ASCII there;
    // an unprintable one yields an empty header, which the provider refuses.
    let mut value = HeaderValue::from_str(value).unwrap_or_else(|_| HeaderValue::from_static(""));
    value.set_sensitive(true);
    value
}

/// Percent-encodes one path segment (a model name) so it cannot change the
/// URL's structure.
pub(crate) fn push_segment(url: &mut Url, segment: &str) {
    if let Ok(mut segments) = url.path_segments_mut() {
        segments.pop_if_empty().push(segment);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_retry_after_seconds() {
        let mut headers = HeaderMap::new();
        assert_eq!(header_retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "2".parse().unwrap());
        assert_eq!(header_retry_after(&headers), Some(Duration::from_secs(2)));
        headers.insert(http::header::RETRY_AFTER, "soon".parse().unwrap());
        assert_eq!(header_retry_after(&headers), None);
        headers.insert(http::header::RETRY_AFTER, "99999".parse().unwrap());
        assert_eq!(
            header_retry_after(&headers),
            Some(Duration::from_secs(3600))
        );
    }
}
