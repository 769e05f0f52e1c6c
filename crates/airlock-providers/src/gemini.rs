//! Google's Gemini API (AI Studio): URLs, `x-goog-api-key`, key verdicts.

use std::time::Duration;

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use url::Url;

use crate::Secret;
use crate::adapter::{
    KeyVerdict, ProviderAdapter, ProviderKind, UpstreamCall, header_retry_after, push_segment,
    seconds, sensitive_value,
};

/// Where Google serves the Gemini API.
pub const DEFAULT_BASE_URL: &str = "https://generativelanguage.googleapis.com";

/// The API version Airlock calls when it chooses (translated requests,
/// catalogue reads); a Gemini client's own calls keep the version it used.
pub const API_VERSION: &str = "v1beta";

pub struct GeminiAdapter {
    base: Url,
}

impl GeminiAdapter {
    /// `base` is a host root (as google-genai's `base_url`), e.g. `https://generativelanguage.googleapis.com`.
    pub fn new(base: Url) -> Self {
        GeminiAdapter { base }
    }

    fn versioned(&self, version: &str) -> Url {
        let mut url = self.base.clone();
        push_segment(&mut url, version);
        url
    }
}

impl ProviderAdapter for GeminiAdapter {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Gemini
    }

    fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, call: &UpstreamCall<'_>) -> Option<Url> {
        match *call {
            UpstreamCall::GeminiModelMethod {
                version,
                model,
                method,
            } => {
                let mut url = self.versioned(version);
                push_segment(&mut url, "models");
                push_segment(&mut url, &format!("{model}:{method}"));
                if method == "streamGenerateContent" {
                    url.query_pairs_mut().append_pair("alt", "sse");
                }
                Some(url)
            }
            UpstreamCall::GeminiListModels {
                version,
                page_size,
                page_token,
            } => {
                let mut url = self.versioned(version);
                push_segment(&mut url, "models");
                if let Some(size) = page_size {
                    url.query_pairs_mut().append_pair("pageSize", size);
                }
                if let Some(token) = page_token {
                    url.query_pairs_mut().append_pair("pageToken", token);
                }
                Some(url)
            }
            UpstreamCall::GeminiGetModel { version, model } => {
                let mut url = self.versioned(version);
                push_segment(&mut url, "models");
                push_segment(&mut url, model);
                Some(url)
            }
            UpstreamCall::GeminiLive { version } => {
                let mut url = self.base.clone();
                push_segment(&mut url, "ws");
                push_segment(
                    &mut url,
                    &format!(
                        "google.ai.generativelanguage.{version}.GenerativeService.BidiGenerateContent"
                    ),
                );
                Some(url)
            }
            _ => None,
        }
    }

    fn key_header(&self, key: &Secret) -> (HeaderName, HeaderValue) {
        (
            HeaderName::from_static("x-goog-api-key"),
            sensitive_value(key.expose()),
        )
    }

    fn judge_key(&self, status: StatusCode, body: &[u8]) -> KeyVerdict {
        match status {
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => KeyVerdict::Rejected,
            StatusCode::TOO_MANY_REQUESTS => KeyVerdict::RateLimited,
            // Google answers an invalid key with 400 and reason API_KEY_INVALID.
            StatusCode::BAD_REQUEST if contains(body, b"API_KEY_INVALID") => KeyVerdict::Rejected,
            _ => KeyVerdict::Fine,
        }
    }

    /// Google says how long to wait in the body's `RetryInfo`, not in a
    /// `Retry-After` header (used when there is no `RetryInfo`).
    fn retry_after(&self, headers: &HeaderMap, body: &[u8]) -> Option<Duration> {
        retry_info_delay(body).or_else(|| header_retry_after(headers))
    }
}

/// The delay of a `google.rpc.RetryInfo` detail in a Google error body
/// (`{"error": {"details": [{"@type": ".../google.rpc.RetryInfo",
/// "retryDelay": "12.5s"}]}}`).
fn retry_info_delay(body: &[u8]) -> Option<Duration> {
    let error: serde_json::Value = serde_json::from_slice(body).ok()?;
    error["error"]["details"]
        .as_array()?
        .iter()
        .filter(|detail| {
            detail["@type"]
                .as_str()
                .is_some_and(|kind| kind.ends_with("google.rpc.RetryInfo"))
        })
        .find_map(|detail| seconds(detail["retryDelay"].as_str()?.strip_suffix('s')?))
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn adapter() -> GeminiAdapter {
        GeminiAdapter::new(Url::parse("http://host:1/").unwrap())
    }

    #[test]
    fn reads_the_delay_from_retry_info_before_the_header() {
        let body = br#"{"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": []},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12.5s"}]}}"#;
        let mut headers = HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "3".parse().unwrap());
        assert_eq!(
            adapter().retry_after(&headers, body),
            Some(Duration::from_millis(12_500))
        );
        assert_eq!(
            adapter().retry_after(&headers, b"{}"),
            Some(Duration::from_secs(3))
        );
        assert_eq!(adapter().retry_after(&HeaderMap::new(), b"not json"), None);
        let no_unit = br#"{"error": {"details": [{"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12"}]}}"#;
        assert_eq!(adapter().retry_after(&HeaderMap::new(), no_unit), None);
    }

    #[test]
    fn builds_method_urls_with_sse_for_streams() {
        let url = adapter()
            .url(&UpstreamCall::GeminiModelMethod {
                version: "v1beta",
                model: "gemini-2.5-flash",
                method: "streamGenerateContent",
            })
            .unwrap();
        assert_eq!(
            url.as_str(),
            "http://host:1/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse"
        );
    }

    #[test]
    fn model_names_cannot_escape_their_segment() {
        let url = adapter()
            .url(&UpstreamCall::GeminiGetModel {
                version: "v1",
                model: "../../x?y",
            })
            .unwrap();
        assert_eq!(url.path(), "/v1/models/..%2F..%2Fx%3Fy");
        assert_eq!(url.query(), None);
    }

    #[test]
    fn judges_keys_like_google_answers() {
        let a = adapter();
        assert_eq!(
            a.judge_key(StatusCode::BAD_REQUEST, br#"{"reason":"API_KEY_INVALID"}"#),
            KeyVerdict::Rejected
        );
        assert_eq!(
            a.judge_key(StatusCode::BAD_REQUEST, b"{}"),
            KeyVerdict::Fine
        );
        assert_eq!(
            a.judge_key(StatusCode::FORBIDDEN, b""),
            KeyVerdict::Rejected
        );
        assert_eq!(
            a.judge_key(StatusCode::TOO_MANY_REQUESTS, b""),
            KeyVerdict::RateLimited
        );
    }
}
