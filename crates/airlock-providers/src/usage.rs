//! Token usage as each protocol reports it.

use serde_json::Value;

/// Tokens in and out of one generation, as far as the provider said.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Usage {
    pub input: Option<u64>,
    pub output: Option<u64>,
}

/// From a Gemini response's `usageMetadata` (thinking tokens count as output).
pub fn from_gemini(response: &Value) -> Option<Usage> {
    let meta = response.get("usageMetadata")?;
    let count = |field: &str| meta.get(field).and_then(Value::as_u64);
    let output = match (count("candidatesTokenCount"), count("thoughtsTokenCount")) {
        (None, None) => None,
        (candidates, thoughts) => Some(candidates.unwrap_or(0) + thoughts.unwrap_or(0)),
    };
    Some(Usage {
        input: count("promptTokenCount"),
        output,
    })
}

/// From an OpenAI response's `usage` (chat completions and embeddings).
pub fn from_openai(response: &Value) -> Option<Usage> {
    let usage = response.get("usage").filter(|u| u.is_object())?;
    let count = |field: &str| usage.get(field).and_then(Value::as_u64);
    Some(Usage {
        input: count("prompt_tokens"),
        output: count("completion_tokens"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_gemini_usage_with_thoughts() {
        let r = json!({"usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 3, "thoughtsTokenCount": 2}});
        assert_eq!(
            from_gemini(&r),
            Some(Usage {
                input: Some(7),
                output: Some(5)
            })
        );
        assert_eq!(from_gemini(&json!({})), None);
    }

    #[test]
    fn reads_openai_usage_and_ignores_null() {
        let r = json!({"usage": {"prompt_tokens": 4, "completion_tokens": 9, "total_tokens": 13}});
        assert_eq!(
            from_openai(&r),
            Some(Usage {
                input: Some(4),
                output: Some(9)
            })
        );
        assert_eq!(from_openai(&json!({"usage": null})), None);
        let embeddings = json!({"usage": {"prompt_tokens": 4, "total_tokens": 4}});
        assert_eq!(
            from_openai(&embeddings),
            Some(Usage {
                input: Some(4),
                output: None
            })
        );
    }
}
