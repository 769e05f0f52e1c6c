//! Complete answers in the client's protocol (an OpenAI chat completion,
//! a Responses API response, a Gemini `GenerateContentResponse`), read
//! for the text they generated and rewritten into a refusal: how a
//! provider itself withholds an answer it will not give.

use serde_json::{Value, json};

/// [`text`] of an answer's bytes, read without building a JSON tree for
/// the usual shapes (a body of another shape is read as a tree).
pub fn text_of(body: &[u8]) -> Option<String> {
    match serde_json::from_slice::<shapes::Answer>(body) {
        Ok(answer) => answer.text(),
        Err(_) => text(&serde_json::from_slice(body).ok()?),
    }
}

/// The fields of the three answers that hold their text, borrowed from
/// the body where they need no unescaping.
mod shapes {
    use std::borrow::Cow;

    use serde::Deserialize;

    #[derive(Deserialize)]
    pub(super) struct Answer<'a> {
        #[serde(borrow)]
        choices: Option<Vec<Choice<'a>>>,
        #[serde(borrow)]
        candidates: Option<Vec<Candidate<'a>>>,
        #[serde(borrow)]
        object: Option<Cow<'a, str>>,
        #[serde(borrow)]
        output: Option<Vec<Item<'a>>>,
    }

    #[derive(Deserialize)]
    struct Choice<'a> {
        #[serde(borrow)]
        message: Option<Message<'a>>,
    }

    #[derive(Deserialize)]
    struct Message<'a> {
        #[serde(borrow)]
        content: Option<Content<'a>>,
    }

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Content<'a> {
        Text(#[serde(borrow)] Cow<'a, str>),
        Parts(#[serde(borrow)] Vec<Part<'a>>),
    }

    #[derive(Deserialize)]
    struct Part<'a> {
        #[serde(borrow)]
        text: Option<Cow<'a, str>>,
        #[serde(rename = "type", borrow)]
        kind: Option<Cow<'a, str>>,
        thought: Option<bool>,
    }

    #[derive(Deserialize)]
    struct Candidate<'a> {
        #[serde(borrow)]
        content: Option<GeminiContent<'a>>,
    }

    #[derive(Deserialize)]
    struct GeminiContent<'a> {
        #[serde(borrow)]
        parts: Option<Vec<Part<'a>>>,
    }

    #[derive(Deserialize)]
    struct Item<'a> {
        #[serde(borrow)]
        content: Option<Vec<Part<'a>>>,
    }

    impl Answer<'_> {
        pub(super) fn text(&self) -> Option<String> {
            let mut text = String::new();
            if let Some(choices) = &self.choices {
                let contents = choices
                    .iter()
                    .filter_map(|choice| choice.message.as_ref()?.content.as_ref());
                for content in contents {
                    match content {
                        Content::Text(more) => text.push_str(more),
                        Content::Parts(parts) => parts
                            .iter()
                            .filter_map(|part| part.text.as_deref())
                            .for_each(|more| text.push_str(more)),
                    }
                }
            } else if let Some(candidates) = &self.candidates {
                let parts = candidates
                    .iter()
                    .filter_map(|candidate| candidate.content.as_ref()?.parts.as_ref())
                    .flatten();
                for part in parts.filter(|part| part.thought != Some(true)) {
                    text.push_str(part.text.as_deref().unwrap_or_default());
                }
            } else if self.object.as_deref() == Some("response") {
                let parts = self
                    .output
                    .iter()
                    .flatten()
                    .filter_map(|item| item.content.as_ref())
                    .flatten();
                for part in parts.filter(|part| part.kind.as_deref() == Some("output_text")) {
                    text.push_str(part.text.as_deref().unwrap_or_default());
                }
            } else {
                return None;
            }
            Some(text)
        }
    }
}

/// The text an answer generated, as an SDK reads it (`message.content`
/// of each choice; Responses `output_text` parts; Gemini text parts that
/// are not thoughts), or `None` for a body of another shape.
pub fn text(answer: &Value) -> Option<String> {
    let mut text = String::new();
    if let Some(choices) = answer["choices"].as_array() {
        for choice in choices {
            push_content(&mut text, &choice["message"]["content"]);
        }
    } else if let Some(candidates) = answer["candidates"].as_array() {
        let parts = candidates
            .iter()
            .filter_map(|candidate| candidate["content"]["parts"].as_array())
            .flatten();
        for part in parts.filter(|part| part["thought"] != Value::Bool(true)) {
            push_str(&mut text, &part["text"]);
        }
    } else if answer["object"] == "response" {
        let parts = answer["output"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["content"].as_array())
            .flatten();
        for part in parts.filter(|part| part["type"] == "output_text") {
            push_str(&mut text, &part["text"]);
        }
    } else {
        return None;
    }
    Some(text)
}

/// A chat message's content: a string, or parts with text.
fn push_content(text: &mut String, content: &Value) {
    match content {
        Value::Array(parts) => parts.iter().for_each(|part| push_str(text, &part["text"])),
        other => push_str(text, other),
    }
}

fn push_str(text: &mut String, value: &Value) {
    if let Some(more) = value.as_str() {
        text.push_str(more);
    }
}

/// Rewrites `answer` in place into a refusal saying `message`, keeping its
/// id, model and usage: each chat choice's message becomes a `refusal`
/// with finish reason `content_filter`; a Responses API response's output
/// one message with a `refusal` part; each Gemini candidate loses its
/// content and ends `PROHIBITED_CONTENT` with `finishMessage`. Returns
/// whether the body had one of those shapes.
pub fn refuse(answer: &mut Value, message: &str) -> bool {
    let Some(answer) = answer.as_object_mut() else {
        return false;
    };
    if let Some(choices) = answer.get_mut("choices").and_then(Value::as_array_mut) {
        for choice in choices.iter_mut().filter_map(Value::as_object_mut) {
            choice.insert(
                "message".into(),
                json!({"role": "assistant", "content": null, "refusal": message}),
            );
            choice.insert("finish_reason".into(), json!("content_filter"));
            choice.remove("logprobs");
        }
        true
    } else if let Some(candidates) = answer.get_mut("candidates").and_then(Value::as_array_mut) {
        for candidate in candidates.iter_mut().filter_map(Value::as_object_mut) {
            for field in [
                "content",
                "citationMetadata",
                "groundingMetadata",
                "logprobsResult",
            ] {
                candidate.remove(field);
            }
            candidate.insert("finishReason".into(), json!("PROHIBITED_CONTENT"));
            candidate.insert("finishMessage".into(), json!(message));
        }
        true
    } else if answer
        .get("object")
        .is_some_and(|object| object == "response")
    {
        let id = answer.get("id").and_then(Value::as_str).unwrap_or("resp");
        let item = responses_refusal_item(id, message);
        answer.insert("output".into(), json!([item]));
        answer.remove("output_text");
        true
    } else {
        false
    }
}

/// The Responses API's output item holding a refusal (`msg_` named after
/// the response `id`).
pub fn responses_refusal_item(id: &str, message: &str) -> Value {
    let suffix = id.strip_prefix("resp_").unwrap_or(id);
    json!({
        "type": "message",
        "id": format!("msg_{suffix}"),
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "refusal", "refusal": message}],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_bytes_read_as_the_tree_is() {
        let bodies = [
            json!({"choices": [{"message": {"content": "Once \"upon\""}}, {"message": {"content": [{"type": "text", "text": " a time"}]}}]}),
            json!({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}, {"text": "Hello"}, {"functionCall": {"name": "f"}}]}}]}),
            json!({"object": "response", "output": [{"type": "reasoning", "content": [{"type": "reasoning_text", "text": "x"}]}, {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}]}),
            json!({"choices": [{"message": {"content": 5}}]}),
            json!({"choices": 5, "candidates": [{"content": {"parts": [{"text": "x"}]}}]}),
            json!({"data": []}),
            json!([1, 2]),
        ];
        for body in bodies {
            let bytes = serde_json::to_vec(&body).unwrap();
            assert_eq!(text_of(&bytes), text(&body), "{body}");
        }
        assert_eq!(text_of(b"not json"), None);
    }

    #[test]
    fn reads_the_text_of_each_protocol() {
        let chat = json!({"choices": [{"message": {"content": "Once upon"}}, {"message": {"content": [{"type": "text", "text": " a time"}]}}]});
        assert_eq!(text(&chat).as_deref(), Some("Once upon a time"));
        let gemini = json!({"candidates": [{"content": {"parts": [{"text": "thinking", "thought": true}, {"text": "Hello"}, {"functionCall": {"name": "f"}}]}}]});
        assert_eq!(text(&gemini).as_deref(), Some("Hello"));
        let responses = json!({"object": "response", "output": [{"type": "reasoning", "content": [{"type": "reasoning_text", "text": "x"}]}, {"type": "message", "content": [{"type": "output_text", "text": "Hi"}]}]});
        assert_eq!(text(&responses).as_deref(), Some("Hi"));
        assert_eq!(text(&json!({"data": []})), None);
    }

    #[test]
    fn a_refusal_keeps_the_answer_s_id_model_and_usage() {
        let mut chat = json!({"id": "c1", "model": "m", "usage": {"total_tokens": 3}, "choices": [{"index": 0, "message": {"role": "assistant", "content": "no", "tool_calls": []}, "finish_reason": "stop", "logprobs": null}]});
        assert!(refuse(&mut chat, "withheld"));
        assert_eq!(chat["id"], "c1");
        assert_eq!(chat["usage"]["total_tokens"], 3);
        assert_eq!(
            chat["choices"][0]["message"],
            json!({"role": "assistant", "content": null, "refusal": "withheld"})
        );
        assert_eq!(chat["choices"][0]["finish_reason"], "content_filter");
        assert_eq!(text(&chat).as_deref(), Some(""));

        let mut gemini = json!({"candidates": [{"content": {"parts": [{"text": "no"}]}, "finishReason": "STOP", "index": 0}], "usageMetadata": {"totalTokenCount": 3}});
        assert!(refuse(&mut gemini, "withheld"));
        assert_eq!(
            gemini["candidates"][0],
            json!({"finishReason": "PROHIBITED_CONTENT", "finishMessage": "withheld", "index": 0})
        );
        assert_eq!(gemini["usageMetadata"]["totalTokenCount"], 3);

        let mut responses = json!({"object": "response", "id": "resp_9", "output": [{"type": "message", "content": [{"type": "output_text", "text": "no"}]}], "output_text": "no"});
        assert!(refuse(&mut responses, "withheld"));
        assert_eq!(responses["output"][0]["id"], "msg_9");
        assert_eq!(
            responses["output"][0]["content"][0],
            json!({"type": "refusal", "refusal": "withheld"})
        );
        assert!(responses.get("output_text").is_none());

        assert!(!refuse(&mut json!({"data": []}), "withheld"));
        // Bodies of no known shape, or with parts of other types, are
        // left as they are.
        for mut odd in [json!([1]), json!(null), json!("text")] {
            let before = odd.clone();
            assert!(!refuse(&mut odd, "withheld"));
            assert_eq!(odd, before);
        }
        let mut odd_choices = json!({"choices": [1, {"message": {"content": "no"}}]});
        assert!(refuse(&mut odd_choices, "withheld"));
        assert_eq!(odd_choices["choices"][0], 1);
        assert_eq!(text(&odd_choices).as_deref(), Some(""));
    }
}
