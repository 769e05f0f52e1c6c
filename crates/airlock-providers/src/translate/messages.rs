//! OpenAI `messages` → Gemini `contents` + `systemInstruction`.
//!
//! * `system` / `developer` messages, wherever they appear, are joined (blank
//!   line between) into `systemInstruction`.
//! * `user` → a `user` turn; `assistant` → a `model` turn whose `tool_calls`
//!   become `functionCall` parts (id kept, JSON-string arguments parsed);
//!   `tool` → a `functionResponse` part in a `user` turn, named after the
//!   earlier tool call with the same id, answering `{"result": <JSON or text>}`
//!   (the shape google-genai's own automatic function calling sends).
//! * Consecutive turns of the same role are merged (parallel tool results
//!   must share one turn), and turns left without parts are dropped.
//! * Gemini 3 requires the thought signature it returned with a function call
//!   to come back with it. Responses carry it as
//!   `tool_calls[].extra_content.google.thought_signature` (Google's own
//!   OpenAI-compatibility convention) and it is restored from there onto the
//!   call's part as `thoughtSignature`. A call without one is sent without
//!   one, as Google's own layer does: Gemini 3 then refuses the history with
//!   its 400, which tells the client to send the assistant message back as
//!   it was returned, instead of a stand-in hiding the loss. A client
//!   replaying a history from another model can set Google's documented
//!   stand-in (`skip_thought_signature_validator`) there itself. The
//!   message's own `extra_content.google.thought_signature` (a text
//!   answer's signature) goes back on its last text part.
//! * A conversation of only system messages is sent as one user turn, since
//!   Gemini needs at least one content.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

use super::content::{self, TextParts};
use super::params::{Params, TranslateError};

const ROLES: [&str; 5] = ["system", "developer", "user", "assistant", "tool"];

pub(crate) struct Conversation {
    pub contents: Vec<Value>,
    pub system_instruction: Option<Value>,
}

pub(crate) fn convert(messages: &Value) -> Result<Conversation, TranslateError> {
    let messages = match messages {
        Value::Array(items) => items,
        other => return Err(TranslateError::invalid_type("messages", "an array", other)),
    };
    if messages.is_empty() {
        return Err(TranslateError::new(
            "[] is too short - 'messages'",
            Some("messages"),
        ));
    }

    let mut turns = Turns::default();
    let mut system = Vec::new();
    let mut tool_names = HashMap::new();
    for (i, message) in messages.iter().enumerate() {
        let message = Params::of(message, format!("messages[{i}]"))?;
        match message.required_string("role")? {
            "system" | "developer" => {
                system.extend(content::texts(
                    message.required("content")?,
                    &message.path("content"),
                    TextParts::Text,
                )?);
            }
            "user" => {
                let parts =
                    content::user_parts(message.required("content")?, &message.path("content"))?;
                turns.push("user", parts);
            }
            "assistant" => turns.push("model", assistant_parts(&message, &mut tool_names)?),
            "tool" => turns.push("user", vec![tool_response(&message, &tool_names)?]),
            "function" => {
                return Err(TranslateError::new(
                    "Messages with role 'function' are not supported with this model; use 'tool' messages.",
                    Some(&message.path("role")),
                ));
            }
            other => {
                return Err(TranslateError::invalid_value(
                    &message.path("role"),
                    other,
                    &ROLES,
                ));
            }
        }
    }

    let system = system.join("\n\n");
    if turns.0.is_empty() {
        if system.is_empty() {
            return Err(TranslateError::new(
                "Invalid value for 'messages': every message is empty.",
                Some("messages"),
            ));
        }
        return Ok(Conversation {
            contents: vec![json!({"role": "user", "parts": [{"text": system}]})],
            system_instruction: None,
        });
    }
    Ok(Conversation {
        contents: turns.0,
        system_instruction: (!system.is_empty()).then(|| json!({"parts": [{"text": system}]})),
    })
}

fn assistant_parts(
    message: &Params<'_>,
    tool_names: &mut HashMap<String, String>,
) -> Result<Vec<Value>, TranslateError> {
    if message.get("function_call").is_some() {
        return Err(TranslateError::new(
            "'function_call' is not supported with this model; use 'tool_calls'.",
            Some(&message.path("function_call")),
        ));
    }
    let mut parts: Vec<Value> = match message.get("content") {
        Some(content) => {
            content::texts(content, &message.path("content"), TextParts::TextOrRefusal)?
                .into_iter()
                .map(|text| json!({"text": text}))
                .collect()
        }
        None => Vec::new(),
    };
    let text_signature = message
        .get("extra_content")
        .and_then(|extra| extra.pointer("/google/thought_signature"))
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty());
    if let (Some(signature), Some(last)) = (text_signature, parts.last_mut()) {
        last["thoughtSignature"] = json!(signature);
    }
    let calls = message
        .array("tool_calls")?
        .map(Vec::as_slice)
        .unwrap_or_default();
    for (j, call) in calls.iter().enumerate() {
        let call = Params::of(call, message.path(&format!("tool_calls[{j}]")))?;
        if let Some(kind) = call.string("type")?
            && kind != "function"
        {
            return Err(TranslateError::invalid_value(
                &call.path("type"),
                kind,
                &["function"],
            ));
        }
        let id = call.required_string("id")?;
        let function = Params::of(call.required("function")?, call.path("function"))?;
        let name = function.required_string("name")?;
        let args = arguments(
            function.string("arguments")?.unwrap_or(""),
            &function.path("arguments"),
        )?;
        let signature = call
            .get("extra_content")
            .and_then(|extra| extra.pointer("/google/thought_signature"))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty());

        let mut part = Map::new();
        part.insert(
            "functionCall".into(),
            json!({"id": id, "name": name, "args": args}),
        );
        if let Some(signature) = signature {
            part.insert("thoughtSignature".into(), json!(signature));
        }
        parts.push(Value::Object(part));
        tool_names.insert(id.to_owned(), name.to_owned());
    }
    Ok(parts)
}

/// JSON-string tool-call arguments → the object Gemini's `args` must be.
fn arguments(raw: &str, param: &str) -> Result<Value, TranslateError> {
    if raw.trim().is_empty() {
        return Ok(json!({}));
    }
    match serde_json::from_str::<Value>(raw) {
        Ok(args @ Value::Object(_)) => Ok(args),
        _ => Err(TranslateError::new(
            format!("Invalid value for '{param}': expected a JSON object encoded as a string."),
            Some(param),
        )),
    }
}

fn tool_response(
    message: &Params<'_>,
    tool_names: &HashMap<String, String>,
) -> Result<Value, TranslateError> {
    let id = message.required_string("tool_call_id")?;
    let name = tool_names.get(id).ok_or_else(|| {
        TranslateError::new(
            "Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls'.",
            Some(&message.path("tool_call_id")),
        )
    })?;
    let text = content::texts(
        message.required("content")?,
        &message.path("content"),
        TextParts::Text,
    )?
    .join("\n");
    let result = serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text));
    Ok(json!({"functionResponse": {"id": id, "name": name, "response": {"result": result}}}))
}

/// Gemini turns under construction, merging consecutive same-role turns.
#[derive(Default)]
struct Turns(Vec<Value>);

impl Turns {
    fn push(&mut self, role: &str, parts: Vec<Value>) {
        if parts.is_empty() {
            return;
        }
        if let Some(last) = self.0.last_mut()
            && last["role"] == role
            && let Some(existing) = last["parts"].as_array_mut()
        {
            existing.extend(parts);
            return;
        }
        self.0.push(json!({"role": role, "parts": parts}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn contents(messages: Value) -> Vec<Value> {
        convert(&messages).unwrap().contents
    }

    fn error(messages: Value) -> TranslateError {
        convert(&messages).err().unwrap()
    }

    #[test]
    fn system_and_developer_become_system_instruction() {
        let conversation = convert(&json!([
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "Hi"},
            {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]}
        ]))
        .unwrap();
        assert_eq!(
            conversation.system_instruction,
            Some(json!({"parts": [{"text": "Be brief.\n\nAnswer in French."}]}))
        );
        assert_eq!(
            conversation.contents,
            vec![json!({"role": "user", "parts": [{"text": "Hi"}]})]
        );
    }

    #[test]
    fn roles_map_and_consecutive_turns_merge() {
        assert_eq!(
            contents(json!([
                {"role": "user", "content": "a"},
                {"role": "user", "content": [{"type": "text", "text": "b"}]},
                {"role": "assistant", "content": "c", "name": "bot"},
                {"role": "assistant", "content": [{"type": "refusal", "refusal": "d"}]},
                {"role": "user", "content": "e"}
            ])),
            vec![
                json!({"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}),
                json!({"role": "model", "parts": [{"text": "c"}, {"text": "d"}]}),
                json!({"role": "user", "parts": [{"text": "e"}]}),
            ]
        );
    }

    #[test]
    fn tool_round_trip() {
        let messages = json!([
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"role": "assistant", "content": null, "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
            ]},
            {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
            {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "sunny"}]},
            {"role": "user", "content": "Thanks"}
        ]);
        assert_eq!(
            contents(messages),
            vec![
                json!({"role": "user", "parts": [{"text": "Weather in Paris and Rome?"}]}),
                json!({"role": "model", "parts": [
                    {"functionCall": {"id": "call_1", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
                    {"functionCall": {"id": "call_2", "name": "weather", "args": {"city": "Rome"}}}
                ]}),
                json!({"role": "user", "parts": [
                    {"functionResponse": {"id": "call_1", "name": "weather", "response": {"result": {"temp": 21}}}},
                    {"functionResponse": {"id": "call_2", "name": "weather", "response": {"result": "sunny"}}},
                    {"text": "Thanks"}
                ]}),
            ]
        );
    }

    #[test]
    fn a_missing_thought_signature_stays_missing() {
        let parts = &contents(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": "Let me check.", "tool_calls": [
                {"id": "a", "function": {"name": "f", "arguments": ""}, "extra_content": {"google": {}}},
                {"id": "b", "function": {"name": "g"}, "extra_content": {"google": {"thought_signature": ""}}},
                {"id": "c", "function": {"name": "h"}, "extra_content": {"google": {"thought_signature": "skip_thought_signature_validator"}}}
            ]}
        ]))[1]["parts"];
        assert_eq!(
            parts,
            &json!([
                {"text": "Let me check."},
                {"functionCall": {"id": "a", "name": "f", "args": {}}},
                {"functionCall": {"id": "b", "name": "g", "args": {}}},
                {"functionCall": {"id": "c", "name": "h", "args": {}}, "thoughtSignature": "skip_thought_signature_validator"}
            ])
        );
    }

    #[test]
    fn a_message_signature_goes_back_on_the_last_text_part() {
        let signed = json!({"google": {"thought_signature": "c2ln"}});
        assert_eq!(
            contents(json!([
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": [{"type": "text", "text": "a"}, {"type": "text", "text": "b"}], "extra_content": signed},
                {"role": "user", "content": "y"}
            ]))[1],
            json!({"role": "model", "parts": [{"text": "a"}, {"text": "b", "thoughtSignature": "c2ln"}]})
        );
        assert_eq!(
            contents(json!([
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": null, "extra_content": signed}
            ]))
            .len(),
            1,
            "nothing to sign, nothing sent"
        );
    }

    #[test]
    fn system_only_conversation_becomes_a_user_turn() {
        let conversation = convert(&json!([{"role": "system", "content": "Say hi"}])).unwrap();
        assert_eq!(conversation.system_instruction, None);
        assert_eq!(
            conversation.contents,
            vec![json!({"role": "user", "parts": [{"text": "Say hi"}]})]
        );
    }

    #[test]
    fn empty_messages_are_dropped_or_rejected() {
        assert_eq!(
            contents(
                json!([{"role": "user", "content": ""}, {"role": "assistant", "content": null}, {"role": "user", "content": "x"}])
            ),
            vec![json!({"role": "user", "parts": [{"text": "x"}]})]
        );
        let err = error(json!([{"role": "user", "content": ""}]));
        assert_eq!(err.param.as_deref(), Some("messages"));
        let err = error(json!([]));
        assert_eq!(err.message, "[] is too short - 'messages'");
        let err = error(json!({"role": "user"}));
        assert_eq!(
            err.message,
            "Invalid type for 'messages': expected an array, but got an object instead."
        );
    }

    #[test]
    fn bad_roles_and_shapes_name_the_param() {
        let cases = [
            (
                json!([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "bot", "content": "c"}]),
                "messages[2].role",
            ),
            (json!([{"content": "a"}]), "messages[0].role"),
            (json!([{"role": 3, "content": "a"}]), "messages[0].role"),
            (
                json!([{"role": "function", "name": "f", "content": "a"}]),
                "messages[0].role",
            ),
            (json!(["hello"]), "messages[0]"),
            (json!([{"role": "user"}]), "messages[0].content"),
            (
                json!([{"role": "system", "content": [{"type": "image_url", "image_url": {"url": "x"}}]}]),
                "messages[0].content[0].type",
            ),
            (
                json!([{"role": "assistant", "function_call": {"name": "f", "arguments": "{}"}}]),
                "messages[0].function_call",
            ),
            (
                json!([{"role": "assistant", "tool_calls": {}}]),
                "messages[0].tool_calls",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"type": "custom", "id": "a", "custom": {}}]}]),
                "messages[0].tool_calls[0].type",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"function": {"name": "f"}}]}]),
                "messages[0].tool_calls[0].id",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"arguments": "{}"}}]}]),
                "messages[0].tool_calls[0].function.name",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "[1]"}}]}]),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!([{"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{bad"}}]}]),
                "messages[0].tool_calls[0].function.arguments",
            ),
            (
                json!([{"role": "tool", "content": "x"}]),
                "messages[0].tool_call_id",
            ),
        ];
        for (messages, param) in cases {
            assert_eq!(
                error(messages.clone()).param.as_deref(),
                Some(param),
                "{messages}"
            );
        }
        assert_eq!(
            error(json!([{"role": "bot", "content": "c"}])).message,
            "Invalid value: 'bot'. Supported values are: 'system', 'developer', 'user', 'assistant', and 'tool'."
        );
    }

    #[test]
    fn tool_message_without_matching_call_is_rejected() {
        let err = error(json!([
            {"role": "user", "content": "x"},
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "b", "content": "r"}
        ]));
        assert_eq!(err.param.as_deref(), Some("messages[2].tool_call_id"));
        assert_eq!(
            err.message,
            "Invalid parameter: messages with role 'tool' must be a response to a preceding message with 'tool_calls'."
        );
    }

    #[test]
    fn tool_result_text_that_is_not_json_stays_a_string() {
        let parts = &contents(json!([
            {"role": "assistant", "tool_calls": [{"id": "a", "function": {"name": "f", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "a", "content": "42 degrees"}
        ]))[1]["parts"];
        assert_eq!(
            parts[0]["functionResponse"]["response"],
            json!({"result": "42 degrees"})
        );
    }
}
