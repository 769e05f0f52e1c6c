//! Gemini `logprobsResult` → OpenAI choice `logprobs`.
//!
//! `chosenCandidates[i]` is the sampled token at step `i` and
//! `topCandidates[i].candidates` its alternatives; they become
//! `content[i] = {token, logprob, bytes, top_logprobs}`.

use serde_json::{Value, json};

/// The OpenAI `logprobs` object, or null when Gemini sent none.
pub(crate) fn openai_logprobs(result: Option<&Value>) -> Value {
    let Some(chosen) = result.and_then(|r| r["chosenCandidates"].as_array()) else {
        return Value::Null;
    };
    let top = result.and_then(|r| r["topCandidates"].as_array());
    let content: Vec<Value> = chosen
        .iter()
        .enumerate()
        .map(|(i, token)| {
            let alternatives = top
                .and_then(|top| top.get(i))
                .and_then(|step| step["candidates"].as_array())
                .map(|alts| alts.iter().map(token_logprob).collect())
                .unwrap_or_default();
            let mut entry = token_logprob(token);
            entry["top_logprobs"] = Value::Array(alternatives);
            entry
        })
        .collect();
    json!({"content": content, "refusal": null})
}

fn token_logprob(candidate: &Value) -> Value {
    let token = candidate["token"].as_str().unwrap_or_default();
    json!({
        "token": token,
        "logprob": candidate["logProbability"].as_f64().unwrap_or(0.0),
        "bytes": token.as_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn absent_or_malformed_is_null() {
        assert_eq!(openai_logprobs(None), Value::Null);
        assert_eq!(openai_logprobs(Some(&json!({}))), Value::Null);
        assert_eq!(openai_logprobs(Some(&json!("x"))), Value::Null);
    }

    #[test]
    fn chosen_and_top_candidates() {
        let result = json!({
            "chosenCandidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "!", "logProbability": -0.5}],
            "topCandidates": [
                {"candidates": [{"token": "Hi", "logProbability": -0.1}, {"token": "Hey", "logProbability": -2.5}]}
            ]
        });
        assert_eq!(
            openai_logprobs(Some(&result)),
            json!({"content": [
                {"token": "Hi", "logprob": -0.1, "bytes": [72, 105], "top_logprobs": [
                    {"token": "Hi", "logprob": -0.1, "bytes": [72, 105]},
                    {"token": "Hey", "logprob": -2.5, "bytes": [72, 101, 121]}
                ]},
                {"token": "!", "logprob": -0.5, "bytes": [33], "top_logprobs": []}
            ], "refusal": null})
        );
    }

    #[test]
    fn missing_fields_default() {
        assert_eq!(
            openai_logprobs(Some(&json!({"chosenCandidates": [{}]}))),
            json!({"content": [{"token": "", "logprob": 0.0, "bytes": [], "top_logprobs": []}], "refusal": null})
        );
    }
}
