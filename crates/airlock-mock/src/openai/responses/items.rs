//! A Responses request's conversation: its input as stored items (a string
//! is one user message; string contents become one text part; every item
//! gets an id and a status), after the items of the response it continues;
//! how the model reads it (tools, instructions, items: the token rule and
//! the prompt cache's order) and the provider-neutral [`Ask`] it makes.

use serde_json::{Value, json};

use crate::openai::catalog::OpenAiModel;
use crate::openai::request::{content_text, format_of, list, tool_mode};
use crate::prng::Digest;
use crate::reply::{Ask, ToolSpec};
use crate::tokens::{Modality, Tally, Tokens};

/// `prefix` and 48 hex digits drawn from `digest`, as OpenAI's response
/// and item ids (`resp_…`, `msg_…`, `fc_…`) are made.
pub fn hex_id(prefix: &str, digest: Digest) -> String {
    let [a, b, c] = [1, 2, 3].map(|k| digest.number(k).value());
    format!("{prefix}{a:016x}{b:016x}{c:016x}")
}

/// The request's `input` as stored items; `ids` draws the ids of items
/// that come without one.
pub fn normalize(input: &Value, ids: Digest) -> Vec<Value> {
    match input {
        Value::String(text) => vec![message("user", json!(text), None, ids.number(0))],
        other => list(other)
            .iter()
            .enumerate()
            .map(|(i, item)| normalize_item(item, ids.number(i as u64)))
            .collect(),
    }
}

fn status(item: &Value) -> Value {
    item.get("status")
        .filter(|s| !s.is_null())
        .cloned()
        .unwrap_or_else(|| json!("completed"))
}

fn message(role: &str, content: Value, given: Option<&Value>, id: Digest) -> Value {
    let text_type = if role == "assistant" {
        "output_text"
    } else {
        "input_text"
    };
    let content = match content {
        Value::String(text) => json!([text_part(text_type, &text)]),
        Value::Array(parts) => Value::Array(
            parts
                .into_iter()
                .map(|mut part| {
                    if part["type"] == "output_text" && part.get("annotations").is_none() {
                        part["annotations"] = json!([]);
                    }
                    part
                })
                .collect(),
        ),
        other => other,
    };
    let id = given
        .and_then(|g| g["id"].as_str())
        .map_or_else(|| hex_id("msg_", id), str::to_owned);
    json!({
        "id": id,
        "type": "message",
        "role": role,
        "content": content,
        "status": given.map_or_else(|| json!("completed"), status),
    })
}

fn text_part(kind: &str, text: &str) -> Value {
    if kind == "output_text" {
        json!({ "type": kind, "text": text, "annotations": [] })
    } else {
        json!({ "type": kind, "text": text })
    }
}

fn normalize_item(item: &Value, id: Digest) -> Value {
    let given_id = |prefix: &str| {
        item["id"]
            .as_str()
            .map_or_else(|| hex_id(prefix, id), str::to_owned)
    };
    match item["type"].as_str().unwrap_or("message") {
        "message" => message(
            item["role"].as_str().unwrap_or("user"),
            item["content"].clone(),
            Some(item),
            id,
        ),
        "function_call" => json!({
            "id": given_id("fc_"),
            "type": "function_call",
            "status": status(item),
            "arguments": item["arguments"],
            "call_id": item["call_id"],
            "name": item["name"],
        }),
        "function_call_output" => json!({
            "id": given_id("fco_"),
            "type": "function_call_output",
            "status": status(item),
            "call_id": item["call_id"],
            "output": item["output"],
        }),
        _ => item.clone(),
    }
}

/// What the model reads for one response.
#[derive(Debug)]
pub struct Conversation<'a> {
    pub instructions: Option<&'a str>,
    /// The request's `tools`, as sent.
    pub tools: &'a Value,
    /// The continued conversation's items, then the request's input.
    pub items: Vec<&'a Value>,
}

impl Conversation<'_> {
    /// Reads the prompt into `sink` in the order the model reads it: the
    /// tool declarations (as compact JSON), the instructions, then each
    /// item: a message's role and parts (text by the text rule, each image
    /// or file a media part), a call's name and arguments, a result's
    /// output, a reasoning item's summary and text.
    pub fn read(&self, sink: &mut impl Tokens) {
        if !list(self.tools).is_empty() {
            sink.mark(b"tools");
            sink.json(self.tools);
        }
        if let Some(instructions) = self.instructions {
            sink.mark(b"instructions");
            sink.text(instructions);
        }
        for item in &self.items {
            let kind = item["type"].as_str().unwrap_or("message");
            sink.mark(kind.as_bytes());
            match kind {
                "message" => {
                    sink.mark(item["role"].as_str().unwrap_or("").as_bytes());
                    read_parts(&item["content"], sink);
                }
                "function_call" => {
                    for key in ["name", "arguments"] {
                        sink.text(item[key].as_str().unwrap_or(""));
                    }
                }
                "function_call_output" => read_parts(&item["output"], sink),
                _ => {
                    for part in list(&item["summary"]).iter().chain(list(&item["content"])) {
                        sink.text(part["text"].as_str().unwrap_or(""));
                    }
                }
            }
        }
    }

    /// Input tokens by modality.
    pub fn tokens(&self) -> Tally {
        let mut tally = Tally::default();
        self.read(&mut tally);
        tally
    }

    /// The answer's inputs: the request's function tools (built-in tools
    /// are never called), its tool choice, format and output limit, the
    /// last user message, whether the conversation ends with a function
    /// result, and a digest of (seed, model, instructions, items without
    /// their ids).
    pub fn ask<'b>(&self, body: &'b Value, model: &OpenAiModel, seed: u64) -> Ask<'b> {
        let mut tools: Vec<ToolSpec<'b>> = list(&body["tools"])
            .iter()
            .filter(|t| t["type"] == "function")
            .map(|t| ToolSpec {
                name: t["name"].as_str().unwrap_or(""),
                schema: t.get("parameters").filter(|p| !p.is_null()),
                freeform: false,
            })
            .collect();
        let mode = tool_mode(&body["tool_choice"], &mut tools);
        let seen: Vec<Value> = self
            .items
            .iter()
            .map(|i| {
                json!([
                    i["type"],
                    i["role"],
                    i["content"],
                    i["name"],
                    i["arguments"],
                    i["output"]
                ])
            })
            .collect();
        Ask {
            digest: Digest::new(seed)
                .part(model.id)
                .part(self.instructions.unwrap_or(""))
                .part(Value::Array(seen).to_string()),
            tools,
            mode,
            last_user_text: self
                .items
                .iter()
                .rev()
                .find(|i| i["type"] == "message" && i["role"] == "user")
                .map(|i| content_text(&i["content"]))
                .unwrap_or_default(),
            after_tool_result: self
                .items
                .last()
                .is_some_and(|i| i["type"] == "function_call_output"),
            format: format_of(&body["text"]["format"]),
            max_tokens: body["max_output_tokens"].as_u64(),
            stop: Vec::new(),
        }
    }
}

fn read_parts(content: &Value, sink: &mut impl Tokens) {
    if let Value::String(text) = content {
        sink.text(text);
        return;
    }
    for part in list(content) {
        let kind = part["type"].as_str().unwrap_or("");
        sink.mark(kind.as_bytes());
        let media = |keys: &[&str]| {
            keys.iter()
                .find_map(|k| part[*k].as_str())
                .unwrap_or("")
                .as_bytes()
        };
        match kind {
            "input_image" => sink.media(Modality::Image, media(&["image_url", "file_id"])),
            "input_file" => sink.media(
                Modality::Document,
                media(&["file_data", "file_id", "file_url"]),
            ),
            "refusal" => sink.text(part["refusal"].as_str().unwrap_or("")),
            _ => sink.text(part["text"].as_str().unwrap_or("")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;
    use crate::reply::{Format, ToolMode};
    use crate::tokens::MEDIA_PART_TOKENS;

    #[test]
    fn input_is_normalized_with_ids() {
        let ids = Digest::new(0);
        let items = normalize(&json!("hello"), ids);
        assert_eq!(items.len(), 1);
        assert!(items[0]["id"].as_str().unwrap().starts_with("msg_"));
        assert_eq!(items[0]["id"].as_str().unwrap().len(), 4 + 48);
        assert_eq!(
            items[0]["content"],
            json!([{"type": "input_text", "text": "hello"}])
        );
        let items = normalize(
            &json!([
                {"role": "assistant", "content": "hi"},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "r", "id": "fco_given"},
                {"type": "reasoning", "id": "rs_1", "summary": []}
            ]),
            ids,
        );
        assert_eq!(items[0]["content"][0]["type"], "output_text");
        assert_eq!(items[0]["content"][0]["annotations"], json!([]));
        assert!(items[1]["id"].as_str().unwrap().starts_with("fc_"));
        assert_eq!(items[1]["status"], "completed");
        assert_eq!(items[2]["id"], "fco_given");
        assert_eq!(
            items[3],
            json!({"type": "reasoning", "id": "rs_1", "summary": []})
        );
        assert_ne!(items[0]["id"], items[1]["id"]);
    }

    #[test]
    fn the_conversation_is_read_and_asked() {
        let body = json!({
            "tools": [{"type": "function", "name": "get_weather"}, {"type": "web_search"}],
            "tool_choice": "required",
            "text": {"format": {"type": "json_object"}},
            "max_output_tokens": 20
        });
        let items = normalize(
            &json!([
                {"role": "user", "content": [{"type": "input_text", "text": "abcdefgh"}, {"type": "input_image", "image_url": "https://x/y.png"}]},
                {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                {"type": "function_call_output", "call_id": "c", "output": "abcd"}
            ]),
            Digest::new(0),
        );
        let conversation = Conversation {
            instructions: Some("abcd"),
            tools: &body["tools"],
            items: items.iter().collect(),
        };
        let t = conversation.tokens();
        assert_eq!(
            t.total(),
            crate::tokens::json_tokens(&body["tools"]) + 1 + 2 + MEDIA_PART_TOKENS + 1 + 1 + 1
        );
        assert_eq!(t.image, MEDIA_PART_TOKENS);
        let ask = conversation.ask(&body, catalog::find("gpt-4o").unwrap(), 0);
        assert_eq!(ask.tools.len(), 1);
        assert_eq!(ask.mode, ToolMode::Required { only: None });
        assert!(matches!(ask.format, Format::JsonObject));
        assert_eq!(ask.last_user_text, "abcdefgh");
        assert!(ask.after_tool_result);
        assert_eq!(ask.max_tokens, Some(20));
        // Ids do not change the answer.
        let again = normalize(
            &json!([{"role": "user", "content": [{"type": "input_text", "text": "abcdefgh"}, {"type": "input_image", "image_url": "https://x/y.png"}]}, {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"}, {"type": "function_call_output", "call_id": "c", "output": "abcd"}]),
            Digest::new(9),
        );
        let other = Conversation {
            items: again.iter().collect(),
            ..conversation
        };
        assert_eq!(
            other
                .ask(&body, catalog::find("gpt-4o").unwrap(), 0)
                .digest
                .value(),
            ask.digest.value()
        );
    }
}
