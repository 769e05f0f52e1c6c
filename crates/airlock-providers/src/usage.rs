//! Token usage as each protocol reports it.
//!
//! Both providers count cached and media tokens inside their totals: Gemini's
//! `promptTokenCount` includes `cachedContentTokenCount` (and every
//! modality of `promptTokensDetails`), OpenAI's `prompt_tokens` includes
//! `prompt_tokens_details.cached_tokens` and `.audio_tokens`. So do the
//! fields here: `cached_input`, `input_audio` and `input_image` are parts of
//! `input`; `output_audio` and `output_image` parts of `output`.

use serde_json::Value;

/// Tokens in and out of one generation, as far as the provider said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: Option<u64>,
    pub output: Option<u64>,
    /// Input tokens read from the provider's prompt cache.
    pub cached_input: Option<u64>,
    /// Input tokens of audio, and of images (Gemini reports both by
    /// modality; OpenAI audio only).
    pub input_audio: Option<u64>,
    pub input_image: Option<u64>,
    /// Output tokens of generated audio and images.
    pub output_audio: Option<u64>,
    pub output_image: Option<u64>,
}

/// The `tokenCount` of `modality` in a Gemini `ModalityTokenCount` list;
/// `None` when the list is missing, 0 when it lacks the modality.
fn gemini_modality(details: Option<&Value>, modality: &str) -> Option<u64> {
    let details = details?.as_array()?;
    Some(
        details
            .iter()
            .filter(|d| d["modality"] == modality)
            .filter_map(|d| d["tokenCount"].as_u64())
            .sum(),
    )
}

/// From a Gemini response's `usageMetadata` (thinking tokens count as
/// output). A count Gemini leaves out is 0 when the prompt was counted
/// (proto3 JSON leaves zeros out): a response without
/// `cachedContentTokenCount` read nothing from the cache.
pub fn from_gemini(response: &Value) -> Option<Usage> {
    let meta = response.get("usageMetadata")?;
    let count = |field: &str| meta.get(field).and_then(Value::as_u64);
    let output = match (count("candidatesTokenCount"), count("thoughtsTokenCount")) {
        (None, None) => None,
        (candidates, thoughts) => Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0)),
    };
    let input = count("promptTokenCount");
    let prompt_details = meta.get("promptTokensDetails");
    let output_details = meta.get("candidatesTokensDetails");
    Some(Usage {
        input,
        output,
        cached_input: input.map(|_| count("cachedContentTokenCount").unwrap_or(0)),
        input_audio: gemini_modality(prompt_details, "AUDIO"),
        input_image: gemini_modality(prompt_details, "IMAGE"),
        output_audio: gemini_modality(output_details, "AUDIO"),
        output_image: gemini_modality(output_details, "IMAGE"),
    })
}

/// From an OpenAI response's `usage` (chat completions and embeddings; a
/// stream's usage chunk has the same shape). Details an OpenAI-compatible
/// server does not send stay `None`.
pub fn from_openai(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    let detail = |details: &str, field: &str| usage[details].get(field).and_then(Value::as_u64);
    Some(Usage {
        input: count("prompt_tokens"),
        output: count("completion_tokens"),
        cached_input: detail("prompt_tokens_details", "cached_tokens"),
        input_audio: detail("prompt_tokens_details", "audio_tokens"),
        input_image: None,
        output_audio: detail("completion_tokens_details", "audio_tokens"),
        output_image: None,
    })
}

/// From an OpenAI Responses API response's `usage` (`input_tokens`,
/// `output_tokens` and their details; reasoning tokens are part of the
/// output). A stream's `response.completed` event carries the same object.
pub fn from_openai_responses(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    Some(Usage {
        input: count("input_tokens"),
        output: count("output_tokens"),
        cached_input: usage["input_tokens_details"]
            .get("cached_tokens")
            .and_then(Value::as_u64),
        ..Usage::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tokens(input: u64, output: Option<u64>) -> Usage {
        Usage {
            input: Some(input),
            output,
            ..Usage::default()
        }
    }

    #[test]
    fn reads_responses_usage_with_cached_input() {
        let r = json!({"usage": {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 32}, "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 49}});
        assert_eq!(
            from_openai_responses(&r),
            Some(Usage {
                cached_input: Some(32),
                ..tokens(40, Some(9))
            })
        );
        assert_eq!(from_openai_responses(&json!({"usage": null})), None);
    }

    #[test]
    fn reads_gemini_usage_with_thoughts() {
        let r = json!({"usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}});
        assert_eq!(
            from_gemini(&r),
            Some(Usage {
                cached_input: Some(0),
                ..tokens(7, Some(5))
            })
        );
        assert_eq!(from_gemini(&json!({})), None);
    }

    #[test]
    fn reads_gemini_cached_and_media_tokens() {
        let r = json!({"usageMetadata": {
            "promptTokenCount": 3000, "candidatesTokenCount": 1300, "totalTokenCount": 4300,
            "cachedContentTokenCount": 2432,
            "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 2742}, {"modality": "AUDIO", "tokenCount": 258}],
            "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 2432}],
            "candidatesTokensDetails": [{"modality": "TEXT", "tokenCount": 10}, {"modality": "IMAGE", "tokenCount": 1290}]
        }});
        assert_eq!(
            from_gemini(&r),
            Some(Usage {
                input: Some(3000),
                output: Some(1300),
                cached_input: Some(2432),
                input_audio: Some(258),
                input_image: Some(0),
                output_audio: Some(0),
                output_image: Some(1290),
            })
        );
        // Nothing counted yet: no cache reading either.
        let early = json!({"usageMetadata": {"candidatesTokenCount": 1}});
        assert_eq!(from_gemini(&early).unwrap().cached_input, None);
    }

    #[test]
    fn reads_openai_usage_and_ignores_null() {
        let r = json!({"usage": {"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13}});
        assert_eq!(from_openai(&r), Some(tokens(4, Some(9))));
        assert_eq!(from_openai(&json!({"usage": null})), None);
        let embeddings = json!({"usage": {"prompt_tokens": 4, "total_tokens": 4}});
        assert_eq!(from_openai(&embeddings), Some(tokens(4, None)));
    }

    #[test]
    fn reads_openai_cached_and_audio_tokens() {
        let r = json!({"usage": {
            "prompt_tokens": 1500, "completion_tokens": 20, "total_tokens": 1520,
            "prompt_tokens_details": {"cached_tokens": 1408, "audio_tokens": 258},
            "completion_tokens_details": {"reasoning_tokens": 0, "audio_tokens": 12,
                "accepted_prediction_tokens": 0, "rejected_prediction_tokens": 0}
        }});
        assert_eq!(
            from_openai(&r),
            Some(Usage {
                cached_input: Some(1408),
                input_audio: Some(258),
                output_audio: Some(12),
                ..tokens(1500, Some(20))
            })
        );
        let odd = json!({"usage": {"prompt_tokens": 5, "prompt_tokens_details": null}});
        assert_eq!(from_openai(&odd), Some(tokens(5, None)));
    }
}
