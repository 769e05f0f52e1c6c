//! A translated chat completion → the Responses `response` object, shaped
//! as the SDK's `Response` reads it and in OpenAI's member order: the
//! request's settings echoed with OpenAI's defaults, the output items, the
//! outcome and the usage. Shared with the stream translation, which builds
//! the same object for its `response.*` lifecycle events.
//!
//! * Output: a `web_search_call` item (`ws_…`) when the request let the
//!   model search the web (see [`super::search`]), a `message` item
//!   (`msg_…`) with one `output_text` part when the answer has text (its
//!   `annotations` the `url_citation`s of Gemini's grounding), then one
//!   `function_call` item (`fc_…`) per tool call,
//!   its `call_id` the chat call's id. A thought signature stays where chat
//!   puts it, `extra_content.google.thought_signature`, on the call's item
//!   or (a text answer's) on the message item, so replaying the items as
//!   the next turn's input gives it back to Gemini.
//! * Item ids are `prefix` + 48 hex digits derived from the response id and
//!   the item's output index: the same answer always gets the same ids, and
//!   no two items of a response share one.
//! * Outcome: finish reason `length` → `incomplete` for `max_output_tokens`,
//!   `content_filter` → `incomplete` for `content_filter`, otherwise
//!   `completed` (with `completed_at`). A message cut short is `incomplete`.
//! * Usage: chat's `prompt_tokens` / `completion_tokens` (with their
//!   cached and reasoning details) as `input_tokens` / `output_tokens`;
//!   `null` when the completion has none.

use serde_json::{Value, json};

use super::search::{self, Grounding};
use crate::translate::gemini_response_to_chat;

/// How a response ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    Completed,
    /// `incomplete`, for this `incomplete_details.reason`.
    Incomplete(&'static str),
}

impl Outcome {
    /// The outcome of a chat `finish_reason` (none yet counts as completed).
    pub(super) fn of(finish_reason: Option<&str>) -> Self {
        match finish_reason {
            Some("length") => Self::Incomplete("max_output_tokens"),
            Some("content_filter") => Self::Incomplete("content_filter"),
            _ => Self::Completed,
        }
    }

    /// The status of a message item the answer ended in.
    pub(super) fn item_status(self) -> &'static str {
        match self {
            Self::Completed => "completed",
            Self::Incomplete(_) => "incomplete",
        }
    }
}

/// The response object as the request sets it up, before any output.
pub(super) struct Envelope {
    base: Value,
}

impl Envelope {
    pub(super) fn new(request: &Value, id: &str, created_at: u64) -> Self {
        let setting = |key: &str, default: Value| {
            request
                .get(key)
                .filter(|v| !v.is_null())
                .cloned()
                .unwrap_or(default)
        };
        let reasoning = &request["reasoning"];
        let summary = match &reasoning["summary"] {
            Value::Null => &reasoning["generate_summary"],
            given => given,
        };
        let base = json!({
            "id": id,
            "object": "response",
            "created_at": created_at,
            "status": "in_progress",
            "background": false,
            "completed_at": null,
            "error": null,
            "incomplete_details": null,
            "instructions": setting("instructions", Value::Null),
            "max_output_tokens": setting("max_output_tokens", Value::Null),
            "max_tool_calls": setting("max_tool_calls", Value::Null),
            "model": setting("model", json!("")),
            "output": [],
            "parallel_tool_calls": setting("parallel_tool_calls", json!(true)),
            "previous_response_id": setting("previous_response_id", Value::Null),
            "prompt_cache_key": setting("prompt_cache_key", Value::Null),
            "prompt_cache_retention": setting("prompt_cache_retention", Value::Null),
            "reasoning": {"effort": reasoning["effort"], "summary": summary},
            "safety_identifier": setting("safety_identifier", Value::Null),
            "service_tier": "default",
            "store": setting("store", json!(true)),
            "temperature": setting("temperature", json!(1.0)),
            "text": text_config(&request["text"]),
            "tool_choice": setting("tool_choice", json!("auto")),
            "tools": echoed_tools(&request["tools"]),
            "top_logprobs": setting("top_logprobs", json!(0)),
            "top_p": setting("top_p", json!(1.0)),
            "truncation": setting("truncation", json!("disabled")),
            "usage": null,
            "user": setting("user", Value::Null),
            "metadata": setting("metadata", json!({})),
        });
        Self { base }
    }

    /// The response while it is being answered: `in_progress`, no output.
    pub(super) fn in_progress(&self) -> Value {
        self.base.clone()
    }

    /// The finished response.
    pub(super) fn finished(&self, output: Vec<Value>, outcome: Outcome, usage: Value) -> Value {
        let mut response = self.base.clone();
        match outcome {
            Outcome::Completed => {
                response["status"] = json!("completed");
                response["completed_at"] = response["created_at"].clone();
            }
            Outcome::Incomplete(reason) => {
                response["status"] = json!("incomplete");
                response["incomplete_details"] = json!({"reason": reason});
            }
        }
        response["output"] = Value::Array(output);
        response["usage"] = usage;
        response
    }
}

/// `text` as OpenAI echoes it: the format (`text` by default, a schema
/// format with every member) and the verbosity (`medium` by default).
fn text_config(text: &Value) -> Value {
    let format = &text["format"];
    let format = match format["type"].as_str() {
        Some("json_schema") => {
            let or_null = |key: &str| format.get(key).cloned().unwrap_or(Value::Null);
            json!({
                "type": "json_schema",
                "description": or_null("description"),
                "name": format["name"],
                "schema": format["schema"],
                "strict": or_null("strict"),
            })
        }
        Some(kind) => json!({"type": kind}),
        None => json!({"type": "text"}),
    };
    let verbosity = text["verbosity"].as_str().unwrap_or("medium");
    json!({"format": format, "verbosity": verbosity})
}

/// The request's tools as OpenAI echoes them: function tools with every
/// member, `strict` true unless the request said otherwise.
fn echoed_tools(tools: &Value) -> Value {
    let tools = tools.as_array().map(Vec::as_slice).unwrap_or_default();
    tools
        .iter()
        .map(|tool| {
            if tool["type"] != "function" {
                return tool.clone();
            }
            let or_null = |key: &str| tool.get(key).cloned().unwrap_or(Value::Null);
            json!({
                "type": "function",
                "name": tool["name"],
                "description": or_null("description"),
                "parameters": or_null("parameters"),
                "strict": tool["strict"].as_bool().unwrap_or(true),
            })
        })
        .collect()
}

/// The id of the output item at `index` of response `response_id`:
/// `prefix` + 48 hex digits (FNV-1a of both, spread by MurmurHash3's
/// 64-bit finalizer), as OpenAI's `msg_…` / `fc_…` ids look.
pub(super) fn item_id(prefix: &str, response_id: &str, index: usize) -> String {
    let seed = format!("{response_id}\u{0}{index}");
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let [a, b, c] = [1_u64, 2, 3].map(|k| fmix64(hash ^ k.wrapping_mul(0x9e37_79b9_7f4a_7c15)));
    format!("{prefix}{a:016x}{b:016x}{c:016x}")
}

fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// An `output_text` content part.
pub(super) fn output_text(text: &str, annotations: &[Value]) -> Value {
    json!({"type": "output_text", "annotations": annotations, "logprobs": [], "text": text})
}

/// A message item; `text: None` is the item as `output_item.added` shows
/// it (no content yet).
pub(super) fn message_item(id: &str, status: &str, text: Option<(&str, &[Value])>) -> Value {
    let content = text.map_or_else(Vec::new, |(text, annotations)| {
        vec![output_text(text, annotations)]
    });
    json!({"id": id, "type": "message", "status": status, "role": "assistant", "content": content})
}

/// A chat tool call as a `function_call` item with `arguments` and
/// `status`, keeping the call's `extra_content` (its thought signature).
pub(super) fn function_call_item(id: &str, call: &Value, status: &str, arguments: &str) -> Value {
    let mut item = json!({
        "id": id,
        "type": "function_call",
        "status": status,
        "arguments": arguments,
        "call_id": call["id"].as_str().unwrap_or_default(),
        "name": call["function"]["name"].as_str().unwrap_or_default(),
    });
    if let Some(extra) = call.get("extra_content").filter(|e| e.is_object()) {
        item["extra_content"] = extra.clone();
    }
    item
}

/// A chat tool call's complete `arguments` string.
pub(super) fn call_arguments(call: &Value) -> &str {
    call["function"]["arguments"].as_str().unwrap_or_default()
}

/// Chat `usage` → Responses `usage` (`null` when there is none).
pub(super) fn usage(chat_usage: &Value) -> Value {
    if !chat_usage.is_object() {
        return Value::Null;
    }
    let count = |pointer: &str| chat_usage.pointer(pointer).and_then(Value::as_u64);
    let input = count("/prompt_tokens").unwrap_or(0);
    let output = count("/completion_tokens").unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {
            "cached_tokens": count("/prompt_tokens_details/cached_tokens").unwrap_or(0),
            "cache_write_tokens": 0,
        },
        "output_tokens": output,
        "output_tokens_details": {
            "reasoning_tokens": count("/completion_tokens_details/reasoning_tokens").unwrap_or(0),
        },
        "total_tokens": count("/total_tokens").unwrap_or(input.saturating_add(output)),
    })
}

/// Translates a complete Gemini answer into the Responses `response`
/// object answering `request`, as response `id` created at `created_at`
/// (Unix seconds), by way of
/// [`gemini_response_to_chat`](crate::translate::gemini_response_to_chat)
/// (`model` is the name the client asked for) and its first candidate's
/// grounding. Called by the gateway's `dispatch/responses.rs` for a Gemini
/// route; only the first candidate is read (a Responses request cannot ask
/// for more).
pub fn gemini_response_to_responses(
    gemini: &Value,
    request: &Value,
    model: &str,
    id: &str,
    created_at: u64,
) -> Value {
    let chat = gemini_response_to_chat(gemini, model, id, created_at);
    let grounding = Grounding::of_candidate(&gemini["candidates"][0]);
    respond(&chat, grounding.as_ref(), request, id, created_at)
}

/// A chat completion (what `gemini_response_to_chat` returns) and the
/// grounding of its first candidate → the `response` object.
fn respond(
    chat: &Value,
    grounding: Option<&Grounding>,
    request: &Value,
    id: &str,
    created_at: u64,
) -> Value {
    let choice = &chat["choices"][0];
    let message = &choice["message"];
    let outcome = Outcome::of(choice["finish_reason"].as_str());
    let mut output = Vec::new();
    if search::searches(request) {
        let call_id = item_id("ws_", id, 0);
        let with_sources = search::wants_sources(request);
        output.push(search::finished_call(&call_id, grounding, with_sources));
    }
    if let Some(text) = message["content"].as_str().filter(|t| !t.is_empty()) {
        let annotations = grounding.map(|g| g.annotations(text)).unwrap_or_default();
        let mut item = message_item(
            &item_id("msg_", id, output.len()),
            outcome.item_status(),
            Some((text, &annotations)),
        );
        if let Some(extra) = message.get("extra_content").filter(|e| e.is_object()) {
            item["extra_content"] = extra.clone();
        }
        output.push(item);
    }
    let calls = message["tool_calls"]
        .as_array()
        .map(Vec::as_slice)
        .unwrap_or_default();
    for call in calls.iter().filter(|c| c.is_object()) {
        let item_id = item_id("fc_", id, output.len());
        output.push(function_call_item(
            &item_id,
            call,
            "completed",
            call_arguments(call),
        ));
    }
    Envelope::new(request, id, created_at).finished(output, outcome, usage(&chat["usage"]))
}

/// A chat completion (an OpenAI-compatible server's answer) as the
/// Responses API's response object to `request`.
pub fn chat_response_to_responses(
    chat: &Value,
    request: &Value,
    id: &str,
    created_at: u64,
) -> Value {
    respond(chat, None, request, id, created_at)
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "resp_0123";

    fn completion(message: Value, finish_reason: &str) -> Value {
        json!({
            "id": "chatcmpl-1", "object": "chat.completion", "created": 5, "model": "gemini-2.5-flash",
            "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_reason}],
            "system_fingerprint": null,
            "usage": {"prompt_tokens": 12, "completion_tokens": 9, "total_tokens": 21,
                      "prompt_tokens_details": {"cached_tokens": 8},
                      "completion_tokens_details": {"reasoning_tokens": 4}}
        })
    }

    fn text_message(text: &str) -> Value {
        json!({"role": "assistant", "content": text, "refusal": null, "annotations": []})
    }

    #[test]
    fn a_text_answer_with_every_member_in_order() {
        let request = json!({"model": "gemini-2.5-flash", "input": "Hi", "store": false});
        let response = chat_response_to_responses(
            &completion(text_message("Hello!"), "stop"),
            &request,
            ID,
            1_700_000_000,
        );
        let msg_id = item_id("msg_", ID, 0);
        assert_eq!(
            response,
            json!({
                "id": ID, "object": "response", "created_at": 1_700_000_000, "status": "completed",
                "background": false, "completed_at": 1_700_000_000, "error": null, "incomplete_details": null,
                "instructions": null, "max_output_tokens": null, "max_tool_calls": null,
                "model": "gemini-2.5-flash",
                "output": [{"id": msg_id, "type": "message", "status": "completed", "role": "assistant",
                            "content": [{"type": "output_text", "annotations": [], "logprobs": [], "text": "Hello!"}]}],
                "parallel_tool_calls": true, "previous_response_id": null, "prompt_cache_key": null,
                "prompt_cache_retention": null, "reasoning": {"effort": null, "summary": null},
                "safety_identifier": null, "service_tier": "default", "store": false, "temperature": 1.0,
                "text": {"format": {"type": "text"}, "verbosity": "medium"}, "tool_choice": "auto", "tools": [],
                "top_logprobs": 0, "top_p": 1.0, "truncation": "disabled",
                "usage": {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 8, "cache_write_tokens": 0},
                          "output_tokens": 9, "output_tokens_details": {"reasoning_tokens": 4}, "total_tokens": 21},
                "user": null, "metadata": {}
            })
        );
        let keys: Vec<&str> = response
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(&keys[..4], ["id", "object", "created_at", "status"]);
        assert_eq!(keys.last(), Some(&"metadata"));
        assert!(msg_id.starts_with("msg_") && msg_id.len() == 4 + 48);
    }

    #[test]
    fn settings_are_echoed() {
        let request = json!({
            "model": "my-gemini", "instructions": "Be terse.", "max_output_tokens": 100,
            "temperature": 0.2, "top_p": 0.5, "parallel_tool_calls": false, "user": "u", "metadata": {"k": "v"},
            "reasoning": {"effort": "low", "generate_summary": "auto"}, "tool_choice": "required",
            "text": {"format": {"type": "json_schema", "name": "n", "schema": {"type": "object"}}, "verbosity": "low"},
            "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}},
                      {"type": "function", "name": "g", "description": "G", "strict": false}],
            "truncation": "auto", "safety_identifier": "s", "prompt_cache_key": "p", "top_logprobs": 2
        });
        let response =
            chat_response_to_responses(&completion(text_message("x"), "stop"), &request, ID, 1);
        for (key, expected) in [
            ("model", json!("my-gemini")),
            ("instructions", json!("Be terse.")),
            ("max_output_tokens", json!(100)),
            ("temperature", json!(0.2)),
            ("top_p", json!(0.5)),
            ("parallel_tool_calls", json!(false)),
            ("user", json!("u")),
            ("metadata", json!({"k": "v"})),
            ("reasoning", json!({"effort": "low", "summary": "auto"})),
            ("tool_choice", json!("required")),
            (
                "text",
                json!({"format": {"type": "json_schema", "description": null, "name": "n",
                                  "schema": {"type": "object"}, "strict": null}, "verbosity": "low"}),
            ),
            (
                "tools",
                json!([
                    {"type": "function", "name": "f", "description": null, "parameters": {"type": "object"}, "strict": true},
                    {"type": "function", "name": "g", "description": "G", "parameters": null, "strict": false}
                ]),
            ),
            ("truncation", json!("auto")),
            ("safety_identifier", json!("s")),
            ("prompt_cache_key", json!("p")),
            ("top_logprobs", json!(2)),
            ("store", json!(true)),
        ] {
            assert_eq!(response[key], expected, "{key}");
        }
    }

    #[test]
    fn tool_calls_become_function_call_items_with_their_signatures() {
        let message = json!({
            "role": "assistant", "content": "Let me check.", "refusal": null, "annotations": [],
            "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"id": "call_b", "type": "function", "function": {"name": "time", "arguments": "{}"}}
            ]
        });
        let response =
            chat_response_to_responses(&completion(message, "tool_calls"), &json!({}), ID, 1);
        assert_eq!(response["status"], json!("completed"));
        assert_eq!(
            response["output"],
            json!([
                {"id": item_id("msg_", ID, 0), "type": "message", "status": "completed", "role": "assistant",
                 "content": [output_text("Let me check.", &[])]},
                {"id": item_id("fc_", ID, 1), "type": "function_call", "status": "completed",
                 "arguments": "{\"city\":\"Paris\"}", "call_id": "call_a", "name": "weather",
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"id": item_id("fc_", ID, 2), "type": "function_call", "status": "completed",
                 "arguments": "{}", "call_id": "call_b", "name": "time"}
            ])
        );
        let ids: std::collections::HashSet<&str> = response["output"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| item["id"].as_str().unwrap())
            .collect();
        assert_eq!(ids.len(), 3, "unique within the response");
    }

    #[test]
    fn a_text_signature_rides_on_the_message_item() {
        let mut message = text_message("Hi");
        message["extra_content"] = json!({"google": {"thought_signature": "c2ln"}});
        let response = chat_response_to_responses(&completion(message, "stop"), &json!({}), ID, 1);
        assert_eq!(
            response["output"][0]["extra_content"],
            json!({"google": {"thought_signature": "c2ln"}})
        );
    }

    #[test]
    fn cut_and_filtered_answers_are_incomplete() {
        let cut = chat_response_to_responses(
            &completion(text_message("Once upon"), "length"),
            &json!({}),
            ID,
            1,
        );
        assert_eq!(cut["status"], json!("incomplete"));
        assert_eq!(
            cut["incomplete_details"],
            json!({"reason": "max_output_tokens"})
        );
        assert_eq!(cut["completed_at"], Value::Null);
        assert_eq!(cut["output"][0]["status"], json!("incomplete"));

        let blocked = json!({"choices": [{"index": 0, "finish_reason": "content_filter",
            "message": {"role": "assistant", "content": null, "refusal": null, "annotations": []}}]});
        let filtered = chat_response_to_responses(&blocked, &json!({}), ID, 1);
        assert_eq!(filtered["status"], json!("incomplete"));
        assert_eq!(
            filtered["incomplete_details"],
            json!({"reason": "content_filter"})
        );
        assert_eq!(filtered["output"], json!([]));
        assert_eq!(filtered["usage"], Value::Null, "no usage, none made up");
    }

    #[test]
    fn usage_fills_missing_details_with_zeros() {
        assert_eq!(
            usage(&json!({"prompt_tokens": 3, "completion_tokens": 2})),
            json!({"input_tokens": 3, "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
                   "output_tokens": 2, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 5})
        );
    }

    #[test]
    fn item_ids_are_stable_and_distinct() {
        assert_eq!(item_id("msg_", "a", 0), item_id("msg_", "a", 0));
        assert_ne!(item_id("msg_", "a", 0), item_id("msg_", "a", 1));
        assert_ne!(item_id("msg_", "a", 0), item_id("msg_", "b", 0));
    }

    #[test]
    fn odd_inputs_do_not_panic() {
        for (chat, request) in [
            (json!(null), json!(null)),
            (json!([]), json!("x")),
            (
                json!({"choices": "x", "usage": 3}),
                json!({"tools": "x", "text": 1, "reasoning": []}),
            ),
            (
                json!({"choices": [{"message": {"content": 5, "tool_calls": [null, {"function": 1}]}}]}),
                json!({"tools": [null, {"type": "function"}], "text": {"format": {"type": 1}}}),
            ),
        ] {
            let response = chat_response_to_responses(&chat, &request, ID, 1);
            assert_eq!(response["object"], json!("response"));
            assert!(response["output"].is_array());
        }
    }
}
