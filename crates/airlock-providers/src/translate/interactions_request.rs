//! An Interactions API create body (google-genai's `CreateModelInteraction`)
//! → the Responses API request the conversation engine runs.
//!
//! * `model` → `model`; `system_instruction` → `instructions`;
//!   `previous_interaction_id` → `previous_response_id`; `store`, `stream`
//!   kept; `labels` → `metadata`.
//! * `input`: a string is one user message; a content object or a list of
//!   contents is one user message (`text` → `input_text`, `image` →
//!   `input_image` from its `data` or `uri`, `document` → `input_file`);
//!   a list of steps (or of `{role, content}` turns) is replayed in order:
//!   `user_input` → a user message, `model_output` → an assistant message
//!   (text only), `function_call` → a `function_call` item (its `id` the
//!   `call_id`, its `arguments` object as a JSON string), `function_result`
//!   → a `function_call_output` (its `result` as a string), and a
//!   `thought`'s `signature` goes on the call or answer after it
//!   (`extra_content.google.thought_signature`, where the engine keeps
//!   Gemini's thought signatures).
//! * `tools`: `function` → a Responses function tool (`strict: false`: an
//!   Interactions schema is not written for OpenAI's strict mode);
//!   `google_search` → `web_search`; other built-in tools are refused by
//!   name.
//! * `generation_config`: `temperature`, `top_p`, `max_output_tokens` kept;
//!   `thinking_level` → `reasoning.effort`; `thinking_summaries: auto` →
//!   `reasoning.summary: auto`; `tool_choice` (`auto`, `any` → `required`,
//!   `none`, or `allowed_tools`) → `tool_choice`; settings the engine has
//!   no equivalent for (`stop_sequences`, `seed`, media configs) are refused
//!   by name.
//! * `response_format` (a `text` format with `mime_type` and `schema`, or a
//!   bare JSON schema) and `response_mime_type` → `text.format`.
//! * Agent interactions (`agent`, `agent_config`) and what keeps state or
//!   runs on Google's side (`background`, `continuation_token`,
//!   `cached_content`, `environment`, `webhook_config`) are refused by name;
//!   any other unknown member is `parameter_unknown`.

use serde_json::{Map, Value, json};

use super::InteractionsError;
use crate::translate::params::{Params, TranslateError};

/// The members of a model interaction this translation reads (besides
/// [`UNSERVED`]'s, which it reads only to refuse).
const FIELDS: [&str; 13] = [
    "model",
    "input",
    "system_instruction",
    "tools",
    "generation_config",
    "response_format",
    "response_mime_type",
    "response_modalities",
    "previous_interaction_id",
    "store",
    "stream",
    "labels",
    "service_tier",
];

/// Members whose work would be Google's, refused unless unset, with why.
const UNSERVED: [(&str, &str); 6] = [
    (
        "background",
        "interactions are answered while the request waits.",
    ),
    (
        "continuation_token",
        "answers are not split into continuation hops here.",
    ),
    (
        "cached_content",
        "cached contents are a provider's state; this gateway calls providers statelessly.",
    ),
    ("environment", "agent environments are not served here."),
    (
        "webhook_config",
        "interactions are answered while the request waits.",
    ),
    (
        "safety_settings",
        "safety settings cannot be passed on to every provider; leave them unset.",
    ),
];

const CONTENT_TYPES: [&str; 5] = ["text", "image", "audio", "document", "video"];

/// Step types of the API that a client may send but this gateway cannot
/// replay (built-in tools run on Google's side).
const UNSERVED_STEPS: [&str; 18] = [
    "code_execution_call",
    "code_execution_result",
    "url_context_call",
    "url_context_result",
    "google_search_call",
    "google_search_result",
    "google_maps_call",
    "google_maps_result",
    "file_search_call",
    "file_search_result",
    "mcp_server_tool_call",
    "mcp_server_tool_result",
    "retrieval_call",
    "retrieval_result",
    "tool_search_call",
    "tool_search_result",
    "processing_call",
    "processing_result",
];

/// Translates an Interactions create body into the Responses request the
/// gateway's conversation engine runs. Called by the gateway's
/// `surface/gemini/interactions.rs`.
pub fn interaction_request_to_responses(
    request: &Value,
) -> Result<Map<String, Value>, InteractionsError> {
    if !request.is_object() {
        return Err(InteractionsError::invalid(
            "The request body must be a JSON object.",
        ));
    }
    let request = Params::of(request, "")?;
    refuse_agents(&request)?;
    for key in request.keys() {
        let key = key.as_str();
        if let Some((_, why)) = UNSERVED.iter().find(|(name, _)| *name == key) {
            if request.get(key).is_some_and(|value| !is_unset(value)) {
                return Err(InteractionsError::unserved(key, why));
            }
        } else if !FIELDS.contains(&key) {
            return Err(InteractionsError::unknown(key));
        }
    }
    let mut out = Map::new();
    out.insert("model".into(), json!(request.required_string("model")?));
    out.insert(
        "input".into(),
        Value::Array(input_items(request.required("input")?)?),
    );
    if let Some(instructions) = request.string("system_instruction")? {
        out.insert("instructions".into(), json!(instructions));
    }
    let tools = tools(&request)?;
    if !tools.is_empty() {
        out.insert("tools".into(), Value::Array(tools));
    }
    if let Some(config) = request.get("generation_config") {
        generation_config(&Params::of(config, "generation_config")?, &mut out)?;
    }
    if let Some(format) = text_format(&request)? {
        out.insert("text".into(), json!({"format": format}));
    }
    only_text_out(&request)?;
    if let Some(tier) = request.string("service_tier")?
        && tier != "standard"
    {
        return Err(InteractionsError::unserved(
            "service_tier",
            "only the 'standard' tier is served.",
        ));
    }
    if let Some(id) = request.string("previous_interaction_id")? {
        out.insert("previous_response_id".into(), json!(id));
    }
    for key in ["store", "stream"] {
        if let Some(flag) = request.boolean(key)? {
            out.insert(key.into(), json!(flag));
        }
    }
    if let Some(labels) = labels(&request)? {
        out.insert("metadata".into(), labels);
    }
    Ok(out)
}

/// Agent interactions run Google's agents on Google's side.
fn refuse_agents(request: &Params<'_>) -> Result<(), InteractionsError> {
    let Some(field) = ["agent", "agent_config"]
        .into_iter()
        .find(|field| request.get(field).is_some())
    else {
        return Ok(());
    };
    let named = request
        .string("agent")
        .ok()
        .flatten()
        .map_or_else(String::new, |agent| format!(" ('{agent}')"));
    Err(InteractionsError::invalid(format!(
        "Agent interactions{named} are not served by this gateway ('{field}'): agents run on \
         Google's side. Name a model with 'model' instead."
    )))
}

fn is_unset(value: &Value) -> bool {
    match value {
        Value::Bool(set) => !set,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// Refuses a member of `object` that is not in `known`.
fn known_keys(object: &Params<'_>, known: &[&str]) -> Result<(), InteractionsError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(InteractionsError::unknown(&object.path(key))),
        None => Ok(()),
    }
}

/// `input` → Responses input items.
fn input_items(input: &Value) -> Result<Vec<Value>, InteractionsError> {
    match input {
        Value::String(text) => Ok(vec![
            json!({"type": "message", "role": "user", "content": text}),
        ]),
        Value::Object(_) => Ok(vec![user_message(std::slice::from_ref(input), "input")?]),
        Value::Array(entries) if entries.is_empty() => {
            Err(InteractionsError::invalid("'input' must not be empty."))
        }
        Value::Array(entries) if entries.iter().all(is_content) => {
            Ok(vec![user_message(entries, "input")?])
        }
        Value::Array(entries) => steps(entries),
        other => Err(TranslateError::invalid_type(
            "input",
            "a string, a content object, or an array of contents or steps",
            other,
        )
        .into()),
    }
}

fn is_content(value: &Value) -> bool {
    value["type"]
        .as_str()
        .is_some_and(|kind| CONTENT_TYPES.contains(&kind))
}

/// A list of steps (or `{role, content}` turns) → items, in order.
fn steps(entries: &[Value]) -> Result<Vec<Value>, InteractionsError> {
    let mut items = Vec::with_capacity(entries.len());
    // A thought's signature, for the call or answer that follows it.
    let mut signature: Option<&str> = None;
    for (i, entry) in entries.iter().enumerate() {
        let step = Params::of(entry, format!("input[{i}]"))?;
        if step.get("role").is_some() {
            items.push(turn(&step)?);
            continue;
        }
        match step.required_string("type")? {
            "user_input" => {
                known_keys(&step, &["type", "content"])?;
                items.push(user_message(&contents(&step)?, &step.path("content"))?);
            }
            "model_output" => {
                known_keys(&step, &["type", "content", "error"])?;
                let mut message = model_message(&contents(&step)?, &step.path("content"))?;
                sign(&mut message, signature.take());
                items.push(message);
            }
            "thought" => {
                known_keys(&step, &["type", "signature", "summary"])?;
                signature = step.string("signature")?;
            }
            "function_call" => {
                known_keys(&step, &["type", "id", "name", "arguments"])?;
                let mut call = function_call(&step)?;
                sign(&mut call, signature.take());
                items.push(call);
            }
            "function_result" => {
                known_keys(&step, &["type", "call_id", "name", "result", "is_error"])?;
                items.push(function_result(&step)?);
            }
            kind if UNSERVED_STEPS.contains(&kind) => {
                return Err(InteractionsError::invalid(format!(
                    "Steps of type '{kind}' ('{}') are not supported by this gateway: built-in \
                     tools run on Google's side.",
                    step.path("type")
                )));
            }
            other => {
                return Err(InteractionsError::invalid(format!(
                    "Invalid value for '{}': '{other}' is not a step type.",
                    step.path("type")
                )));
            }
        }
    }
    Ok(items)
}

/// A `{role, content}` turn: `user` or `model`.
fn turn(turn: &Params<'_>) -> Result<Value, InteractionsError> {
    known_keys(turn, &["role", "content"])?;
    let content = contents(turn)?;
    match turn.required_string("role")? {
        "user" => user_message(&content, &turn.path("content")),
        "model" => model_message(&content, &turn.path("content")),
        other => {
            Err(TranslateError::invalid_value(&turn.path("role"), other, &["user", "model"]).into())
        }
    }
}

/// A step's or turn's `content`: a list of contents, or a string for one
/// text content.
fn contents(step: &Params<'_>) -> Result<Vec<Value>, InteractionsError> {
    match step.required("content")? {
        Value::String(text) => Ok(vec![json!({"type": "text", "text": text})]),
        Value::Array(contents) => Ok(contents.clone()),
        other => Err(TranslateError::invalid_type(
            &step.path("content"),
            "an array of contents or a string",
            other,
        )
        .into()),
    }
}

/// Puts a thought signature where the engine keeps Gemini's.
fn sign(item: &mut Value, signature: Option<&str>) {
    if let Some(signature) = signature {
        item["extra_content"] = json!({"google": {"thought_signature": signature}});
    }
}

/// Contents → a user message.
fn user_message(contents: &[Value], path: &str) -> Result<Value, InteractionsError> {
    if contents.is_empty() {
        return Err(InteractionsError::invalid(format!(
            "'{path}' must not be empty."
        )));
    }
    let parts = contents
        .iter()
        .enumerate()
        .map(|(j, content)| user_part(content, &format!("{path}[{j}]")))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"type": "message", "role": "user", "content": parts}))
}

fn user_part(content: &Value, path: &str) -> Result<Value, InteractionsError> {
    let part = Params::of(content, path)?;
    match part.required_string("type")? {
        "text" => {
            known_keys(&part, &["type", "text", "annotations"])?;
            Ok(json!({"type": "input_text", "text": part.required_string("text")?}))
        }
        "image" => {
            known_keys(&part, &["type", "data", "uri", "mime_type", "resolution"])?;
            let detail = match part.string("resolution")? {
                Some("low") => "low",
                Some("high" | "ultra_high") => "high",
                _ => "auto",
            };
            let url = media_url(&part, path, "image/png")?;
            Ok(json!({"type": "input_image", "image_url": url, "detail": detail}))
        }
        "document" => {
            known_keys(
                &part,
                &[
                    "type",
                    "data",
                    "uri",
                    "mime_type",
                    "resolution",
                    "processing",
                ],
            )?;
            if let Some(uri) = part.string("uri")? {
                return Ok(json!({"type": "input_file", "file_url": uri}));
            }
            Ok(
                json!({"type": "input_file", "file_data": media_url(&part, path, "application/pdf")?}),
            )
        }
        kind @ ("audio" | "video") => Err(InteractionsError::invalid(format!(
            "Contents of type '{kind}' ('{}') are not supported by this gateway: the engine \
             reads text, images and documents.",
            part.path("type")
        ))),
        other => {
            Err(TranslateError::invalid_value(&part.path("type"), other, &CONTENT_TYPES).into())
        }
    }
}

/// A media content's (at `path`) `uri`, or its base64 `data` as a data
/// URL.
fn media_url(
    part: &Params<'_>,
    path: &str,
    default_mime: &str,
) -> Result<String, InteractionsError> {
    if let Some(uri) = part.string("uri")? {
        return Ok(uri.to_owned());
    }
    let Some(data) = part.string("data")? else {
        return Err(InteractionsError::invalid(format!(
            "'{path}' needs 'data' (base64) or 'uri'."
        )));
    };
    let mime = part.string("mime_type")?.unwrap_or(default_mime);
    Ok(format!("data:{mime};base64,{data}"))
}

/// Contents of the model's earlier answer → an assistant message.
fn model_message(contents: &[Value], path: &str) -> Result<Value, InteractionsError> {
    let mut parts = Vec::with_capacity(contents.len());
    for (j, content) in contents.iter().enumerate() {
        let part = Params::of(content, format!("{path}[{j}]"))?;
        match part.required_string("type")? {
            "text" => {
                known_keys(&part, &["type", "text", "annotations"])?;
                let text = part.required_string("text")?;
                parts.push(json!({"type": "output_text", "text": text, "annotations": []}));
            }
            other => {
                return Err(InteractionsError::invalid(format!(
                    "Model outputs of type '{other}' ('{}') cannot be replayed by this gateway; \
                     only text can.",
                    part.path("type")
                )));
            }
        }
    }
    Ok(json!({"type": "message", "role": "assistant", "content": parts}))
}

fn function_call(step: &Params<'_>) -> Result<Value, InteractionsError> {
    let arguments = match step.get("arguments") {
        None => "{}".to_owned(),
        Some(arguments @ Value::Object(_)) => arguments.to_string(),
        Some(other) => {
            return Err(
                TranslateError::invalid_type(&step.path("arguments"), "an object", other).into(),
            );
        }
    };
    Ok(json!({
        "type": "function_call",
        "call_id": step.required_string("id")?,
        "name": step.required_string("name")?,
        "arguments": arguments,
    }))
}

/// A function's result → a `function_call_output`: text as it is, text
/// contents joined, anything else as JSON.
fn function_result(step: &Params<'_>) -> Result<Value, InteractionsError> {
    let output = match step.required("result")? {
        Value::String(text) => text.clone(),
        Value::Array(contents) => {
            let mut text = String::new();
            for (j, content) in contents.iter().enumerate() {
                let part = Params::of(content, format!("{}[{j}]", step.path("result")))?;
                match part.required_string("type")? {
                    "text" => text.push_str(part.required_string("text")?),
                    other => {
                        return Err(InteractionsError::invalid(format!(
                            "Function results of type '{other}' ('{}') are not supported by \
                             this gateway; send text or a JSON object.",
                            part.path("type")
                        )));
                    }
                }
            }
            text
        }
        other => other.to_string(),
    };
    Ok(json!({
        "type": "function_call_output",
        "call_id": step.required_string("call_id")?,
        "output": output,
    }))
}

/// `tools` → Responses tools.
fn tools(request: &Params<'_>) -> Result<Vec<Value>, InteractionsError> {
    let mut out = Vec::new();
    for (i, tool) in request.array("tools")?.into_iter().flatten().enumerate() {
        let tool = Params::of(tool, format!("tools[{i}]"))?;
        match tool.required_string("type")? {
            "function" => {
                known_keys(
                    &tool,
                    &[
                        "type",
                        "name",
                        "description",
                        "parameters",
                        "short_description",
                        "defer_loading",
                    ],
                )?;
                if tool.boolean("defer_loading")? == Some(true) {
                    return Err(InteractionsError::unserved(
                        &tool.path("defer_loading"),
                        "every declared function is sent with each request.",
                    ));
                }
                let mut function =
                    json!({"type": "function", "name": tool.required_string("name")?});
                let description = match tool.string("description")? {
                    Some(description) => Some(description),
                    None => tool.string("short_description")?,
                };
                if let Some(description) = description {
                    function["description"] = json!(description);
                }
                if let Some(parameters) = tool.get("parameters") {
                    function["parameters"] = parameters.clone();
                }
                function["strict"] = json!(false);
                out.push(function);
            }
            "google_search" => {
                known_keys(&tool, &["type", "search_types"])?;
                out.push(json!({"type": "web_search"}));
            }
            other => {
                return Err(InteractionsError::invalid(format!(
                    "Tools of type '{other}' ('{}') are not supported by this gateway; function \
                     tools and google_search are.",
                    tool.path("type")
                )));
            }
        }
    }
    Ok(out)
}

/// `generation_config` → sampling, length, reasoning and tool choice.
fn generation_config(
    config: &Params<'_>,
    out: &mut Map<String, Value>,
) -> Result<(), InteractionsError> {
    const UNSERVED_SETTINGS: [&str; 6] = [
        "stop_sequences",
        "seed",
        "image_config",
        "speech_config",
        "video_config",
        "transcription_config",
    ];
    for key in config.keys() {
        if UNSERVED_SETTINGS.contains(&key.as_str()) {
            if config.get(key).is_some_and(|value| !is_unset(value)) {
                return Err(InteractionsError::unserved(
                    &config.path(key),
                    "the engine has no such setting for every provider.",
                ));
            }
        } else if ![
            "temperature",
            "top_p",
            "max_output_tokens",
            "thinking_level",
            "thinking_summaries",
            "tool_choice",
        ]
        .contains(&key.as_str())
        {
            return Err(InteractionsError::unknown(&config.path(key)));
        }
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = config.number(key)? {
            out.insert(key.into(), value.clone());
        }
    }
    if let Some(max) = config.integer("max_output_tokens")? {
        out.insert("max_output_tokens".into(), json!(max));
    }
    let mut reasoning = Map::new();
    if let Some(level) = config.string("thinking_level")? {
        const LEVELS: [&str; 5] = ["minimal", "low", "medium", "high", "xhigh"];
        if !LEVELS.contains(&level) {
            return Err(TranslateError::invalid_value(
                &config.path("thinking_level"),
                level,
                &LEVELS,
            )
            .into());
        }
        reasoning.insert("effort".into(), json!(level));
    }
    match config.string("thinking_summaries")? {
        None | Some("none") => {}
        Some("auto") => {
            reasoning.insert("summary".into(), json!("auto"));
        }
        Some(other) => {
            return Err(TranslateError::invalid_value(
                &config.path("thinking_summaries"),
                other,
                &["auto", "none"],
            )
            .into());
        }
    }
    if !reasoning.is_empty() {
        out.insert("reasoning".into(), Value::Object(reasoning));
    }
    if let Some(choice) = config.get("tool_choice") {
        out.insert(
            "tool_choice".into(),
            tool_choice(choice, &config.path("tool_choice"))?,
        );
    }
    Ok(())
}

/// A tool choice mode → the Responses mode.
fn tool_mode(mode: &str, path: &str) -> Result<&'static str, InteractionsError> {
    match mode {
        "auto" => Ok("auto"),
        "any" => Ok("required"),
        "none" => Ok("none"),
        "validated" => Err(InteractionsError::unserved(
            path,
            "use 'any' to require a function call.",
        )),
        other => Err(TranslateError::invalid_value(path, other, &["auto", "any", "none"]).into()),
    }
}

fn tool_choice(choice: &Value, path: &str) -> Result<Value, InteractionsError> {
    if let Value::String(mode) = choice {
        return Ok(json!(tool_mode(mode, path)?));
    }
    let choice = Params::of(choice, path)?;
    known_keys(&choice, &["allowed_tools"])?;
    let allowed = Params::of(
        choice.required("allowed_tools")?,
        choice.path("allowed_tools"),
    )?;
    known_keys(&allowed, &["mode", "tools"])?;
    let mode = tool_mode(
        allowed.string("mode")?.unwrap_or("auto"),
        &allowed.path("mode"),
    )?;
    let names = allowed.array("tools")?.map_or(&[][..], Vec::as_slice);
    if mode == "none" || names.is_empty() {
        return Ok(json!(mode));
    }
    let tools = names
        .iter()
        .enumerate()
        .map(|(k, name)| match name {
            Value::String(name) => Ok(json!({"type": "function", "name": name})),
            other => Err(TranslateError::invalid_type(
                &format!("{}[{k}]", allowed.path("tools")),
                "a string",
                other,
            )),
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(json!({"type": "allowed_tools", "mode": mode, "tools": tools}))
}

/// `response_format` and `response_mime_type` → a Responses `text.format`.
fn text_format(request: &Params<'_>) -> Result<Option<Value>, InteractionsError> {
    let mime = request.string("response_mime_type")?;
    let format = match request.get("response_format") {
        None => None,
        Some(Value::Array(formats)) => match formats.as_slice() {
            [] => None,
            [only] => Some((only, "response_format[0]".to_owned())),
            _ => {
                return Err(InteractionsError::invalid(
                    "'response_format' asks for more than one format; this gateway answers in \
                     text only, so give one.",
                ));
            }
        },
        Some(format) => Some((format, "response_format".to_owned())),
    };
    let Some((format, path)) = format else {
        return match mime {
            None | Some("text/plain") => Ok(None),
            Some("application/json") => Ok(Some(json!({"type": "json_object"}))),
            Some(other) => Err(TranslateError::invalid_value(
                "response_mime_type",
                other,
                &["application/json", "text/plain"],
            )
            .into()),
        };
    };
    let format = Params::of(format, path)?;
    match format.string("type")? {
        Some("text") => {
            known_keys(&format, &["type", "mime_type", "schema"])?;
            let mime = format.string("mime_type")?.or(mime);
            match (format.get("schema"), mime) {
                (Some(schema), _) => Ok(Some(schema_format(schema))),
                (None, Some("application/json")) => Ok(Some(json!({"type": "json_object"}))),
                (None, None | Some("text/plain")) => Ok(None),
                (None, Some(other)) => Err(TranslateError::invalid_value(
                    &format.path("mime_type"),
                    other,
                    &["application/json", "text/plain"],
                )
                .into()),
            }
        }
        Some(kind @ ("audio" | "image" | "video")) => Err(InteractionsError::invalid(format!(
            "Response formats of type '{kind}' ('{}') are not supported by this gateway; it \
             answers in text.",
            format.path("type")
        ))),
        // A bare JSON schema, as the API took it before typed formats.
        _ => Ok(Some(schema_format(request.required("response_format")?))),
    }
}

fn schema_format(schema: &Value) -> Value {
    json!({"type": "json_schema", "name": "response", "schema": schema, "strict": false})
}

/// `response_modalities`: text is what the engine answers with.
fn only_text_out(request: &Params<'_>) -> Result<(), InteractionsError> {
    for (i, modality) in request
        .array("response_modalities")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        if !modality
            .as_str()
            .is_some_and(|m| m.eq_ignore_ascii_case("text"))
        {
            return Err(InteractionsError::invalid(format!(
                "'response_modalities[{i}]' is not supported by this gateway: it answers in text."
            )));
        }
    }
    Ok(())
}

/// `labels` (a map of strings) → Responses `metadata`.
fn labels(request: &Params<'_>) -> Result<Option<Value>, InteractionsError> {
    let Some(labels) = request.get("labels") else {
        return Ok(None);
    };
    let labels = Params::of(labels, "labels")?;
    for key in labels.keys() {
        labels.string(key)?;
    }
    Ok(request.get("labels").cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn translate(request: Value) -> Value {
        Value::Object(interaction_request_to_responses(&request).unwrap())
    }

    fn refused(request: Value) -> InteractionsError {
        interaction_request_to_responses(&request).unwrap_err()
    }

    #[test]
    fn a_plain_text_turn() {
        assert_eq!(
            translate(
                json!({"model": "gemini-2.5-flash", "input": "Hello", "system_instruction": "Be brief.", "previous_interaction_id": "resp_1", "store": false, "stream": true})
            ),
            json!({"model": "gemini-2.5-flash",
                   "input": [{"type": "message", "role": "user", "content": "Hello"}],
                   "instructions": "Be brief.", "previous_response_id": "resp_1",
                   "store": false, "stream": true})
        );
    }

    #[test]
    fn contents_are_one_user_message() {
        let request = translate(json!({"model": "m", "input": [
            {"type": "text", "text": "What is this?"},
            {"type": "image", "data": "iVBO", "mime_type": "image/png", "resolution": "low"},
            {"type": "document", "data": "JVBER", "mime_type": "application/pdf"},
        ]}));
        assert_eq!(
            request["input"],
            json!([{"type": "message", "role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "data:image/png;base64,iVBO", "detail": "low"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER"},
            ]}])
        );
        let single = translate(
            json!({"model": "m", "input": {"type": "image", "uri": "https://example.com/a.jpg"}}),
        );
        assert_eq!(
            single["input"][0]["content"],
            json!([{"type": "input_image", "image_url": "https://example.com/a.jpg", "detail": "auto"}])
        );
    }

    #[test]
    fn steps_replay_a_conversation_with_its_calls_and_signatures() {
        let request = translate(json!({"model": "m", "input": [
            {"type": "user_input", "content": [{"type": "text", "text": "Weather in Paris?"}]},
            {"type": "thought", "signature": "c2ln"},
            {"type": "function_call", "id": "call_1", "name": "weather", "arguments": {"city": "Paris"}},
            {"type": "function_result", "call_id": "call_1", "name": "weather", "result": {"temp": 18}},
            {"type": "model_output", "content": [{"type": "text", "text": "18 degrees."}]},
            {"role": "user", "content": "Thanks"},
        ]}));
        assert_eq!(
            request["input"],
            json!([
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Weather in Paris?"}]},
                {"type": "function_call", "call_id": "call_1", "name": "weather", "arguments": "{\"city\":\"Paris\"}",
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\":18}"},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "18 degrees.", "annotations": []}]},
                {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "Thanks"}]},
            ])
        );
    }

    #[test]
    fn tools_and_generation_settings() {
        let request = translate(json!({"model": "m", "input": "hi",
            "tools": [
                {"type": "function", "name": "weather", "description": "Current weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
                {"type": "google_search"},
            ],
            "generation_config": {"temperature": 0.2, "top_p": 0.9, "max_output_tokens": 64,
                                  "thinking_level": "low", "thinking_summaries": "auto", "tool_choice": "any"},
            "labels": {"team": "docs"},
        }));
        assert_eq!(
            request["tools"],
            json!([
                {"type": "function", "name": "weather", "description": "Current weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": false},
                {"type": "web_search"},
            ])
        );
        assert_eq!(request["temperature"], json!(0.2));
        assert_eq!(request["top_p"], json!(0.9));
        assert_eq!(request["max_output_tokens"], json!(64));
        assert_eq!(
            request["reasoning"],
            json!({"effort": "low", "summary": "auto"})
        );
        assert_eq!(request["tool_choice"], json!("required"));
        assert_eq!(request["metadata"], json!({"team": "docs"}));
        let allowed = translate(json!({"model": "m", "input": "hi", "generation_config": {
            "tool_choice": {"allowed_tools": {"mode": "any", "tools": ["weather"]}}}}));
        assert_eq!(
            allowed["tool_choice"],
            json!({"type": "allowed_tools", "mode": "required", "tools": [{"type": "function", "name": "weather"}]})
        );
    }

    #[test]
    fn response_formats_become_a_text_format() {
        let schema = json!({"type": "object", "properties": {"a": {"type": "string"}}});
        let typed = translate(
            json!({"model": "m", "input": "hi", "response_format": {"type": "text", "mime_type": "application/json", "schema": schema}}),
        );
        assert_eq!(
            typed["text"],
            json!({"format": {"type": "json_schema", "name": "response", "schema": schema, "strict": false}})
        );
        let bare = translate(
            json!({"model": "m", "input": "hi", "response_format": schema, "response_mime_type": "application/json"}),
        );
        assert_eq!(bare["text"], typed["text"]);
        let json_mode = translate(
            json!({"model": "m", "input": "hi", "response_mime_type": "application/json"}),
        );
        assert_eq!(
            json_mode["text"],
            json!({"format": {"type": "json_object"}})
        );
        let plain =
            translate(json!({"model": "m", "input": "hi", "response_format": [{"type": "text"}]}));
        assert!(plain.get("text").is_none());
    }

    #[test]
    fn agents_and_googles_own_state_are_refused_by_name() {
        let agent = refused(json!({"agent": "deep-research-pro-preview-12-2025", "input": "hi"}));
        assert_eq!(agent.code, "invalid_request");
        assert!(
            agent
                .message
                .contains("Agent interactions ('deep-research-pro-preview-12-2025')"),
            "{}",
            agent.message
        );
        for (field, value) in [
            ("background", json!(true)),
            ("continuation_token", json!("t")),
            ("cached_content", json!("cachedContents/1")),
            (
                "safety_settings",
                json!([{"type": "hate_speech", "threshold": "off"}]),
            ),
        ] {
            let mut request = json!({"model": "m", "input": "hi"});
            request[field] = value;
            let error = refused(request);
            assert!(
                error
                    .message
                    .starts_with(&format!("'{field}' is not supported by this gateway")),
                "{}",
                error.message
            );
        }
        // Unset, they are fine.
        translate(json!({"model": "m", "input": "hi", "background": false, "safety_settings": []}));
        let url_context =
            refused(json!({"model": "m", "input": "hi", "tools": [{"type": "url_context"}]}));
        assert!(
            url_context
                .message
                .contains("'url_context' ('tools[0].type')"),
            "{}",
            url_context.message
        );
        let stop = refused(
            json!({"model": "m", "input": "hi", "generation_config": {"stop_sequences": ["x"]}}),
        );
        assert!(
            stop.message
                .starts_with("'generation_config.stop_sequences' is not supported"),
            "{}",
            stop.message
        );
    }

    #[test]
    fn malformed_input_is_refused_with_its_path() {
        let unknown = refused(json!({"model": "m", "input": "hi", "frobnicate": 1}));
        assert_eq!(
            (unknown.code, unknown.message.as_str()),
            ("parameter_unknown", "Unknown parameter: 'frobnicate'.")
        );
        let nested = refused(
            json!({"model": "m", "input": [{"type": "user_input", "content": [{"type": "text", "txt": "x"}]}]}),
        );
        assert_eq!(
            nested.message,
            "Unknown parameter: 'input[0].content[0].txt'."
        );
        assert_eq!(
            refused(json!({"model": "m", "input": 42})).message,
            "Invalid type for 'input': expected a string, a content object, or an array of contents or steps, but got an integer instead."
        );
        assert_eq!(
            refused(json!({"input": "hi"})).message,
            "Missing required parameter: 'model'."
        );
        assert_eq!(
            refused(json!({"model": "m", "input": []})).message,
            "'input' must not be empty."
        );
        assert_eq!(
            refused(json!({"model": "m", "input": [{"type": "function_call", "name": "f", "arguments": {}}]})).message,
            "Missing required parameter: 'input[0].id'."
        );
        let step = refused(json!({"model": "m", "input": [{"type": "bogus"}]}));
        assert_eq!(
            step.message,
            "Invalid value for 'input[0].type': 'bogus' is not a step type."
        );
        assert!(
            refused(json!({"model": "m", "input": {"type": "audio", "data": "AA"}}))
                .message
                .contains("'audio'")
        );
    }
}
