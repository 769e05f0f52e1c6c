//! Gemini's implicit caching, as Google documents it
//! (<https://ai.google.dev/gemini-api/docs/caching>, last updated
//! 2026-10-13): "enabled by default for all Gemini 2.5 and newer models",
//! for prompts of at least a minimum input token count per model: 2,048 for
//! Gemini 2.5 Flash and 2.5 Pro; 4,096 for Gemini 3.1 Pro Preview, 3.6
//! Flash, 3.8 Flash and 4 Argon. Models the table leaves out take their
//! generation's minimum: 2,048 for every 2.5 model, 4,096 from Gemini 3 on.
//! Gemini 2.0 models and embedding models never cache.
//!
//! Hits are reported in `usageMetadata` as `cachedContentTokenCount` (left
//! out when 0, as proto3 JSON leaves zeros out) and `cacheTokensDetails` by
//! modality; `promptTokenCount` still counts them. The cached prefix (see
//! [`crate::prompt_cache`]) is read as the model reads the prompt: system
//! instruction, tool declarations, then the contents; it is counted in
//! whole blocks of 128 tokens and must itself reach the minimum.

use serde_json::Value;

use super::catalog::GeminiModel;
use super::request::{self, PromptTokens};
use crate::prompt_cache::Prefix;
use crate::server::MockServer;

/// The fewest prompt tokens `model` caches, or `None` if it never does.
pub fn minimum(model: &GeminiModel) -> Option<u64> {
    let id = model.id;
    if model.embedding_dimensions.is_some()
        || id.starts_with("gemini-1")
        || id.starts_with("gemini-2.0")
    {
        None
    } else if id.starts_with("gemini-2.5") {
        Some(2_048)
    } else {
        Some(4_096)
    }
}

/// The cached part of `req`'s prompt (`prompt` being its tokens), by
/// modality; the request's prefix is remembered for the next ones.
pub fn cached(
    server: &MockServer,
    model: &GeminiModel,
    req: &Value,
    prompt: &PromptTokens,
) -> PromptTokens {
    let Some(minimum) = minimum(model).filter(|m| prompt.total() >= *m) else {
        return PromptTokens::default();
    };
    let mut prefix = Prefix::new(model.id);
    request::read_prompt(req, &mut prefix);
    let hit = server.prompt_cache().read_through(&prefix);
    if hit.total() >= minimum {
        hit
    } else {
        PromptTokens::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::catalog;

    fn min(id: &str) -> Option<u64> {
        minimum(catalog::find(id).unwrap())
    }

    #[test]
    fn minimums_follow_googles_table() {
        assert_eq!(min("gemini-2.5-flash"), Some(2_048));
        assert_eq!(min("gemini-2.5-pro"), Some(2_048));
        assert_eq!(min("gemini-2.5-flash-lite"), Some(2_048));
        assert_eq!(min("gemini-2.5-flash-image"), Some(2_048));
        for id in [
            "gemini-3.1-pro-preview",
            "gemini-3.6-flash",
            "gemini-3.8-flash",
            "gemini-4-argon",
            "gemini-3-flash-preview",
            "gemini-flash-latest",
        ] {
            assert_eq!(min(id), Some(4_096), "{id}");
        }
        assert_eq!(min("gemini-2.0-flash"), None);
        assert_eq!(min("gemini-embedding-001"), None);
        assert_eq!(min("text-embedding-004"), None);
    }

    #[test]
    fn prompt_and_prefix_agree() {
        let req = serde_json::json!({
            "systemInstruction": {"parts": [{"text": "s".repeat(9_000)}]},
            "tools": [{"functionDeclarations": [{"name": "f"}]}],
            "contents": [{"role": "user", "parts": [
                {"text": "hello"},
                {"inlineData": {"mimeType": "image/png", "data": "AAAA"}}
            ]}]
        });
        let mut prefix = Prefix::new("gemini-2.5-flash");
        request::read_prompt(&req, &mut prefix);
        assert_eq!(prefix.tokens(), request::prompt_tokens(&req));
    }
}
