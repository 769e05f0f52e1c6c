//! OpenAI's API: URLs under `/v1`, bearer keys, key verdicts.

use http::{HeaderName, HeaderValue, StatusCode};
use url::Url;

use crate::Secret;
use crate::adapter::{
    KeyVerdict, ProviderAdapter, ProviderKind, UpstreamCall, push_segment, sensitive_value,
};

/// Where OpenAI serves its API (the openai SDK's default `base_url`).
pub const DEFAULT_BASE_URL: &str = "https://api.openai.com/v1";

pub struct OpenAiAdapter {
    base: Url,
}

impl OpenAiAdapter {
    /// `base` ends in `/v1`, as the openai SDK's `base_url`.
    pub fn new(base: Url) -> Self {
        OpenAiAdapter { base }
    }
}

/// URLs of the OpenAI protocol under `base`, shared with compatible servers.
pub(crate) fn openai_url(base: &Url, call: &UpstreamCall<'_>) -> Option<Url> {
    let mut url = base.clone();
    match *call {
        UpstreamCall::OpenAiPost { path } => {
            for segment in path.split('/') {
                push_segment(&mut url, segment);
            }
        }
        UpstreamCall::OpenAiListModels => push_segment(&mut url, "models"),
        UpstreamCall::OpenAiGetModel { model } => {
            push_segment(&mut url, "models");
            push_segment(&mut url, model);
        }
        _ => return None,
    }
    Some(url)
}

pub(crate) fn bearer(key: &Secret) -> (HeaderName, HeaderValue) {
    (
        http::header::AUTHORIZATION,
        sensitive_value(&format!("Bearer {}", key.expose())),
    )
}

pub(crate) fn openai_key_verdict(status: StatusCode) -> KeyVerdict {
    match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => KeyVerdict::Rejected,
        StatusCode::TOO_MANY_REQUESTS => KeyVerdict::RateLimited,
        _ => KeyVerdict::Fine,
    }
}

impl ProviderAdapter for OpenAiAdapter {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Openai
    }

    fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, call: &UpstreamCall<'_>) -> Option<Url> {
        match *call {
            // Only OpenAI itself serves Realtime; compatible servers do not.
            UpstreamCall::OpenAiRealtime { model } => {
                let mut url = self.base.clone();
                push_segment(&mut url, "realtime");
                url.query_pairs_mut().append_pair("model", model);
                Some(url)
            }
            _ => openai_url(&self.base, call),
        }
    }

    fn key_header(&self, key: &Secret) -> (HeaderName, HeaderValue) {
        bearer(key)
    }

    fn judge_key(&self, status: StatusCode, _body: &[u8]) -> KeyVerdict {
        openai_key_verdict(status)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_urls_under_v1() {
        let a = OpenAiAdapter::new(Url::parse("http://host:1/v1").unwrap());
        let url = a
            .url(&UpstreamCall::OpenAiPost {
                path: "chat/completions",
            })
            .unwrap();
        assert_eq!(url.as_str(), "http://host:1/v1/chat/completions");
        let url = a
            .url(&UpstreamCall::OpenAiGetModel {
                model: "ft:gpt-4o:org::x/y",
            })
            .unwrap();
        assert_eq!(url.path(), "/v1/models/ft:gpt-4o:org::x%2Fy");
        assert!(
            a.url(&UpstreamCall::GeminiGetModel {
                version: "v1",
                model: "m"
            })
            .is_none()
        );
    }
}
