//! Gemini `usageMetadata` → OpenAI `usage`.
//!
//! Thinking tokens are billed as output by Google and reported as reasoning
//! tokens by OpenAI, so `completion_tokens` = candidates + thoughts and
//! `completion_tokens_details.reasoning_tokens` = thoughts. `total_tokens` is
//! Gemini's own total when present (it also counts tool-use prompt tokens).
//! Tokens read from Gemini's implicit cache (`cachedContentTokenCount`) are
//! OpenAI's `prompt_tokens_details.cached_tokens`; audio tokens reported by
//! modality (`promptTokensDetails`, `candidatesTokensDetails`) are the
//! details' `audio_tokens`, given only when Gemini reports audio.

use serde_json::{Value, json};

pub(crate) fn openai_usage(metadata: &Value) -> Value {
    let count = |key: &str| metadata[key].as_u64().unwrap_or(0);
    let prompt = count("promptTokenCount");
    let thoughts = count("thoughtsTokenCount");
    let completion = count("candidatesTokenCount").saturating_add(thoughts);
    let total = metadata["totalTokenCount"]
        .as_u64()
        .unwrap_or(prompt.saturating_add(completion));
    let mut usage = json!({
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": total,
        "prompt_tokens_details": {"cached_tokens": count("cachedContentTokenCount")},
        "completion_tokens_details": {"reasoning_tokens": thoughts},
    });
    for (gemini, openai) in [
        ("promptTokensDetails", "prompt_tokens_details"),
        ("candidatesTokensDetails", "completion_tokens_details"),
    ] {
        if let Some(audio) = audio_tokens(&metadata[gemini]) {
            usage[openai]["audio_tokens"] = json!(audio);
        }
    }
    usage
}

/// The AUDIO tokens of a `ModalityTokenCount` list, if it has any.
fn audio_tokens(details: &Value) -> Option<u64> {
    details
        .as_array()?
        .iter()
        .filter(|d| d["modality"] == "AUDIO")
        .filter_map(|d| d["tokenCount"].as_u64())
        .reduce(u64::saturating_add)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_metadata() {
        let metadata = json!({
            "promptTokenCount": 100, "candidatesTokenCount": 20, "thoughtsTokenCount": 30,
            "cachedContentTokenCount": 64, "totalTokenCount": 150
        });
        assert_eq!(
            openai_usage(&metadata),
            json!({
                "prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150,
                "prompt_tokens_details": {"cached_tokens": 64},
                "completion_tokens_details": {"reasoning_tokens": 30}
            })
        );
    }

    #[test]
    fn audio_by_modality() {
        let metadata = json!({
            "promptTokenCount": 300, "candidatesTokenCount": 64, "cachedContentTokenCount": 256,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 42}, {"modality": "AUDIO", "tokenCount": 258}],
            "cacheTokensDetails": [{"modality": "AUDIO", "tokenCount": 256}],
            "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 64}]
        });
        let usage = openai_usage(&metadata);
        assert_eq!(
            usage["prompt_tokens_details"],
            json!({"cached_tokens": 256, "audio_tokens": 258})
        );
        assert_eq!(
            usage["completion_tokens_details"],
            json!({"reasoning_tokens": 0, "audio_tokens": 64})
        );
        let text_only = json!({"promptTokenCount": 3, "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}]});
        assert_eq!(
            openai_usage(&text_only)["prompt_tokens_details"],
            json!({"cached_tokens": 0})
        );
    }

    #[test]
    fn missing_or_odd_fields_count_as_zero() {
        assert_eq!(
            openai_usage(&json!({"promptTokenCount": 7, "candidatesTokenCount": "x"})),
            json!({
                "prompt_tokens": 7, "completion_tokens": 0, "total_tokens": 7,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0}
            })
        );
        assert_eq!(openai_usage(&Value::Null)["total_tokens"], json!(0));
        let huge = json!({"promptTokenCount": u64::MAX, "candidatesTokenCount": u64::MAX, "thoughtsTokenCount": 1});
        assert_eq!(openai_usage(&huge)["total_tokens"], json!(u64::MAX));
    }
}
