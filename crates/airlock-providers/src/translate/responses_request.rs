//! A Responses API request body → the Chat Completions body that asks the
//! same, for [`chat_request_to_gemini`](crate::translate::chat_request_to_gemini).
//!
//! * `instructions` → a leading `system` message; `input` (a string is one
//!   user message) → `messages`: message items keep their role
//!   (`input_text` / `output_text` → `text` parts, `refusal` stays a
//!   refusal, `input_image` → `image_url`, `input_file` with `file_data` →
//!   `file`); `function_call` items → the `tool_calls` of an assistant
//!   message (joined to the assistant message before them, so consecutive
//!   calls share one), their `extra_content.google.thought_signature`
//!   carried along; `function_call_output` → a `tool` message; `reasoning`
//!   items are skipped (Gemini's reasoning travels in thought signatures),
//!   and so are `web_search_call` items (an earlier answer's search: its
//!   findings are in that answer's text).
//! * `tools` (flat function tools) → chat's nested `function` tools; the
//!   hosted web search tool is checked here and becomes Gemini's Google
//!   Search in [`responses_request_to_gemini`] (see
//!   [`super::search`] for its options); Gemini cannot be made to search,
//!   so a `tool_choice` that names it, or `required` with it as the only
//!   tool, is refused;
//!   `tool_choice` and `text.format` → chat's `tool_choice` and
//!   `response_format`; `max_output_tokens` → `max_completion_tokens`;
//!   `reasoning.effort` → `reasoning_effort`; `temperature`, `top_p`,
//!   `parallel_tool_calls`, `user`, `model` and `stream` are kept, and a
//!   stream asks for the usage chunk the `response.completed` event needs.
//! * Settings the gateway handles itself or that mean nothing to Gemini are
//!   dropped ([`DROPPED`]); Responses features Gemini cannot honour are
//!   refused unless null, false or empty ([`UNSUPPORTED`]); anything else is
//!   an `Unknown parameter`, as OpenAI says it, also inside items, parts,
//!   tools and settings.
//!
//! Everything the chat translation would check later with a chat path
//! (image URLs, inline files, schemas, call arguments, the effort, the
//! pairing of calls and outputs) is checked here first, so errors name the
//! Responses parameter (`input[2].content[0].image_url`).

use std::collections::HashSet;

use serde_json::{Map, Value, json};

use super::search;
use crate::translate::params::{Params, TranslateError};
use crate::translate::{GeminiChatRequest, chat_request_to_gemini, media, reasoning, schema};

/// Arguments translated into the chat request.
const MAPPED: [&str; 13] = [
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "text",
    "max_output_tokens",
    "temperature",
    "top_p",
    "parallel_tool_calls",
    "user",
    "reasoning",
    "stream",
];

/// Arguments accepted and left out: the gateway's business (storage,
/// chaining, caching, tiers, identities) or nothing Gemini can use.
const DROPPED: [&str; 13] = [
    "metadata",
    "store",
    "previous_response_id",
    "include",
    "truncation",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "safety_identifier",
    "stream_options",
    "top_logprobs",
    "max_tool_calls",
];

/// Responses features with no Gemini equivalent: an error unless null,
/// false or empty.
const UNSUPPORTED: [&str; 8] = [
    "background",
    "background_options",
    "conversation",
    "prompt",
    "moderation",
    "context_management",
    "image",
    "access_programs",
];

const ITEM_TYPES: [&str; 5] = [
    "message",
    "function_call",
    "function_call_output",
    "reasoning",
    "web_search_call",
];
const ROLES: [&str; 4] = ["user", "system", "developer", "assistant"];

/// Translates a Responses request body (already JSON-decoded) into the
/// Gemini request for `upstream_model`, the routed Gemini model: by way of
/// [`responses_request_to_chat`] and
/// [`chat_request_to_gemini`](crate::translate::chat_request_to_gemini),
/// then Google Search added when the request lets the model search the web.
/// Called by the gateway's `dispatch/responses.rs` for a Gemini route; the
/// gateway has already put the conversation's history in `input`.
pub fn responses_request_to_gemini(
    request: &Value,
    upstream_model: &str,
) -> Result<GeminiChatRequest, TranslateError> {
    let chat = responses_request_to_chat(request)?;
    let mut gemini = chat_request_to_gemini(&chat, upstream_model)?;
    if search::searches(request) {
        search::add_google_search(&mut gemini.body);
    }
    Ok(gemini)
}

/// Translates a Responses request body (already JSON-decoded) into a Chat
/// Completions request body asking the same, web search aside (see
/// [`responses_request_to_gemini`]).
pub fn responses_request_to_chat(request: &Value) -> Result<Value, TranslateError> {
    let request = match request {
        Value::Object(_) => Params::of(request, "")?,
        _ => {
            return Err(TranslateError::new(
                "The request body must be a JSON object.",
                None,
            ));
        }
    };
    check_arguments(&request)?;
    let mut chat = Map::new();
    if let Some(model) = request.string("model")? {
        chat.insert("model".into(), json!(model));
    }
    chat.insert("messages".into(), Value::Array(messages(&request)?));
    tool_settings(&request, &mut chat)?;
    output_settings(&request, &mut chat)?;
    if let Some(stream) = request.boolean("stream")? {
        chat.insert("stream".into(), json!(stream));
        if stream {
            chat.insert("stream_options".into(), json!({"include_usage": true}));
        }
    }
    Ok(Value::Object(chat))
}

/// `tools` and `tool_choice` (a choice of `auto` or `none` with no tools
/// means nothing and is left out), `parallel_tool_calls`.
fn tool_settings(
    request: &Params<'_>,
    chat: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    let tools = tools(request)?;
    if let Some(choice) = request.get("tool_choice")
        && !(tools.is_empty() && matches!(choice.as_str(), Some("auto" | "none")))
    {
        let web_search = request
            .array("tools")?
            .into_iter()
            .flatten()
            .any(|t| t["type"].as_str().is_some_and(search::is_web_search));
        if tools.is_empty() && choice == "required" && web_search {
            return Err(not_with_this_model(
                "Requiring a web search ('tool_choice': 'required')",
                "tool_choice",
            ));
        }
        chat.insert("tool_choice".into(), tool_choice(choice)?);
    }
    if !tools.is_empty() {
        chat.insert("tools".into(), Value::Array(tools));
    }
    if let Some(parallel) = request.boolean("parallel_tool_calls")? {
        chat.insert("parallel_tool_calls".into(), json!(parallel));
    }
    Ok(())
}

/// Format, length, sampling, reasoning and `user`.
fn output_settings(
    request: &Params<'_>,
    chat: &mut Map<String, Value>,
) -> Result<(), TranslateError> {
    if let Some(format) = response_format(request)? {
        chat.insert("response_format".into(), format);
    }
    if let Some(max) = request.integer("max_output_tokens")? {
        chat.insert("max_completion_tokens".into(), json!(max));
    }
    for key in ["temperature", "top_p"] {
        if let Some(value) = request.number(key)? {
            chat.insert(key.into(), value.clone());
        }
    }
    if let Some(effort) = reasoning_effort(request)? {
        chat.insert("reasoning_effort".into(), json!(effort));
    }
    if let Some(user) = request.string("user")? {
        chat.insert("user".into(), json!(user));
    }
    Ok(())
}

fn check_arguments(request: &Params<'_>) -> Result<(), TranslateError> {
    for key in request.keys() {
        let key = key.as_str();
        if UNSUPPORTED.contains(&key) {
            if request.get(key).is_some_and(|v| !is_unset(v)) {
                return Err(TranslateError::unsupported(key));
            }
        } else if !MAPPED.contains(&key) && !DROPPED.contains(&key) {
            return Err(unknown(key));
        }
    }
    Ok(())
}

fn is_unset(value: &Value) -> bool {
    match value {
        Value::Bool(set) => !set,
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// OpenAI's error for a parameter it does not know.
fn unknown(param: &str) -> TranslateError {
    TranslateError::new(format!("Unknown parameter: '{param}'."), Some(param))
}

/// Refuses a member of `object` that is not in `known`.
fn known_keys(object: &Params<'_>, known: &[&str]) -> Result<(), TranslateError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(unknown(&object.path(key))),
        None => Ok(()),
    }
}

/// A Responses feature Gemini cannot serve, named in the message.
fn not_with_this_model(what: &str, param: &str) -> TranslateError {
    TranslateError::new(
        format!("{what} is not supported with this model."),
        Some(param),
    )
}

/// `instructions` then `input`, as chat messages.
fn messages(request: &Params<'_>) -> Result<Vec<Value>, TranslateError> {
    let mut conversation = Conversation::default();
    if let Some(instructions) = request.string("instructions")? {
        conversation
            .messages
            .push(json!({"role": "system", "content": instructions}));
    }
    match request.get("input") {
        None => {}
        Some(Value::String(text)) => conversation
            .messages
            .push(json!({"role": "user", "content": text})),
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                conversation.item(&Params::of(item, format!("input[{i}]"))?)?;
            }
        }
        Some(other) => {
            return Err(TranslateError::invalid_type(
                "input",
                "a string or an array",
                other,
            ));
        }
    }
    if conversation.messages.is_empty() {
        return Err(TranslateError::missing("input"));
    }
    Ok(conversation.messages)
}

/// Chat messages under construction, and the call ids seen so far.
#[derive(Default)]
struct Conversation {
    messages: Vec<Value>,
    call_ids: HashSet<String>,
}

impl Conversation {
    fn item(&mut self, item: &Params<'_>) -> Result<(), TranslateError> {
        match item.string("type")?.unwrap_or("message") {
            "message" => self.messages.push(message(item)?),
            "function_call" => self.call(item)?,
            "function_call_output" => self.call_output(item)?,
            "reasoning" => {}
            "web_search_call" => known_keys(item, &["type", "id", "status", "action"])?,
            other => {
                return Err(TranslateError::invalid_value(
                    &item.path("type"),
                    other,
                    &ITEM_TYPES,
                ));
            }
        }
        Ok(())
    }

    /// A `function_call` item → a tool call of the assistant message just
    /// before it (a new one if the last message is not the assistant's).
    fn call(&mut self, item: &Params<'_>) -> Result<(), TranslateError> {
        known_keys(
            item,
            &[
                "type",
                "id",
                "call_id",
                "name",
                "arguments",
                "status",
                "namespace",
                "caller",
                "async",
                "extra_content",
            ],
        )?;
        let call_id = item.required_string("call_id")?;
        let arguments = item.required_string("arguments")?;
        check_arguments_object(arguments, &item.path("arguments"))?;
        let mut call = json!({
            "id": call_id,
            "type": "function",
            "function": {"name": item.required_string("name")?, "arguments": arguments},
        });
        if let Some(extra) = item.get("extra_content") {
            call["extra_content"] = extra.clone();
        }
        self.call_ids.insert(call_id.to_owned());
        match self.messages.last_mut() {
            Some(Value::Object(last)) if last.get("role") == Some(&json!("assistant")) => {
                match last.get_mut("tool_calls") {
                    Some(Value::Array(calls)) => calls.push(call),
                    _ => {
                        last.insert("tool_calls".into(), json!([call]));
                    }
                }
            }
            _ => self
                .messages
                .push(json!({"role": "assistant", "content": null, "tool_calls": [call]})),
        }
        Ok(())
    }

    /// A `function_call_output` item → a `tool` message answering an
    /// earlier call.
    fn call_output(&mut self, item: &Params<'_>) -> Result<(), TranslateError> {
        known_keys(
            item,
            &[
                "type",
                "id",
                "call_id",
                "output",
                "status",
                "name",
                "namespace",
                "caller",
            ],
        )?;
        let call_id = item.required_string("call_id")?;
        if !self.call_ids.contains(call_id) {
            return Err(TranslateError::new(
                format!("No tool call found for function call output with call_id {call_id}."),
                Some("input"),
            ));
        }
        let output = match item.required("output")? {
            Value::String(text) => json!(text),
            Value::Array(parts) => Value::Array(text_parts(parts, &item.path("output"), |kind| {
                format!("'{kind}' content in a function call output")
            })?),
            other => {
                return Err(TranslateError::invalid_type(
                    &item.path("output"),
                    "a string or an array",
                    other,
                ));
            }
        };
        self.messages
            .push(json!({"role": "tool", "tool_call_id": call_id, "content": output}));
        Ok(())
    }
}

/// Gemini's `args` must be an object: the arguments string must encode one
/// (or be empty).
fn check_arguments_object(raw: &str, param: &str) -> Result<(), TranslateError> {
    if raw.trim().is_empty()
        || serde_json::from_str::<Value>(raw).is_ok_and(|args| args.is_object())
    {
        return Ok(());
    }
    Err(TranslateError::new(
        format!("Invalid value for '{param}': expected a JSON object encoded as a string."),
        Some(param),
    ))
}

/// A message item → a chat message with the same role.
fn message(item: &Params<'_>) -> Result<Value, TranslateError> {
    let role = item.required_string("role")?;
    if !ROLES.contains(&role) {
        return Err(TranslateError::invalid_value(
            &item.path("role"),
            role,
            &ROLES,
        ));
    }
    let assistant = role == "assistant";
    let known: &[&str] = if assistant {
        &[
            "type",
            "role",
            "content",
            "status",
            "id",
            "phase",
            "extra_content",
        ]
    } else {
        &["type", "role", "content", "status", "phase"]
    };
    known_keys(item, known)?;
    let param = item.path("content");
    let content = match item.required("content")? {
        Value::String(text) => json!(text),
        Value::Array(parts) if assistant => Value::Array(assistant_parts(parts, &param)?),
        Value::Array(parts) if role == "user" => Value::Array(user_parts(parts, &param)?),
        Value::Array(parts) => Value::Array(text_parts(parts, &param, |kind| {
            format!("'{kind}' content in '{role}' messages")
        })?),
        other => {
            return Err(TranslateError::invalid_type(
                &param,
                "a string or an array",
                other,
            ));
        }
    };
    let mut message = json!({"role": role, "content": content});
    if let Some(extra) = item.get("extra_content").filter(|_| assistant) {
        message["extra_content"] = extra.clone();
    }
    Ok(message)
}

/// Input parts of a role that only takes text (system, developer, a
/// function call's output) → chat text parts; `refused` says what an image
/// or file part would be.
fn text_parts(
    parts: &[Value],
    param: &str,
    refused: impl Fn(&str) -> String,
) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part = Params::of(part, format!("{param}[{j}]"))?;
        match part.required_string("type")? {
            "input_text" => out.push(input_text(&part)?),
            kind @ ("input_image" | "input_file") => {
                return Err(not_with_this_model(&refused(kind), &part.path("type")));
            }
            other => return Err(invalid_input_part(&part, other)),
        }
    }
    Ok(out)
}

/// A user message's parts → chat user parts.
fn user_parts(parts: &[Value], param: &str) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part = Params::of(part, format!("{param}[{j}]"))?;
        out.push(match part.required_string("type")? {
            "input_text" => input_text(&part)?,
            "input_image" => input_image(&part)?,
            "input_file" => input_file(&part)?,
            other => return Err(invalid_input_part(&part, other)),
        });
    }
    Ok(out)
}

fn invalid_input_part(part: &Params<'_>, kind: &str) -> TranslateError {
    TranslateError::invalid_value(
        &part.path("type"),
        kind,
        &["input_text", "input_image", "input_file"],
    )
}

fn input_text(part: &Params<'_>) -> Result<Value, TranslateError> {
    known_keys(part, &["type", "text", "prompt_cache_breakpoint"])?;
    Ok(json!({"type": "text", "text": part.required_string("text")?}))
}

/// `input_image` → `image_url` (`detail` has no Gemini meaning, as in chat).
fn input_image(part: &Params<'_>) -> Result<Value, TranslateError> {
    known_keys(
        part,
        &[
            "type",
            "image_url",
            "file_id",
            "detail",
            "prompt_cache_breakpoint",
        ],
    )?;
    if part.get("file_id").is_some() {
        return Err(TranslateError::new(
            "Uploaded file references ('file_id') are not supported with this model; send the image as 'image_url'.",
            Some(&part.path("file_id")),
        ));
    }
    let url = part.required_string("image_url")?;
    media::url_part(url, &part.path("image_url"))?;
    Ok(json!({"type": "image_url", "image_url": {"url": url}}))
}

/// `input_file` with inline `file_data` → chat's `file` part; uploaded
/// (`file_id`) and remote (`file_url`) files have no chat equivalent.
fn input_file(part: &Params<'_>) -> Result<Value, TranslateError> {
    known_keys(
        part,
        &[
            "type",
            "file_data",
            "file_id",
            "file_url",
            "filename",
            "detail",
            "prompt_cache_breakpoint",
        ],
    )?;
    for (key, what) in [
        ("file_id", "Uploaded file references ('file_id')"),
        ("file_url", "File URLs ('file_url')"),
    ] {
        if part.get(key).is_some() {
            return Err(TranslateError::new(
                format!(
                    "{what} are not supported with this model; send the file inline as 'file_data'."
                ),
                Some(&part.path(key)),
            ));
        }
    }
    let data = part.required_string("file_data")?;
    let filename = part.string("filename")?;
    media::file_part(data, filename, &part.path("file_data"))?;
    let mut file = json!({"file_data": data});
    if let Some(filename) = filename {
        file["filename"] = json!(filename);
    }
    Ok(json!({"type": "file", "file": file}))
}

/// An assistant message's parts (`output_text`, `refusal`) → chat parts.
fn assistant_parts(parts: &[Value], param: &str) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::with_capacity(parts.len());
    for (j, part) in parts.iter().enumerate() {
        let part = Params::of(part, format!("{param}[{j}]"))?;
        out.push(match part.required_string("type")? {
            "output_text" => {
                known_keys(&part, &["type", "text", "annotations", "logprobs"])?;
                json!({"type": "text", "text": part.required_string("text")?})
            }
            "refusal" => {
                known_keys(&part, &["type", "refusal"])?;
                json!({"type": "refusal", "refusal": part.required_string("refusal")?})
            }
            other => {
                return Err(TranslateError::invalid_value(
                    &part.path("type"),
                    other,
                    &["output_text", "refusal"],
                ));
            }
        });
    }
    Ok(out)
}

/// Flat function tools → chat's `{type: "function", function: {...}}`.
fn tools(request: &Params<'_>) -> Result<Vec<Value>, TranslateError> {
    let mut out = Vec::new();
    for (i, tool) in request.array("tools")?.into_iter().flatten().enumerate() {
        let tool = Params::of(tool, format!("tools[{i}]"))?;
        if search::is_web_search(tool.required_string("type")?) {
            search::check_tool(&tool)?;
            continue;
        }
        function_type(&tool)?;
        known_keys(
            &tool,
            &["type", "name", "description", "parameters", "strict"],
        )?;
        let mut function = json!({"name": tool.required_string("name")?});
        if let Some(description) = tool.string("description")? {
            function["description"] = json!(description);
        }
        if let Some(parameters) = tool.get("parameters") {
            schema::for_gemini(parameters, &tool.path("parameters"))?;
            function["parameters"] = parameters.clone();
        }
        if let Some(strict) = tool.boolean("strict")? {
            function["strict"] = json!(strict);
        }
        out.push(json!({"type": "function", "function": function}));
    }
    Ok(out)
}

/// Only function tools reach Gemini this way; the error names any other.
fn function_type(tool: &Params<'_>) -> Result<(), TranslateError> {
    match tool.required_string("type")? {
        "function" => Ok(()),
        other => Err(not_with_this_model(
            &format!("Tool type '{other}'"),
            &tool.path("type"),
        )),
    }
}

/// Responses `tool_choice` → chat's.
fn tool_choice(choice: &Value) -> Result<Value, TranslateError> {
    const CHOICES: [&str; 3] = ["none", "auto", "required"];
    let choice = match choice {
        Value::String(mode) if CHOICES.contains(&mode.as_str()) => return Ok(json!(mode)),
        Value::String(other) => {
            return Err(TranslateError::invalid_value(
                "tool_choice",
                other,
                &CHOICES,
            ));
        }
        other => Params::of(other, "tool_choice")?,
    };
    if choice.required_string("type")? == "allowed_tools" {
        known_keys(&choice, &["type", "mode", "tools"])?;
        let mode = choice.required_string("mode")?;
        if !["auto", "required"].contains(&mode) {
            return Err(TranslateError::invalid_value(
                &choice.path("mode"),
                mode,
                &["auto", "required"],
            ));
        }
        let tools = choice
            .array("tools")?
            .ok_or_else(|| TranslateError::missing(&choice.path("tools")))?;
        let mut allowed = Vec::with_capacity(tools.len());
        for (i, tool) in tools.iter().enumerate() {
            allowed.push(named_function(&Params::of(
                tool,
                choice.path(&format!("tools[{i}]")),
            )?)?);
        }
        return Ok(json!({
            "type": "allowed_tools",
            "allowed_tools": {"mode": mode, "tools": allowed},
        }));
    }
    named_function(&choice)
}

/// `{type: "function", name}` → chat's `{type: "function", function: {name}}`.
/// Naming the web search tool is refused: Gemini decides when it searches.
fn named_function(tool: &Params<'_>) -> Result<Value, TranslateError> {
    let kind = tool.required_string("type")?;
    if search::is_web_search(kind) {
        return Err(not_with_this_model(
            &format!("Choosing the '{kind}' tool"),
            &tool.path("type"),
        ));
    }
    function_type(tool)?;
    known_keys(tool, &["type", "name"])?;
    Ok(json!({"type": "function", "function": {"name": tool.required_string("name")?}}))
}

/// `text.format` → `response_format` (`text.verbosity` has no Gemini
/// meaning and is dropped, as chat drops `verbosity`).
fn response_format(request: &Params<'_>) -> Result<Option<Value>, TranslateError> {
    let Some(text) = request.get("text") else {
        return Ok(None);
    };
    let text = Params::of(text, "text")?;
    known_keys(&text, &["format", "verbosity"])?;
    text.string("verbosity")?;
    let Some(format) = text.get("format") else {
        return Ok(None);
    };
    let format = Params::of(format, "text.format")?;
    let kind = format.required_string("type")?;
    match kind {
        "text" | "json_object" => {
            known_keys(&format, &["type"])?;
            Ok(Some(json!({"type": kind})))
        }
        "json_schema" => {
            known_keys(
                &format,
                &["type", "name", "schema", "description", "strict"],
            )?;
            let schema = format.required("schema")?;
            schema::for_gemini(schema, &format.path("schema"))?;
            let mut spec = json!({"name": format.required_string("name")?, "schema": schema});
            if let Some(description) = format.string("description")? {
                spec["description"] = json!(description);
            }
            if let Some(strict) = format.boolean("strict")? {
                spec["strict"] = json!(strict);
            }
            Ok(Some(json!({"type": "json_schema", "json_schema": spec})))
        }
        other => Err(TranslateError::invalid_value(
            &format.path("type"),
            other,
            &["text", "json_object", "json_schema"],
        )),
    }
}

/// `reasoning.effort` (checked here so the error names it); the summary
/// settings are dropped: Gemini's thoughts are not returned as summaries.
fn reasoning_effort<'a>(request: &Params<'a>) -> Result<Option<&'a str>, TranslateError> {
    let Some(settings) = request.get("reasoning") else {
        return Ok(None);
    };
    let settings = Params::of(settings, "reasoning")?;
    known_keys(
        &settings,
        &["effort", "summary", "generate_summary", "context"],
    )?;
    let Some(effort) = settings.string("effort")? else {
        return Ok(None);
    };
    reasoning::thinking_config(effort, "").map_err(|mut error| {
        error.param = Some(settings.path("effort"));
        error
    })?;
    Ok(Some(effort))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chat(request: Value) -> Value {
        responses_request_to_chat(&request).unwrap()
    }

    fn error(request: Value) -> TranslateError {
        responses_request_to_chat(&request).unwrap_err()
    }

    fn with(extra: Value) -> Value {
        let mut body = json!({"model": "gemini-2.5-flash", "input": "hi"});
        if let (Some(body), Value::Object(extra)) = (body.as_object_mut(), extra) {
            body.extend(extra);
        }
        body
    }

    #[test]
    fn minimal_request() {
        assert_eq!(
            chat(json!({"model": "gemini-2.5-flash", "input": "Hi"})),
            json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]})
        );
    }

    #[test]
    fn settings_map_to_chat_arguments() {
        let request = with(json!({
            "instructions": "Be terse.",
            "max_output_tokens": 256,
            "temperature": 0.2,
            "top_p": 0.9,
            "parallel_tool_calls": false,
            "user": "u-1",
            "reasoning": {"effort": "low", "summary": "auto"},
            "stream": true,
            "text": {"format": {"type": "json_object"}, "verbosity": "low"},
            "metadata": {"k": "v"}, "store": false, "previous_response_id": null,
            "include": ["reasoning.encrypted_content"], "truncation": "auto", "service_tier": "auto",
            "prompt_cache_key": "k", "prompt_cache_retention": "24h", "safety_identifier": "s",
            "stream_options": {"include_obfuscation": false}, "top_logprobs": 2, "max_tool_calls": 3,
            "background": false, "conversation": null, "prompt": null
        }));
        assert_eq!(
            chat(request),
            json!({
                "model": "gemini-2.5-flash",
                "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
                "response_format": {"type": "json_object"},
                "max_completion_tokens": 256,
                "temperature": 0.2,
                "top_p": 0.9,
                "parallel_tool_calls": false,
                "user": "u-1",
                "reasoning_effort": "low",
                "stream": true,
                "stream_options": {"include_usage": true}
            })
        );
        assert_eq!(chat(with(json!({"stream": false})))["stream"], json!(false));
        assert!(
            chat(with(json!({"stream": false})))
                .get("stream_options")
                .is_none()
        );
    }

    #[test]
    fn message_items_keep_their_roles_and_parts() {
        let request = with(json!({"input": [
            {"role": "developer", "content": [{"type": "input_text", "text": "Answer in French."}]},
            {"type": "message", "role": "system", "content": "Be brief."},
            {"role": "user", "content": [
                {"type": "input_text", "text": "What is this?"},
                {"type": "input_image", "image_url": "https://x.test/cat.png", "detail": "high"},
                {"type": "input_file", "file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"},
                {"type": "input_file", "file_data": "JVBER", "filename": "b.pdf"}
            ]},
            {"id": "msg_1", "type": "message", "role": "assistant", "status": "completed", "content": [
                {"type": "output_text", "text": "A cat.", "annotations": [], "logprobs": []},
                {"type": "refusal", "refusal": "No more."}
            ], "extra_content": {"google": {"thought_signature": "c2ln"}}},
            {"type": "reasoning", "id": "rs_1", "summary": [], "encrypted_content": "x"},
            {"role": "user", "content": "Thanks"}
        ]}));
        assert_eq!(
            chat(request)["messages"],
            json!([
                {"role": "developer", "content": [{"type": "text", "text": "Answer in French."}]},
                {"role": "system", "content": "Be brief."},
                {"role": "user", "content": [
                    {"type": "text", "text": "What is this?"},
                    {"type": "image_url", "image_url": {"url": "https://x.test/cat.png"}},
                    {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
                    {"type": "file", "file": {"file_data": "JVBER", "filename": "b.pdf"}}
                ]},
                {"role": "assistant", "content": [{"type": "text", "text": "A cat."}, {"type": "refusal", "refusal": "No more."}],
                 "extra_content": {"google": {"thought_signature": "c2ln"}}},
                {"role": "user", "content": "Thanks"}
            ])
        );
    }

    #[test]
    fn calls_join_the_assistant_message_and_outputs_become_tool_messages() {
        let signed = json!({"google": {"thought_signature": "c2ln"}});
        let request = with(json!({"input": [
            {"role": "user", "content": "Weather in Paris and Rome?"},
            {"type": "message", "role": "assistant", "content": "Checking."},
            {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "weather",
             "arguments": "{\"city\":\"Paris\"}", "status": "completed", "extra_content": signed},
            {"type": "function_call", "call_id": "call_2", "name": "weather", "arguments": "{\"city\":\"Rome\"}"},
            {"type": "function_call_output", "call_id": "call_1", "output": "{\"temp\": 21}"},
            {"type": "function_call_output", "call_id": "call_2", "output": [{"type": "input_text", "text": "sunny"}]},
            {"type": "function_call", "call_id": "call_3", "name": "time", "arguments": ""}
        ]}));
        assert_eq!(
            chat(request)["messages"],
            json!([
                {"role": "user", "content": "Weather in Paris and Rome?"},
                {"role": "assistant", "content": "Checking.", "tool_calls": [
                    {"id": "call_1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                     "extra_content": signed},
                    {"id": "call_2", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Rome\"}"}}
                ]},
                {"role": "tool", "tool_call_id": "call_1", "content": "{\"temp\": 21}"},
                {"role": "tool", "tool_call_id": "call_2", "content": [{"type": "text", "text": "sunny"}]},
                {"role": "assistant", "content": null, "tool_calls": [
                    {"id": "call_3", "type": "function", "function": {"name": "time", "arguments": ""}}
                ]}
            ])
        );
    }

    #[test]
    fn tools_and_tool_choice_take_chat_shapes() {
        let tools = json!([
            {"type": "function", "name": "weather", "description": "Get weather", "strict": true,
             "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}},
            {"type": "function", "name": "time", "parameters": null}
        ]);
        let translated = chat(with(json!({"tools": tools, "tool_choice": "required"})));
        assert_eq!(
            translated["tools"],
            json!([
                {"type": "function", "function": {"name": "weather", "description": "Get weather",
                 "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}, "strict": true}},
                {"type": "function", "function": {"name": "time"}}
            ])
        );
        assert_eq!(translated["tool_choice"], json!("required"));
        let cases = [
            (json!("auto"), json!("auto")),
            (json!("none"), json!("none")),
            (
                json!({"type": "function", "name": "time"}),
                json!({"type": "function", "function": {"name": "time"}}),
            ),
            (
                json!({"type": "allowed_tools", "mode": "auto", "tools": [{"type": "function", "name": "time"}]}),
                json!({"type": "allowed_tools", "allowed_tools": {"mode": "auto", "tools": [
                    {"type": "function", "function": {"name": "time"}}
                ]}}),
            ),
        ];
        for (choice, expected) in cases {
            let translated = chat(with(json!({"tools": tools, "tool_choice": choice})));
            assert_eq!(translated["tool_choice"], expected);
        }
        let no_tools = chat(with(json!({"tools": [], "tool_choice": "auto"})));
        assert!(no_tools.get("tools").is_none() && no_tools.get("tool_choice").is_none());
        assert_eq!(
            chat(with(json!({"tool_choice": "required"})))["tool_choice"],
            json!("required"),
            "left for the chat translation to refuse without tools"
        );
    }

    #[test]
    fn text_formats_become_response_formats() {
        let format =
            |f: Value| chat(with(json!({"text": {"format": f}})))["response_format"].clone();
        assert_eq!(format(json!({"type": "text"})), json!({"type": "text"}));
        assert_eq!(
            format(
                json!({"type": "json_schema", "name": "person", "description": "A person", "strict": true,
                          "schema": {"type": "object", "properties": {"name": {"type": "string"}}}})
            ),
            json!({"type": "json_schema", "json_schema": {"name": "person",
                   "schema": {"type": "object", "properties": {"name": {"type": "string"}}},
                   "description": "A person", "strict": true}})
        );
        assert!(
            chat(with(json!({"text": {"verbosity": "high"}})))
                .get("response_format")
                .is_none()
        );
    }

    #[test]
    fn unknown_parameters_are_named_like_openai() {
        let cases = [
            (json!({"foo": 1}), "foo"),
            (
                json!({"input": [{"role": "user", "content": "x", "foo": 1}]}),
                "input[0].foo",
            ),
            (
                json!({"input": [{"role": "user", "content": "x", "id": "msg_1"}]}),
                "input[0].id",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_text", "text": "x", "foo": 1}]}]}),
                "input[0].content[0].foo",
            ),
            (
                json!({"input": [{"role": "assistant", "content": [{"type": "output_text", "text": "x", "foo": 1}]}]}),
                "input[0].content[0].foo",
            ),
            (
                json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}", "foo": 1}]}),
                "input[0].foo",
            ),
            (
                json!({"tools": [{"type": "function", "name": "f", "function": {}}]}),
                "tools[0].function",
            ),
            (
                json!({"text": {"format": {"type": "text"}, "foo": 1}}),
                "text.foo",
            ),
            (
                json!({"text": {"format": {"type": "json_object", "name": "n"}}}),
                "text.format.name",
            ),
            (
                json!({"reasoning": {"effort": "low", "foo": 1}}),
                "reasoning.foo",
            ),
            (
                json!({"tools": [{"type": "function", "name": "f"}], "tool_choice": {"type": "function", "name": "f", "x": 1}}),
                "tool_choice.x",
            ),
        ];
        for (extra, param) in cases {
            let err = error(with(extra.clone()));
            assert_eq!(err.param.as_deref(), Some(param), "{extra}");
            assert_eq!(err.message, format!("Unknown parameter: '{param}'."));
        }
    }

    #[test]
    fn web_search_becomes_google_search() {
        let gemini =
            |request: Value| responses_request_to_gemini(&request, "gemini-2.5-flash").unwrap();
        let searched = gemini(with(json!({"tools": [
            {"type": "web_search_preview", "search_context_size": "low", "user_location": {"type": "approximate"}}
        ]})));
        assert_eq!(searched.body["tools"], json!([{"googleSearch": {}}]));
        assert!(searched.body.get("toolConfig").is_none());
        let mixed = gemini(with(json!({"tools": [
            {"type": "function", "name": "f"}, {"type": "web_search"}
        ], "tool_choice": "auto"})));
        assert_eq!(
            mixed.body["tools"],
            json!([{"functionDeclarations": [{"name": "f"}]}, {"googleSearch": {}}])
        );
        assert_eq!(
            mixed.body["toolConfig"],
            json!({"functionCallingConfig": {"mode": "AUTO"}, "includeServerSideToolInvocations": true})
        );
        let not_now = gemini(with(
            json!({"tools": [{"type": "web_search"}], "tool_choice": "none"}),
        ));
        assert!(not_now.body.get("tools").is_none());
        assert!(gemini(with(json!({}))).body.get("tools").is_none());
        // A search given back in the history is not replayed to Gemini.
        let replayed = chat(with(json!({"input": [
            {"role": "user", "content": "Who won?"},
            {"type": "web_search_call", "id": "ws_1", "status": "completed", "action": {"type": "search", "query": "q"}},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Spain.",
             "annotations": [{"type": "url_citation", "start_index": 0, "end_index": 6, "url": "https://x", "title": "x"}]}]}
        ]})));
        assert_eq!(
            replayed["messages"],
            json!([{"role": "user", "content": "Who won?"},
                   {"role": "assistant", "content": [{"type": "text", "text": "Spain."}]}])
        );
        assert_eq!(
            error(with(
                json!({"input": [{"type": "web_search_call", "id": "ws_1", "x": 1}]})
            ))
            .param
            .as_deref(),
            Some("input[0].x")
        );
    }

    #[test]
    fn features_gemini_cannot_serve_are_refused_by_name() {
        let err = error(with(json!({"tools": [{"type": "file_search"}]})));
        assert_eq!(
            (err.message.as_str(), err.param.as_deref()),
            (
                "Tool type 'file_search' is not supported with this model.",
                Some("tools[0].type")
            )
        );
        let err = error(with(
            json!({"tools": [{"type": "function", "name": "f"}, {"type": "web_search_preview"}],
            "tool_choice": {"type": "allowed_tools", "mode": "auto", "tools": [{"type": "web_search_preview"}]}}),
        ));
        assert_eq!(err.param.as_deref(), Some("tool_choice.tools[0].type"));
        let err = error(with(json!({"tool_choice": {"type": "web_search_preview"}})));
        assert_eq!(
            err.message,
            "Choosing the 'web_search_preview' tool is not supported with this model."
        );
        assert_eq!(err.param.as_deref(), Some("tool_choice.type"));
        let err = error(with(
            json!({"tools": [{"type": "web_search"}], "tool_choice": "required"}),
        ));
        assert_eq!(
            (err.message.as_str(), err.param.as_deref()),
            (
                "Requiring a web search ('tool_choice': 'required') is not supported with this model.",
                Some("tool_choice")
            )
        );
        let err = error(with(
            json!({"tools": [{"type": "web_search", "user_location": {"type": "approximate", "country": "FR"}}]}),
        ));
        assert_eq!(err.param.as_deref(), Some("tools[0].user_location.country"));

        let err = error(with(json!({"background": true})));
        assert_eq!(
            err.message,
            "Unsupported parameter: 'background' is not supported with this model."
        );
        assert_eq!(
            error(with(json!({"prompt": {"id": "p"}}))).param.as_deref(),
            Some("prompt")
        );

        let file = |part: Value| {
            error(with(
                json!({"input": [{"role": "user", "content": [part]}]}),
            ))
        };
        let err = file(json!({"type": "input_file", "file_id": "file-1"}));
        assert_eq!(err.param.as_deref(), Some("input[0].content[0].file_id"));
        assert_eq!(
            err.message,
            "Uploaded file references ('file_id') are not supported with this model; send the file inline as 'file_data'."
        );
        let err = file(json!({"type": "input_file", "file_url": "https://x.test/a.pdf"}));
        assert_eq!(err.param.as_deref(), Some("input[0].content[0].file_url"));
        let err = file(json!({"type": "input_image", "file_id": "file-1"}));
        assert_eq!(err.param.as_deref(), Some("input[0].content[0].file_id"));

        let err = error(with(json!({"input": [{"role": "system", "content": [
            {"type": "input_image", "image_url": "https://x.test/a.png"}
        ]}]})));
        assert_eq!(
            err.message,
            "'input_image' content in 'system' messages is not supported with this model."
        );
        assert_eq!(err.param.as_deref(), Some("input[0].content[0].type"));
        let err = error(with(json!({"input": [
            {"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": [{"type": "input_file", "file_data": "x"}]}
        ]})));
        assert_eq!(
            err.message,
            "'input_file' content in a function call output is not supported with this model."
        );
        assert_eq!(err.param.as_deref(), Some("input[1].output[0].type"));
    }

    #[test]
    fn errors_name_the_responses_param() {
        let cases = [
            (json!({"input": 5}), "input"),
            (json!({"input": []}), "input"),
            (json!({"input": ["x"]}), "input[0]"),
            (json!({"input": [{"content": "x"}]}), "input[0].role"),
            (
                json!({"input": [{"role": "tool", "content": "x"}]}),
                "input[0].role",
            ),
            (
                json!({"input": [{"type": "item_reference", "id": "x"}]}),
                "input[0].type",
            ),
            (json!({"input": [{"role": "user"}]}), "input[0].content"),
            (
                json!({"input": [{"role": "user", "content": 3}]}),
                "input[0].content",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "output_text", "text": "x"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"role": "assistant", "content": [{"type": "input_text", "text": "x"}]}]}),
                "input[0].content[0].type",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_image", "image_url": "ftp://x/y.png"}]}]}),
                "input[0].content[0].image_url",
            ),
            (
                json!({"input": [{"role": "user", "content": [{"type": "input_file", "file_data": "JVBER"}]}]}),
                "input[0].content[0].file_data",
            ),
            (
                json!({"input": [{"type": "function_call", "name": "f", "arguments": "{}"}]}),
                "input[0].call_id",
            ),
            (
                json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "[1]"}]}),
                "input[0].arguments",
            ),
            (
                json!({"input": [{"type": "function_call_output", "call_id": "c", "output": "x"}]}),
                "input",
            ),
            (
                json!({"input": [{"type": "function_call", "call_id": "c", "name": "f", "arguments": "{}"},
                                 {"type": "function_call_output", "call_id": "c", "output": 1}]}),
                "input[1].output",
            ),
            (json!({"instructions": 1}), "instructions"),
            (json!({"tools": {}}), "tools"),
            (json!({"tools": [{"name": "f"}]}), "tools[0].type"),
            (json!({"tools": [{"type": "function"}]}), "tools[0].name"),
            (
                json!({"tools": [{"type": "function", "name": "f", "parameters": "{}"}]}),
                "tools[0].parameters",
            ),
            (json!({"tool_choice": "any"}), "tool_choice"),
            (json!({"tool_choice": 1}), "tool_choice"),
            (
                json!({"tool_choice": {"type": "allowed_tools", "mode": "x", "tools": []}}),
                "tool_choice.mode",
            ),
            (
                json!({"tool_choice": {"type": "allowed_tools", "mode": "auto"}}),
                "tool_choice.tools",
            ),
            (json!({"text": "json"}), "text"),
            (
                json!({"text": {"format": {"type": "xml"}}}),
                "text.format.type",
            ),
            (
                json!({"text": {"format": {"type": "json_schema", "name": "n"}}}),
                "text.format.schema",
            ),
            (
                json!({"text": {"format": {"type": "json_schema", "name": "n", "schema": []}}}),
                "text.format.schema",
            ),
            (json!({"reasoning": {"effort": "huge"}}), "reasoning.effort"),
            (json!({"max_output_tokens": "10"}), "max_output_tokens"),
            (json!({"temperature": "hot"}), "temperature"),
            (json!({"stream": "yes"}), "stream"),
            (json!({"model": 4}), "model"),
        ];
        for (extra, param) in cases {
            assert_eq!(
                error(with(extra.clone())).param.as_deref(),
                Some(param),
                "{extra}"
            );
        }
        assert_eq!(
            error(json!([])).message,
            "The request body must be a JSON object."
        );
        assert_eq!(
            error(with(
                json!({"input": [{"type": "function_call_output", "call_id": "c9", "output": "x"}]})
            ))
            .message,
            "No tool call found for function call output with call_id c9."
        );
        assert_eq!(
            error(with(json!({"reasoning": {"effort": "huge"}}))).message,
            "Invalid value: 'huge'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'."
        );
    }
}
