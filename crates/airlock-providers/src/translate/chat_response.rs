//! A complete Gemini `GenerateContentResponse` → an OpenAI `chat.completion`
//! object, shaped like OpenAI's own (every choice has a `finish_reason`, the
//! message has `content`, `refusal`, `annotations` and, when the model called
//! tools, `tool_calls`).
//!
//! A response without candidates still yields one empty choice so clients
//! reading `choices[0]` keep working: `content_filter` when Gemini blocked
//! the prompt (`promptFeedback.blockReason`), `stop` otherwise. `usage` is
//! present when Gemini sent `usageMetadata`. A thought signature outside the
//! calls is the message's `extra_content.google.thought_signature`.

use serde_json::{Value, json};

use super::candidate;
use super::usage::openai_usage;

/// A complete Gemini GenerateContentResponse → OpenAI chat.completion object.
/// `model` is the name the client asked for.
pub fn gemini_response_to_chat(gemini: &Value, model: &str, id: &str, created: u64) -> Value {
    let candidates = gemini["candidates"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut choices: Vec<Value> = candidates
        .iter()
        .enumerate()
        .map(|(position, c)| choice(&candidate::read(c, position, id, 0)))
        .collect();
    if choices.is_empty() {
        let reason = if candidate::prompt_blocked(gemini) {
            "content_filter"
        } else {
            "stop"
        };
        choices.push(json!({
            "index": 0,
            "message": message(None, Vec::new(), None),
            "logprobs": null,
            "finish_reason": reason,
        }));
    }
    let mut completion = json!({
        "id": id,
        "object": "chat.completion",
        "created": created,
        "model": model,
        "choices": choices,
        "system_fingerprint": null,
    });
    if let Some(metadata) = gemini.get("usageMetadata").filter(|m| m.is_object()) {
        completion["usage"] = openai_usage(metadata);
    }
    completion
}

fn choice(output: &candidate::CandidateOutput) -> Value {
    let reason = output.finish_reason.as_deref().unwrap_or("STOP");
    let finish_reason = candidate::finish_reason(reason, !output.tool_calls.is_empty());
    json!({
        "index": output.index,
        "message": message(
            output.text.as_deref(),
            output.tool_calls.clone(),
            output.signature.as_deref(),
        ),
        "logprobs": output.logprobs,
        "finish_reason": finish_reason,
    })
}

fn message(text: Option<&str>, tool_calls: Vec<Value>, signature: Option<&str>) -> Value {
    let mut message = json!({
        "role": "assistant",
        "content": text,
        "refusal": null,
        "annotations": [],
    });
    if !tool_calls.is_empty() {
        message["tool_calls"] = Value::Array(tool_calls);
    }
    if let Some(signature) = signature {
        message["extra_content"] = json!({"google": {"thought_signature": signature}});
    }
    message
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "chatcmpl-abc";

    fn translate(gemini: Value) -> Value {
        gemini_response_to_chat(&gemini, "my-gemini", ID, 1_700_000_000)
    }

    #[test]
    fn text_response() {
        let gemini = json!({
            "candidates": [{
                "content": {"role": "model", "parts": [{"text": "Let me think", "thought": true}, {"text": "Hello"}, {"text": " there"}]},
                "finishReason": "STOP",
                "index": 0
            }],
            "usageMetadata": {"promptTokenCount": 5, "candidatesTokenCount": 2, "thoughtsTokenCount": 3, "totalTokenCount": 10},
            "modelVersion": "gemini-2.5-flash",
            "responseId": "xyz"
        });
        assert_eq!(
            translate(gemini),
            json!({
                "id": ID,
                "object": "chat.completion",
                "created": 1_700_000_000,
                "model": "my-gemini",
                "choices": [{
                    "index": 0,
                    "message": {"role": "assistant", "content": "Hello there", "refusal": null, "annotations": []},
                    "logprobs": null,
                    "finish_reason": "stop"
                }],
                "system_fingerprint": null,
                "usage": {
                    "prompt_tokens": 5, "completion_tokens": 5, "total_tokens": 10,
                    "prompt_tokens_details": {"cached_tokens": 0},
                    "completion_tokens_details": {"reasoning_tokens": 3}
                }
            })
        );
    }

    #[test]
    fn tool_call_response() {
        let gemini = json!({"candidates": [{
            "content": {"role": "model", "parts": [
                {"functionCall": {"name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"}
            ]},
            "finishReason": "STOP"
        }]});
        let completion = translate(gemini);
        let choice = &completion["choices"][0];
        assert_eq!(choice["finish_reason"], json!("tool_calls"));
        assert_eq!(choice["message"]["content"], Value::Null);
        let id = choice["message"]["tool_calls"][0]["id"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(id.starts_with("call_"));
        assert_eq!(
            choice["message"]["tool_calls"],
            json!([{"id": id, "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                    "extra_content": {"google": {"thought_signature": "c2ln"}}}])
        );
        assert!(completion.get("usage").is_none());
    }

    #[test]
    fn a_text_signature_rides_on_the_message() {
        let completion = translate(json!({"candidates": [{
            "content": {"parts": [{"text": "Hi", "thoughtSignature": "c2ln"}]},
            "finishReason": "STOP"
        }]}));
        assert_eq!(
            completion["choices"][0]["message"],
            json!({"role": "assistant", "content": "Hi", "refusal": null, "annotations": [],
                   "extra_content": {"google": {"thought_signature": "c2ln"}}})
        );
    }

    #[test]
    fn several_candidates_and_finish_reasons() {
        let gemini = json!({"candidates": [
            {"content": {"parts": [{"text": "a"}]}, "finishReason": "MAX_TOKENS"},
            {"content": {"parts": [{"text": "b"}]}, "finishReason": "SAFETY", "index": 1},
            {"finishReason": "RECITATION", "index": 2},
            {"content": {"parts": [{"text": "d"}]}, "finishReason": "OTHER", "index": 3}
        ]});
        let choices = translate(gemini)["choices"].clone();
        let summary: Vec<(Value, Value, Value)> = choices
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["index"].clone(),
                    c["message"]["content"].clone(),
                    c["finish_reason"].clone(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            vec![
                (json!(0), json!("a"), json!("length")),
                (json!(1), json!("b"), json!("content_filter")),
                (json!(2), Value::Null, json!("content_filter")),
                (json!(3), json!("d"), json!("stop")),
            ]
        );
    }

    #[test]
    fn blocked_prompt_gives_an_empty_filtered_choice() {
        let completion = translate(
            json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}, "usageMetadata": {"promptTokenCount": 4, "totalTokenCount": 4}}),
        );
        assert_eq!(
            completion["choices"],
            json!([{
                "index": 0,
                "message": {"role": "assistant", "content": null, "refusal": null, "annotations": []},
                "logprobs": null,
                "finish_reason": "content_filter"
            }])
        );
        assert_eq!(completion["usage"]["prompt_tokens"], json!(4));
    }

    #[test]
    fn logprobs_are_carried() {
        let completion = translate(json!({"candidates": [{
            "content": {"parts": [{"text": "Hi"}]},
            "finishReason": "STOP",
            "logprobsResult": {"chosenCandidates": [{"token": "Hi", "logProbability": -0.25}], "topCandidates": []}
        }]}));
        assert_eq!(
            completion["choices"][0]["logprobs"],
            json!({"content": [{"token": "Hi", "logprob": -0.25, "bytes": [72, 105], "top_logprobs": []}], "refusal": null})
        );
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for gemini in [
            json!(null),
            json!([]),
            json!("x"),
            json!({}),
            json!({"candidates": "x", "usageMetadata": 3}),
            json!({"candidates": [null, 5]}),
        ] {
            let completion = translate(gemini);
            assert_eq!(completion["object"], json!("chat.completion"));
            assert!(!completion["choices"].as_array().unwrap().is_empty());
            for choice in completion["choices"].as_array().unwrap() {
                assert!(choice["finish_reason"].is_string());
            }
        }
    }
}
