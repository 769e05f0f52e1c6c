//! OpenAI's checks of a well-formed chat request beyond its shape:
//! parameters the model does not take, parameters that need others, tool
//! and schema names, metadata limits, image and audio data, and the
//! tool-call/tool-result pairing of the conversation. The name, metadata,
//! image and parameter checks are shared with the Responses API.

use serde_json::{Value, json};

use super::catalog::{Kind, OpenAiModel};
use super::errors::ApiError;
use super::request::{has_tools, list, tool_name};

pub(super) fn name_problem(path: &str, name: &str) -> Option<ApiError> {
    if name.chars().count() > 64 {
        return Some(ApiError::invalid(
            format!(
                "Invalid '{path}': string too long. Expected a string with maximum length 64, but got a string with length {} instead.",
                name.chars().count()
            ),
            Some(path),
            Some("string_above_max_length"),
        ));
    }
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    (!ok).then(|| {
        ApiError::invalid(
            format!("Invalid '{path}': string does not match pattern. Expected a string that matches the pattern '^[a-zA-Z0-9_-]+$'."),
            Some(path),
            Some("invalid_value"),
        )
    })
}

pub(super) fn unsupported_parameter(param: &str, hint: &str) -> ApiError {
    ApiError::invalid(
        format!("Unsupported parameter: '{param}' is not supported with this model.{hint}"),
        Some(param),
        Some("unsupported_parameter"),
    )
}

fn only_with_tools(param: &str) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid value for '{param}': '{param}' is only allowed when 'tools' are specified."
        ),
        Some(param),
        None,
    )
}

pub(super) fn image_url_problem(url: &str, path: &str) -> Option<ApiError> {
    if url.starts_with("http://") || url.starts_with("https://") {
        return None;
    }
    let valid_data_url = url
        .strip_prefix("data:")
        .and_then(|rest| rest.split_once(";base64,"))
        .is_some_and(|(mime, data)| {
            matches!(
                mime,
                "image/png" | "image/jpeg" | "image/jpg" | "image/gif" | "image/webp"
            ) && base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).is_ok()
        });
    (!valid_data_url).then(|| {
        ApiError::invalid(
            format!(
                "Invalid image URL: '{path}'. Expected a base64-encoded data URL with an image MIME type (e.g. 'data:image/png;base64,aW1nIGJ5dGVzIGhlcmU='), or a URL starting with http:// or https://."
            ),
            Some(path),
            Some("invalid_value"),
        )
    })
}

/// A `tool_choice` naming a tool `tools` does not declare.
pub(super) fn unknown_tool_choice(wanted: &str) -> ApiError {
    ApiError::invalid(
        format!("Invalid value for 'tool_choice': tool '{wanted}' not found in 'tools'."),
        Some("tool_choice"),
        Some("invalid_value"),
    )
}

/// Most `metadata` pairs, and the longest key and value, OpenAI takes.
const METADATA_PAIRS: usize = 16;
const METADATA_KEY_CHARS: usize = 64;
const METADATA_VALUE_CHARS: usize = 512;

fn too_long(path: &str, max: usize, got: usize) -> ApiError {
    ApiError::invalid(
        format!(
            "Invalid '{path}': string too long. Expected a string with maximum length {max}, but got a string with length {got} instead."
        ),
        Some(path),
        Some("string_above_max_length"),
    )
}

/// OpenAI's limits on `metadata` (already known to be a map of strings):
/// at most 16 pairs, keys of at most 64 characters, values of at most 512.
pub(super) fn metadata_problem(metadata: &Value) -> Option<ApiError> {
    let pairs = metadata.as_object()?;
    if pairs.len() > METADATA_PAIRS {
        return Some(ApiError::invalid(
            format!(
                "Invalid 'metadata': too many properties. Expected an object with at most {METADATA_PAIRS} properties, but got an object with {} properties instead.",
                pairs.len()
            ),
            Some("metadata"),
            Some("object_above_max_properties"),
        ));
    }
    pairs.iter().find_map(|(key, value)| {
        let key_chars = key.chars().count();
        let value_chars = value.as_str().map_or(0, |v| v.chars().count());
        if key_chars > METADATA_KEY_CHARS {
            Some(too_long("metadata", METADATA_KEY_CHARS, key_chars))
        } else if value_chars > METADATA_VALUE_CHARS {
            Some(too_long(
                &format!("metadata.{key}"),
                METADATA_VALUE_CHARS,
                value_chars,
            ))
        } else {
            None
        }
    })
}

/// OpenAI's checks of a well-formed body against the model and itself.
pub fn check(body: &Value, model: &OpenAiModel) -> Result<(), ApiError> {
    let reasoning = matches!(model.kind, Kind::Chat { reasoning: true });
    if reasoning {
        if body.get("max_tokens").is_some_and(|v| !v.is_null()) {
            return Err(unsupported_parameter(
                "max_tokens",
                " Use 'max_completion_tokens' instead.",
            ));
        }
        for param in ["temperature", "top_p"] {
            if body[param].as_f64().is_some_and(|v| v != 1.0) {
                return Err(ApiError::invalid(
                    format!(
                        "Unsupported value: '{param}' does not support {} with this model. Only the default (1) value is supported.",
                        body[param]
                    ),
                    Some(param),
                    Some("unsupported_value"),
                ));
            }
        }
    } else if body.get("reasoning_effort").is_some_and(|v| !v.is_null()) {
        return Err(unsupported_parameter("reasoning_effort", ""));
    }
    if body.get("stream_options").is_some_and(|v| !v.is_null()) && body["stream"] != json!(true) {
        return Err(ApiError::invalid(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
            None,
        ));
    }
    let tools = list(&body["tools"]);
    if !has_tools(body) {
        for param in ["tool_choice", "parallel_tool_calls"] {
            if body.get(param).is_some_and(|v| !v.is_null()) {
                return Err(only_with_tools(param));
            }
        }
    }
    for (i, tool) in tools.iter().enumerate() {
        let kind = if tool.get("custom").is_some() {
            "custom"
        } else {
            "function"
        };
        if let Some(e) = name_problem(
            &format!("tools[{i}].{kind}.name"),
            tool_name(tool).unwrap_or(""),
        ) {
            return Err(e);
        }
    }
    let choice = &body["tool_choice"];
    if let Some(wanted) = choice["function"]["name"]
        .as_str()
        .or_else(|| choice["custom"]["name"].as_str())
        && !tools.iter().any(|t| tool_name(t) == Some(wanted))
    {
        return Err(unknown_tool_choice(wanted));
    }
    if let Some(e) = metadata_problem(&body["metadata"]) {
        return Err(e);
    }
    let format = &body["response_format"];
    if let Some(name) = format["json_schema"]["name"].as_str()
        && let Some(e) = name_problem("response_format.json_schema.name", name)
    {
        return Err(e);
    }
    if format["type"] == "json_object"
        && !body["messages"].to_string().to_lowercase().contains("json")
    {
        return Err(ApiError::invalid(
            "'messages' must contain the word 'json' in some form, to use 'response_format' of type 'json_object'.",
            Some("messages"),
            None,
        ));
    }
    check_messages(list(&body["messages"]))
}

fn check_messages(messages: &[Value]) -> Result<(), ApiError> {
    let mut pending: Option<(usize, Vec<&str>)> = None;
    for (i, m) in messages.iter().enumerate() {
        for (j, part) in list(&m["content"]).iter().enumerate() {
            if let Some(url) = part["image_url"]["url"].as_str()
                && let Some(e) =
                    image_url_problem(url, &format!("messages[{i}].content[{j}].image_url.url"))
            {
                return Err(e);
            }
            if let Some(data) = part["input_audio"]["data"].as_str()
                && base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data).is_err()
            {
                let path = format!("messages[{i}].content[{j}].input_audio.data");
                return Err(ApiError::invalid(
                    format!("Invalid '{path}': expected base64-encoded audio data."),
                    Some(&path),
                    Some("invalid_value"),
                ));
            }
        }
        let role = m["role"].as_str().unwrap_or("");
        if role == "tool" {
            let id = m["tool_call_id"].as_str().unwrap_or("");
            match &mut pending {
                Some((_, ids)) => ids.retain(|pending_id| *pending_id != id),
                None => {
                    return Err(ApiError::invalid(
                        "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
                        Some(&format!("messages.[{i}].role")),
                        None,
                    ));
                }
            }
            continue;
        }
        if let Some((at, ids)) = pending.take().filter(|(_, ids)| !ids.is_empty()) {
            return Err(unanswered_calls(at, &ids));
        }
        let ids: Vec<&str> = list(&m["tool_calls"])
            .iter()
            .filter_map(|c| c["id"].as_str())
            .collect();
        pending = (role == "assistant" && !ids.is_empty()).then_some((i, ids));
    }
    match pending {
        Some((at, ids)) if !ids.is_empty() => Err(unanswered_calls(at, &ids)),
        _ => Ok(()),
    }
}

fn unanswered_calls(at: usize, ids: &[&str]) -> ApiError {
    ApiError::invalid(
        format!(
            "An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: {}",
            ids.join(", ")
        ),
        Some(&format!("messages.[{at}].role")),
        None,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::openai::catalog;

    fn body(extra: Value) -> Value {
        let mut b =
            json!({"model": "gpt-4o", "messages": [{"role": "user", "content": "hello json"}]});
        b.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        b
    }

    fn gpt4o() -> &'static OpenAiModel {
        catalog::find("gpt-4o").unwrap()
    }
    #[test]
    fn checks_follow_openai() {
        let o3 = catalog::find("o3").unwrap();
        assert_eq!(
            check(&body(json!({"max_tokens": 5})), o3).unwrap_err().code,
            Some("unsupported_parameter")
        );
        assert_eq!(
            check(&body(json!({"temperature": 0.2})), o3)
                .unwrap_err()
                .code,
            Some("unsupported_value")
        );
        assert!(check(&body(json!({"temperature": 1})), o3).is_ok());
        assert_eq!(
            check(&body(json!({"reasoning_effort": "low"})), gpt4o())
                .unwrap_err()
                .param
                .as_deref(),
            Some("reasoning_effort")
        );
        assert!(check(&body(json!({"tool_choice": "auto"})), gpt4o()).is_err());
        assert!(
            check(
                &body(json!({"stream_options": {"include_usage": true}})),
                gpt4o()
            )
            .is_err()
        );
        let bad_name = json!({"tools": [{"type": "function", "function": {"name": "a b"}}]});
        assert_eq!(
            check(&body(bad_name), gpt4o())
                .unwrap_err()
                .param
                .as_deref(),
            Some("tools[0].function.name")
        );
        let missing = json!({"tools": [{"type": "function", "function": {"name": "a"}}], "tool_choice": {"type": "function", "function": {"name": "b"}}});
        assert!(check(&body(missing), gpt4o()).is_err());
        let no_json = json!({"messages": [{"role": "user", "content": "hi"}], "response_format": {"type": "json_object"}});
        assert!(check(&body(no_json), gpt4o()).is_err());
        let bad_image = json!({"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "data:text/plain;base64,AA=="}}]}]});
        assert_eq!(
            check(&body(bad_image), gpt4o())
                .unwrap_err()
                .param
                .as_deref(),
            Some("messages[0].content[0].image_url.url")
        );
        let orphan_tool =
            json!({"messages": [{"role": "tool", "tool_call_id": "x", "content": "r"}]});
        assert!(check(&body(orphan_tool), gpt4o()).is_err());
        let unanswered = json!({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "user", "content": "y"}]});
        assert!(
            check(&body(unanswered), gpt4o())
                .unwrap_err()
                .message
                .contains("c1")
        );
        let answered = json!({"messages": [{"role": "user", "content": "x"}, {"role": "assistant", "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]}, {"role": "tool", "tool_call_id": "c1", "content": "r"}]});
        assert!(check(&body(answered), gpt4o()).is_ok());
    }

    #[test]
    fn metadata_limits() {
        let many: serde_json::Map<String, Value> =
            (0..17).map(|i| (format!("k{i}"), json!("v"))).collect();
        let e = metadata_problem(&Value::Object(many)).unwrap();
        assert_eq!(
            (e.message.as_str(), e.code),
            (
                "Invalid 'metadata': too many properties. Expected an object with at most 16 properties, but got an object with 17 properties instead.",
                Some("object_above_max_properties")
            )
        );
        let e = metadata_problem(&json!({"k": "v".repeat(513)})).unwrap();
        assert_eq!(e.param.as_deref(), Some("metadata.k"));
        assert_eq!(e.code, Some("string_above_max_length"));
        let e = metadata_problem(&json!({"k".repeat(65): "v"})).unwrap();
        assert_eq!(e.param.as_deref(), Some("metadata"));
        assert!(metadata_problem(&json!({"k".repeat(64): "v".repeat(512)})).is_none());
        assert!(metadata_problem(&Value::Null).is_none());
    }
}
