//! Reading a chat request: its prompt tokens, and the provider-neutral
//! [`Ask`] (tools, tool choice, response format, limits). The tool choice
//! and answer format readers are shared with the Responses API, whose
//! shapes are the same ones flattened (`{"type": "function", "name"}`).

use serde_json::Value;

use super::catalog::OpenAiModel;
use crate::prng::Digest;
use crate::reply::{Ask, Format, ToolMode, ToolSpec};
use crate::tokens::{Modality, Tally, Tokens};

pub(super) fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

pub(super) fn has_tools(body: &Value) -> bool {
    !list(&body["tools"]).is_empty()
}

/// The name a tool definition (or a tool choice naming one) declares:
/// chat's nested `function.name`/`custom.name`, or the Responses API's
/// (and legacy `function_call`'s) flat `name`.
pub(super) fn tool_name(tool: &Value) -> Option<&str> {
    tool["function"]["name"]
        .as_str()
        .or_else(|| tool["custom"]["name"].as_str())
        .or_else(|| tool["name"].as_str())
}

/// How a tool choice lets the model use `tools`: `none`, `required`, a
/// named tool, `allowed_tools` (chat's nested `allowed_tools.{mode, tools}`
/// or the Responses API's flat `{mode, tools}`, which also narrows
/// `tools`), else auto. A choice naming no declared tool (a built-in tool
/// type) leaves no candidate, so the model answers text.
pub(super) fn tool_mode<'b>(choice: &'b Value, tools: &mut Vec<ToolSpec<'b>>) -> ToolMode<'b> {
    match choice {
        Value::String(s) if s == "none" => ToolMode::None,
        Value::String(s) if s == "required" => ToolMode::Required { only: None },
        Value::Object(_) if choice["type"] == "allowed_tools" => {
            let allowed = choice.get("allowed_tools").unwrap_or(choice);
            let names: Vec<&str> = list(&allowed["tools"])
                .iter()
                .filter_map(tool_name)
                .collect();
            tools.retain(|t| names.contains(&t.name));
            if allowed["mode"] == "required" {
                ToolMode::Required { only: None }
            } else {
                ToolMode::Auto
            }
        }
        Value::Object(_) => ToolMode::Required {
            only: Some(vec![tool_name(choice).unwrap_or("")]),
        },
        _ => ToolMode::Auto,
    }
}

/// The answer format a `response_format` (chat: `json_schema.schema`) or
/// `text.format` (Responses: flat `schema`) asks for.
pub(super) fn format_of(format: &Value) -> Format<'_> {
    match format["type"].as_str() {
        Some("json_object") => Format::JsonObject,
        Some("json_schema") => format["json_schema"]
            .get("schema")
            .or_else(|| format.get("schema"))
            .map_or(Format::JsonObject, Format::JsonSchema),
        _ => Format::Text,
    }
}

pub(super) fn content_text(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter_map(|p| p["text"].as_str())
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

/// Reads the prompt into `sink` in the order the model reads it: the tool
/// or function declarations (as compact JSON), then each message: its role,
/// its content (text by the text rule; each image, audio or file part a
/// media part) and its tool calls or function call (as compact JSON).
pub fn read_prompt(body: &Value, sink: &mut impl Tokens) {
    for declared in ["tools", "functions"] {
        if let Some(v) = body.get(declared).filter(|v| !list(v).is_empty()) {
            sink.mark(declared.as_bytes());
            sink.json(v);
        }
    }
    for m in list(&body["messages"]) {
        for field in ["role", "name", "tool_call_id"] {
            sink.mark(m[field].as_str().unwrap_or("").as_bytes());
        }
        match &m["content"] {
            Value::String(s) => sink.text(s),
            Value::Array(parts) => {
                for p in parts {
                    let kind = p["type"].as_str().unwrap_or("");
                    sink.mark(kind.as_bytes());
                    match kind {
                        "text" => sink.text(p["text"].as_str().unwrap_or("")),
                        "refusal" => sink.text(p["refusal"].as_str().unwrap_or("")),
                        "image_url" => sink.media(Modality::Image, media_identity(p, kind)),
                        "input_audio" => sink.media(Modality::Audio, media_identity(p, kind)),
                        _ => sink.media(Modality::Document, media_identity(p, kind)),
                    }
                }
            }
            _ => {}
        }
        for structured in ["tool_calls", "function_call"] {
            if let Some(v) = m.get(structured).filter(|v| !v.is_null()) {
                sink.mark(structured.as_bytes());
                sink.json(v);
            }
        }
    }
}

/// What makes a media part this part: its URL or data.
fn media_identity<'p>(part: &'p Value, kind: &str) -> &'p [u8] {
    let media = &part[kind];
    ["url", "data", "file_data", "file_id"]
        .into_iter()
        .find_map(|field| media[field].as_str())
        .unwrap_or_default()
        .as_bytes()
}

/// Prompt tokens by modality: message contents, tool calls and function
/// calls in messages, and the tool or function declarations.
pub fn prompt_tokens(body: &Value) -> Tally {
    let mut t = Tally::default();
    read_prompt(body, &mut t);
    t
}

/// Whether the legacy `functions` / `function_call` pair drives tool use.
pub fn legacy_functions(body: &Value) -> bool {
    !has_tools(body) && !list(&body["functions"]).is_empty()
}

pub fn ask<'b>(body: &'b Value, model: &OpenAiModel, seed: u64) -> Ask<'b> {
    let messages = list(&body["messages"]);
    let legacy = legacy_functions(body);
    let mut tools: Vec<ToolSpec<'b>> = if legacy {
        list(&body["functions"])
            .iter()
            .map(|f| ToolSpec {
                name: f["name"].as_str().unwrap_or(""),
                schema: f.get("parameters"),
                freeform: false,
            })
            .collect()
    } else {
        list(&body["tools"])
            .iter()
            .map(|t| ToolSpec {
                name: tool_name(t).unwrap_or(""),
                schema: t["function"].get("parameters"),
                freeform: t.get("custom").is_some(),
            })
            .collect()
    };
    let choice = if legacy {
        &body["function_call"]
    } else {
        &body["tool_choice"]
    };
    let mode = tool_mode(choice, &mut tools);
    let format = format_of(&body["response_format"]);
    let stop = match &body["stop"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => items
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        _ => Vec::new(),
    };
    Ask {
        digest: Digest::new(seed)
            .part(model.id)
            .part(body["messages"].to_string()),
        tools,
        mode,
        last_user_text: messages
            .iter()
            .rev()
            .find(|m| m["role"] == "user")
            .map(|m| content_text(&m["content"]))
            .unwrap_or_default(),
        after_tool_result: messages
            .last()
            .is_some_and(|m| matches!(m["role"].as_str(), Some("tool" | "function"))),
        format,
        max_tokens: body["max_completion_tokens"]
            .as_u64()
            .or_else(|| body["max_tokens"].as_u64()),
        stop,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;
    use serde_json::json;

    #[test]
    fn prompt_tokens_count_contents_calls_and_tools() {
        let body = json!({
            "messages": [
                {"role": "system", "content": "abcd"},
                {"role": "user", "content": [{"type": "text", "text": "abcdefgh"}, {"type": "image_url", "image_url": {"url": "https://x"}}]},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}
            ],
            "tools": [{"type": "function", "function": {"name": "f"}}]
        });
        let calls = crate::tokens::json_tokens(&body["messages"][2]["tool_calls"]);
        let tools = crate::tokens::json_tokens(&body["tools"]);
        let t = prompt_tokens(&body);
        assert_eq!(
            t.total(),
            1 + 2 + crate::tokens::MEDIA_PART_TOKENS + calls + tools
        );
        assert_eq!(t.image, crate::tokens::MEDIA_PART_TOKENS);
    }

    #[test]
    fn tool_choice_forms() {
        let model = catalog::find("gpt-4o").unwrap();
        let tools = json!([
            {"type": "function", "function": {"name": "a"}},
            {"type": "custom", "custom": {"name": "b"}}
        ]);
        let mode = |choice: Value| {
            let body = json!({"messages": [{"role": "user", "content": "x"}], "tools": tools, "tool_choice": choice});
            let a = ask(&body, model, 0);
            (
                format!("{:?}", a.mode),
                a.tools
                    .iter()
                    .map(|t| (t.name.to_owned(), t.freeform))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(mode(json!("none")).0, "None");
        assert_eq!(mode(json!("required")).0, "Required { only: None }");
        assert_eq!(
            mode(json!({"type": "custom", "custom": {"name": "b"}})).0,
            "Required { only: Some([\"b\"]) }"
        );
        let (m, t) = mode(
            json!({"type": "allowed_tools", "allowed_tools": {"mode": "required", "tools": [{"type": "function", "function": {"name": "a"}}]}}),
        );
        assert_eq!(
            (m.as_str(), t),
            ("Required { only: None }", vec![("a".to_owned(), false)])
        );
        assert_eq!(mode(Value::Null).1[1], ("b".to_owned(), true));
        let legacy = json!({"messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}], "functions": [{"name": "f"}], "function_call": "auto"});
        let a = ask(&legacy, model, 0);
        assert!(legacy_functions(&legacy) && a.after_tool_result && a.mode == ToolMode::Auto);
    }
}
