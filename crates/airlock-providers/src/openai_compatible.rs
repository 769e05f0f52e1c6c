//! Any server that speaks OpenAI's API (vLLM, llama.cpp server, Ollama):
//! OpenAI's URLs and bearer keys, but a key is optional.

use http::{HeaderName, HeaderValue, StatusCode};
use url::Url;

use crate::Secret;
use crate::adapter::{KeyVerdict, ProviderAdapter, ProviderKind, UpstreamCall};
use crate::openai::{bearer, openai_key_verdict, openai_url};

pub struct OpenAiCompatibleAdapter {
    base: Url,
}

impl OpenAiCompatibleAdapter {
    /// `base` is the server's OpenAI root, e.g. `http://localhost:11434/v1`.
    pub fn new(base: Url) -> Self {
        OpenAiCompatibleAdapter { base }
    }
}

impl ProviderAdapter for OpenAiCompatibleAdapter {
    fn kind(&self) -> ProviderKind {
        ProviderKind::OpenaiCompatible
    }

    fn base_url(&self) -> &Url {
        &self.base
    }

    fn url(&self, call: &UpstreamCall<'_>) -> Option<Url> {
        openai_url(&self.base, call)
    }

    fn key_header(&self, key: &Secret) -> (HeaderName, HeaderValue) {
        bearer(key)
    }

    fn judge_key(&self, status: StatusCode, _body: &[u8]) -> KeyVerdict {
        openai_key_verdict(status)
    }

    fn keys_optional(&self) -> bool {
        true
    }
}
