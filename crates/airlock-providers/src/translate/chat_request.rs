//! Entry point of the request direction: an OpenAI `chat.completions` body →
//! a Gemini `GenerateContentRequest` body, plus the streaming flags the
//! gateway needs to pick `generateContent` or `streamGenerateContent`.
//!
//! Owns the list of accepted top-level arguments: the mapped ones, the ones
//! accepted and ignored because they only concern OpenAI's platform (`user`,
//! `metadata`, `store`, `parallel_tool_calls`, `service_tier`, prompt-cache
//! hints, `safety_identifier`, `verbosity`), the OpenAI features Gemini cannot
//! honour (rejected as unsupported unless null or empty), and everything
//! else, rejected as "Unrecognized request argument supplied" like OpenAI does.
//! `model` is accepted and left out: Gemini takes the model in the URL.

use serde_json::{Map, Value};

use super::params::{Params, TranslateError};
use super::{generation, messages, tools};

/// A translated chat request.
#[derive(Debug, Clone, PartialEq)]
pub struct GeminiChatRequest {
    /// The `GenerateContentRequest` body.
    pub body: Value,
    /// The client asked for a stream (`streamGenerateContent`).
    pub stream: bool,
    /// `stream_options.include_usage`: end the stream with a usage chunk.
    pub include_usage: bool,
}

/// Arguments translated into the Gemini body.
const MAPPED: [&str; 20] = [
    "messages",
    "model",
    "temperature",
    "top_p",
    "max_tokens",
    "max_completion_tokens",
    "stop",
    "n",
    "seed",
    "presence_penalty",
    "frequency_penalty",
    "logprobs",
    "top_logprobs",
    "response_format",
    "reasoning_effort",
    "stream",
    "stream_options",
    "tools",
    "tool_choice",
    "modalities",
];

/// Arguments that only matter to OpenAI's platform: accepted, not forwarded.
const IGNORED: [&str; 10] = [
    "user",
    "metadata",
    "store",
    "parallel_tool_calls",
    "service_tier",
    "prompt_cache_key",
    "prompt_cache_retention",
    "prompt_cache_options",
    "safety_identifier",
    "verbosity",
];

/// OpenAI features with no Gemini equivalent: an error unless null or empty.
const UNSUPPORTED: [&str; 7] = [
    "audio",
    "prediction",
    "web_search_options",
    "logit_bias",
    "functions",
    "function_call",
    "moderation",
];

/// Parses an OpenAI chat.completions request body (already JSON-decoded) into
/// a Gemini GenerateContentRequest body for `upstream_model`, the Gemini
/// model the request is routed to (which differs from the body's `model`
/// behind an alias): the model decides how `reasoning_effort` is said (a
/// thinking level for Gemini 3 and later, a budget for 2.5).
pub fn chat_request_to_gemini(
    openai: &Value,
    upstream_model: &str,
) -> Result<GeminiChatRequest, TranslateError> {
    let request = match openai {
        Value::Object(_) => Params::of(openai, "")?,
        _ => {
            return Err(TranslateError::new(
                "The request body must be a JSON object.",
                None,
            ));
        }
    };
    check_arguments(&request)?;
    let (stream, include_usage) = streaming(&request)?;

    let conversation = messages::convert(request.required("messages")?)?;
    let tools = tools::convert(&request)?;
    let generation_config = generation::generation_config(&request, upstream_model)?;

    let mut body = Map::new();
    body.insert("contents".into(), Value::Array(conversation.contents));
    if let Some(system) = conversation.system_instruction {
        body.insert("systemInstruction".into(), system);
    }
    if let Some(tools) = tools.tools {
        body.insert("tools".into(), tools);
    }
    if let Some(config) = tools.tool_config {
        body.insert("toolConfig".into(), config);
    }
    if !generation_config.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation_config));
    }
    Ok(GeminiChatRequest {
        body: Value::Object(body),
        stream,
        include_usage,
    })
}

fn check_arguments(request: &Params<'_>) -> Result<(), TranslateError> {
    for key in request.keys() {
        let key = key.as_str();
        if UNSUPPORTED.contains(&key) {
            if request.get(key).is_some_and(|v| !is_empty(v)) {
                return Err(TranslateError::unsupported(key));
            }
        } else if !MAPPED.contains(&key) && !IGNORED.contains(&key) {
            return Err(TranslateError::unrecognized(key));
        }
    }
    // Text is the only output modality Gemini chat gives through this API.
    for (i, modality) in request
        .array("modalities")?
        .into_iter()
        .flatten()
        .enumerate()
    {
        if modality != "text" {
            return Err(TranslateError::new(
                "Unsupported parameter: only the 'text' modality is supported with this model.",
                Some(&format!("modalities[{i}]")),
            ));
        }
    }
    Ok(())
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        _ => false,
    }
}

/// `stream` and `stream_options.include_usage`.
fn streaming(request: &Params<'_>) -> Result<(bool, bool), TranslateError> {
    let stream = request.boolean("stream")?.unwrap_or(false);
    let Some(options) = request.get("stream_options") else {
        return Ok((stream, false));
    };
    if !stream {
        return Err(TranslateError::new(
            "The 'stream_options' parameter is only allowed when 'stream' is enabled.",
            Some("stream_options"),
        ));
    }
    let options = Params::of(options, "stream_options")?;
    options.boolean("include_obfuscation")?;
    Ok((stream, options.boolean("include_usage")?.unwrap_or(false)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn translate(body: Value) -> Result<GeminiChatRequest, TranslateError> {
        let model = body["model"].as_str().unwrap_or("").to_string();
        chat_request_to_gemini(&body, &model)
    }

    #[test]
    fn minimal_request() {
        let request = translate(
            json!({"model": "gemini-2.5-flash", "messages": [{"role": "user", "content": "Hi"}]}),
        )
        .unwrap();
        assert_eq!(
            request,
            GeminiChatRequest {
                body: json!({"contents": [{"role": "user", "parts": [{"text": "Hi"}]}]}),
                stream: false,
                include_usage: false,
            }
        );
    }

    #[test]
    fn full_request() {
        let request = translate(json!({
            "model": "gemini-2.5-pro",
            "messages": [
                {"role": "developer", "content": "You are terse."},
                {"role": "user", "content": "Weather?"}
            ],
            "tools": [{"type": "function", "function": {"name": "weather", "parameters": {"type": "object", "properties": {}}}}],
            "tool_choice": "auto",
            "temperature": 0.2,
            "max_completion_tokens": 256,
            "reasoning_effort": "medium",
            "response_format": {"type": "text"},
            "stream": true,
            "stream_options": {"include_usage": true},
            "user": "u-1", "metadata": {"k": "v"}, "store": false, "parallel_tool_calls": true,
            "service_tier": "auto", "prompt_cache_key": "k", "safety_identifier": "s",
            "logit_bias": {}, "functions": [], "audio": null, "modalities": ["text"]
        }))
        .unwrap();
        assert_eq!(
            request.body,
            json!({
                "contents": [{"role": "user", "parts": [{"text": "Weather?"}]}],
                "systemInstruction": {"parts": [{"text": "You are terse."}]},
                "tools": [{"functionDeclarations": [{"name": "weather", "parametersJsonSchema": {"type": "object", "properties": {}}}]}],
                "toolConfig": {"functionCallingConfig": {"mode": "AUTO"}},
                "generationConfig": {"temperature": 0.2, "maxOutputTokens": 256, "thinkingConfig": {"thinkingBudget": 8192}}
            })
        );
        assert!(request.stream);
        assert!(request.include_usage);
    }

    #[test]
    fn reasoning_effort_is_said_for_the_routed_model() {
        let body = json!({"model": "gemini-3-flash-preview", "messages": [{"role": "user", "content": "x"}], "reasoning_effort": "none"});
        assert_eq!(
            translate(body.clone()).unwrap().body["generationConfig"],
            json!({"thinkingConfig": {"thinkingLevel": "MINIMAL"}})
        );
        let mut aliased = body;
        aliased["model"] = json!("fast");
        assert_eq!(
            translate(aliased.clone()).unwrap().body["generationConfig"],
            json!({"thinkingConfig": {"thinkingBudget": 0}}),
            "an alias the translator cannot place gets a budget"
        );
        assert_eq!(
            chat_request_to_gemini(&aliased, "gemini-3.1-pro-preview")
                .unwrap()
                .body["generationConfig"],
            json!({"thinkingConfig": {"thinkingLevel": "LOW"}})
        );
    }

    #[test]
    fn stream_without_usage() {
        let request =
            translate(json!({"messages": [{"role": "user", "content": "x"}], "stream": true}))
                .unwrap();
        assert!(request.stream);
        assert!(!request.include_usage);
        let request = translate(json!({"messages": [{"role": "user", "content": "x"}], "stream": true, "stream_options": {"include_usage": false, "include_obfuscation": false}})).unwrap();
        assert!(!request.include_usage);
    }

    #[test]
    fn unknown_argument_is_unrecognized() {
        let err = translate(json!({"messages": [{"role": "user", "content": "x"}], "top_k": 3}))
            .unwrap_err();
        assert_eq!(err.message, "Unrecognized request argument supplied: top_k");
        assert_eq!(err.param, None);
    }

    #[test]
    fn unsupported_features_are_rejected_by_name() {
        for (key, value) in [
            ("logit_bias", json!({"50256": -100})),
            ("audio", json!({"voice": "alloy", "format": "wav"})),
            ("functions", json!([{"name": "f"}])),
            ("function_call", json!("auto")),
            ("prediction", json!({"type": "content", "content": "x"})),
            ("web_search_options", json!({})),
        ] {
            let mut body = json!({"messages": [{"role": "user", "content": "x"}]});
            body[key] = value.clone();
            let result = translate(body);
            if key == "web_search_options" {
                assert!(result.is_ok(), "empty {key} is accepted");
                continue;
            }
            let err = result.unwrap_err();
            assert_eq!(err.param.as_deref(), Some(key));
            assert_eq!(
                err.message,
                format!("Unsupported parameter: '{key}' is not supported with this model.")
            );
        }
        let err = translate(json!({"messages": [{"role": "user", "content": "x"}], "modalities": ["text", "audio"]})).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("modalities[1]"));
    }

    #[test]
    fn body_and_stream_errors() {
        assert_eq!(
            translate(json!([])).unwrap_err().message,
            "The request body must be a JSON object."
        );
        assert_eq!(
            translate(json!({})).unwrap_err().param.as_deref(),
            Some("messages")
        );
        let cases = [
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": "yes"}),
                "stream",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream_options": {"include_usage": true}}),
                "stream_options",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": true, "stream_options": {"include_usage": 1}}),
                "stream_options.include_usage",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "stream": true, "stream_options": "x"}),
                "stream_options",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "modalities": "text"}),
                "modalities",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "temperature": "x"}),
                "temperature",
            ),
            (
                json!({"messages": [{"role": "user", "content": "x"}], "tools": 1}),
                "tools",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(
                translate(body.clone()).unwrap_err().param.as_deref(),
                Some(param),
                "{body}"
            );
        }
    }
}
