//! The engine's Responses object → the Interaction resource as google-genai
//! reads it (`google.genai.interactions.Interaction`).
//!
//! * `id` (the turn's), `object: "interaction"`, `model`, `status`,
//!   `created` and `updated` (RFC 3339 from `created_at` and
//!   `completed_at`), `previous_interaction_id`, `system_instruction`,
//!   `labels` (the `metadata`), `steps`, `usage`.
//! * Status: `completed` with a function call among the outputs is
//!   `requires_action` (the interaction waits for the call's result);
//!   otherwise the status is the response's (`completed`, `incomplete`,
//!   `failed`, `cancelled`, `in_progress`).
//! * Steps: a `message` item → `model_output` (its text parts, with their
//!   URL citations); a `function_call` → `function_call` (`call_id` as the
//!   `id`, the arguments as an object); a `reasoning` item → a `thought`
//!   with its summary; a thought signature the engine kept on an item
//!   (`extra_content.google.thought_signature`) → a `thought` step with
//!   that `signature` just before it. A created interaction lists its
//!   output steps; a stored one read back lists its input first
//!   (`user_input`, `model_output`, `function_call`, `function_result`
//!   steps), as Google's `GET` does.
//! * Usage: `input_tokens` → `total_input_tokens`, cached tokens →
//!   `total_cached_tokens`, reasoning tokens → `total_thought_tokens` and
//!   the rest of `output_tokens` → `total_output_tokens`, `total_tokens`.

use serde_json::{Map, Value, json};

use super::Rfc3339;

/// A Responses object (created, continued or read back) → an Interaction
/// with the response's output as its steps.
pub fn responses_to_interaction(response: &Value, rfc3339: Rfc3339) -> Value {
    let mut interaction = envelope(response, rfc3339);
    interaction.insert("steps".into(), Value::Array(output_steps(response)));
    if let Some(usage) = usage(&response["usage"]) {
        interaction.insert("usage".into(), usage);
    }
    Value::Object(interaction)
}

/// A stored turn (its input items and its response) → the Interaction as
/// `GET` answers it: the input's steps, then the output's; with
/// `include_input`, the input steps also as `input`.
pub fn stored_interaction(
    input_items: &[Value],
    response: &Value,
    include_input: bool,
    rfc3339: Rfc3339,
) -> Value {
    let input: Vec<Value> = input_items.iter().flat_map(item_steps).collect();
    let mut interaction = envelope(response, rfc3339);
    if include_input {
        interaction.insert("input".into(), Value::Array(input.clone()));
    }
    let mut steps = input;
    steps.extend(output_steps(response));
    interaction.insert("steps".into(), Value::Array(steps));
    if let Some(usage) = usage(&response["usage"]) {
        interaction.insert("usage".into(), usage);
    }
    Value::Object(interaction)
}

/// The members every interaction has, in the order Google sends them.
fn envelope(response: &Value, rfc3339: Rfc3339) -> Map<String, Value> {
    let created = response["created_at"].as_u64().unwrap_or(0);
    let updated = response["completed_at"].as_u64().unwrap_or(created);
    let mut interaction = Map::new();
    interaction.insert("id".into(), response["id"].clone());
    interaction.insert("object".into(), json!("interaction"));
    interaction.insert("model".into(), response["model"].clone());
    interaction.insert("status".into(), json!(status(response)));
    interaction.insert("created".into(), json!(rfc3339(created)));
    interaction.insert("updated".into(), json!(rfc3339(updated)));
    if let Some(previous) = response["previous_response_id"].as_str() {
        interaction.insert("previous_interaction_id".into(), json!(previous));
    }
    if let Some(instructions) = response["instructions"].as_str() {
        interaction.insert("system_instruction".into(), json!(instructions));
    }
    if let Some(labels) = response["metadata"].as_object().filter(|m| !m.is_empty()) {
        interaction.insert("labels".into(), Value::Object(labels.clone()));
    }
    interaction
}

/// The interaction's status for a response's.
pub(super) fn status(response: &Value) -> &'static str {
    let calls = response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|item| item["type"] == "function_call");
    match response["status"].as_str() {
        Some("completed") if calls => "requires_action",
        Some("incomplete") => "incomplete",
        Some("failed") => "failed",
        Some("cancelled") => "cancelled",
        Some("in_progress") => "in_progress",
        Some("queued") => "queued",
        _ => "completed",
    }
}

/// Responses `usage` → the Interactions `usage` (none when there is none).
pub(super) fn usage(usage: &Value) -> Option<Value> {
    if !usage.is_object() {
        return None;
    }
    let count = |pointer: &str| usage.pointer(pointer).and_then(Value::as_u64).unwrap_or(0);
    let input = count("/input_tokens");
    let output = count("/output_tokens");
    let thought = count("/output_tokens_details/reasoning_tokens");
    let total = usage["total_tokens"].as_u64().unwrap_or(input + output);
    Some(json!({
        "total_input_tokens": input,
        "total_cached_tokens": count("/input_tokens_details/cached_tokens"),
        "total_output_tokens": output.saturating_sub(thought),
        "total_thought_tokens": thought,
        "total_tokens": total,
    }))
}

fn output_steps(response: &Value) -> Vec<Value> {
    response["output"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(item_steps)
        .collect()
}

/// The thought signature the engine keeps on an item, if any.
pub(super) fn signature(item: &Value) -> Option<&str> {
    item.pointer("/extra_content/google/thought_signature")
        .and_then(Value::as_str)
}

/// A `thought` step carrying only a signature.
pub(super) fn signature_step(signature: &str) -> Value {
    json!({"type": "thought", "signature": signature})
}

/// One Responses item (input or output) → its steps; items of other
/// kinds (built-in tool calls) have none.
pub(super) fn item_steps(item: &Value) -> Vec<Value> {
    let mut steps: Vec<Value> = signature(item).map(signature_step).into_iter().collect();
    let step = match item["type"].as_str().unwrap_or("message") {
        "message" => {
            let kind = match item["role"].as_str() {
                Some("assistant") => "model_output",
                _ => "user_input",
            };
            json!({"type": kind, "content": contents(&item["content"])})
        }
        "function_call" => function_call_step(item),
        "function_call_output" => {
            let result = match &item["output"] {
                Value::Array(parts) => {
                    Value::Array(parts.iter().filter_map(part_content).collect())
                }
                other => other.clone(),
            };
            json!({"type": "function_result", "call_id": item["call_id"], "result": result})
        }
        "reasoning" => {
            let summary: Vec<Value> = item["summary"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|part| part["text"].as_str())
                .map(|text| json!({"type": "text", "text": text}))
                .collect();
            if summary.is_empty() {
                json!({"type": "thought"})
            } else {
                json!({"type": "thought", "summary": summary})
            }
        }
        _ => return steps,
    };
    steps.push(step);
    steps
}

/// A `function_call` item → the step (no signature).
pub(super) fn function_call_step(item: &Value) -> Value {
    let arguments = item["arguments"]
        .as_str()
        .and_then(|text| serde_json::from_str::<Value>(text).ok())
        .filter(Value::is_object)
        .unwrap_or_else(|| json!({}));
    json!({
        "type": "function_call",
        "id": item["call_id"],
        "name": item["name"],
        "arguments": arguments,
    })
}

/// A message's content (a string, or parts) → Interactions contents.
fn contents(content: &Value) -> Vec<Value> {
    match content {
        Value::String(text) => vec![json!({"type": "text", "text": text})],
        Value::Array(parts) => parts.iter().filter_map(part_content).collect(),
        _ => Vec::new(),
    }
}

/// A Responses content part → an Interactions content.
fn part_content(part: &Value) -> Option<Value> {
    match part["type"].as_str()? {
        "input_text" => Some(json!({"type": "text", "text": part["text"]})),
        "output_text" => {
            let mut text = json!({"type": "text", "text": part["text"]});
            let citations: Vec<Value> = part["annotations"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|a| a["type"] == "url_citation")
                .cloned()
                .collect();
            if !citations.is_empty() {
                text["annotations"] = Value::Array(citations);
            }
            Some(text)
        }
        "refusal" => Some(json!({"type": "text", "text": part["refusal"]})),
        "input_image" => Some(media("image", part["image_url"].as_str()?)),
        "input_file" => match (part["file_data"].as_str(), part["file_url"].as_str()) {
            (Some(data), _) => Some(media("document", data)),
            (None, Some(url)) => Some(json!({"type": "document", "uri": url})),
            (None, None) => None,
        },
        _ => None,
    }
}

/// An image or document from a URL: a data URL's `data` and `mime_type`,
/// or any other URL as the `uri`.
fn media(kind: &str, url: &str) -> Value {
    let inline = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"));
    match inline {
        Some((mime, data)) => json!({"type": kind, "data": data, "mime_type": mime}),
        None => json!({"type": kind, "uri": url}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> String {
        format!("t{secs}")
    }

    fn response(output: Value) -> Value {
        json!({
            "id": "resp_1", "object": "response", "created_at": 100, "completed_at": 102,
            "status": "completed", "model": "gemini-2.5-flash", "instructions": "Be brief.",
            "previous_response_id": "resp_0", "metadata": {}, "output": output,
            "usage": {"input_tokens": 20, "input_tokens_details": {"cached_tokens": 4},
                      "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 7}, "total_tokens": 32},
        })
    }

    #[test]
    fn a_text_answer() {
        let interaction = responses_to_interaction(
            &response(
                json!([{"id": "msg_1", "type": "message", "status": "completed", "role": "assistant",
                "content": [{"type": "output_text", "text": "Hi!", "annotations": [
                    {"type": "url_citation", "url": "https://a.example", "title": "A", "start_index": 0, "end_index": 3},
                    {"type": "file_citation", "file_id": "f"}]}]}]),
            ),
            at,
        );
        assert_eq!(
            interaction,
            json!({
                "id": "resp_1", "object": "interaction", "model": "gemini-2.5-flash",
                "status": "completed", "created": "t100", "updated": "t102",
                "previous_interaction_id": "resp_0", "system_instruction": "Be brief.",
                "steps": [{"type": "model_output", "content": [{"type": "text", "text": "Hi!", "annotations": [
                    {"type": "url_citation", "url": "https://a.example", "title": "A", "start_index": 0, "end_index": 3}]}]}],
                "usage": {"total_input_tokens": 20, "total_cached_tokens": 4, "total_output_tokens": 5,
                          "total_thought_tokens": 7, "total_tokens": 32},
            })
        );
    }

    #[test]
    fn a_function_call_requires_action_and_keeps_its_signature() {
        let interaction = responses_to_interaction(
            &response(
                json!([{"id": "fc_1", "type": "function_call", "status": "completed",
                "arguments": "{\"city\":\"Paris\"}", "call_id": "call_1", "name": "weather",
                "extra_content": {"google": {"thought_signature": "c2ln"}}}]),
            ),
            at,
        );
        assert_eq!(interaction["status"], "requires_action");
        assert_eq!(
            interaction["steps"],
            json!([
                {"type": "thought", "signature": "c2ln"},
                {"type": "function_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}},
            ])
        );
    }

    #[test]
    fn reasoning_and_other_outcomes() {
        let mut cut = response(json!([
            {"id": "rs_1", "type": "reasoning", "summary": [{"type": "summary_text", "text": "Thinking."}]},
            {"id": "ws_1", "type": "web_search_call", "status": "completed"},
        ]));
        cut["status"] = json!("incomplete");
        cut["usage"] = Value::Null;
        cut["completed_at"] = Value::Null;
        cut["metadata"] = json!({"team": "docs"});
        let interaction = responses_to_interaction(&cut, at);
        assert_eq!(interaction["status"], "incomplete");
        assert_eq!(interaction["updated"], "t100");
        assert_eq!(interaction["labels"], json!({"team": "docs"}));
        assert!(interaction.get("usage").is_none());
        assert_eq!(
            interaction["steps"],
            json!([{"type": "thought", "summary": [{"type": "text", "text": "Thinking."}]}])
        );
    }

    #[test]
    fn a_stored_turn_lists_its_input_first() {
        let input = [
            json!({"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "auto"}]}),
            json!({"role": "user", "content": "plain"}),
            json!({"type": "function_call_output", "call_id": "call_1", "output": "18 C"}),
        ];
        let answer = response(
            json!([{"id": "msg_1", "type": "message", "role": "assistant",
            "content": [{"type": "output_text", "text": "A chart."}]}]),
        );
        let interaction = stored_interaction(&input, &answer, true, at);
        let user_steps = json!([
            {"type": "user_input", "content": [
                {"type": "text", "text": "What is this?"},
                {"type": "image", "data": "iVBO", "mime_type": "image/png"}]},
            {"type": "user_input", "content": [{"type": "text", "text": "plain"}]},
            {"type": "function_result", "call_id": "call_1", "result": "18 C"},
        ]);
        assert_eq!(interaction["input"], user_steps);
        let steps = interaction["steps"].as_array().unwrap();
        assert_eq!(steps.len(), 4);
        assert_eq!(steps[3]["type"], "model_output");
        assert!(
            stored_interaction(&input, &answer, false, at)
                .get("input")
                .is_none()
        );
    }
}
