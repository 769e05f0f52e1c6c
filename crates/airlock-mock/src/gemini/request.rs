//! Reading a parsed (normalised) `GenerateContentRequest`: Google's semantic
//! checks, the prompt's token count (inline audio by its length, see
//! [`super::listening`]), and the provider-neutral [`Ask`].

use serde_json::Value;

use super::listening;
use crate::prng::Digest;
use crate::reply::{Ask, Format, ToolMode, ToolSpec};
use crate::tokens::{Modality, Tally, Tokens};

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

const DATA_FIELDS: [&str; 9] = [
    "text",
    "inlineData",
    "fileData",
    "functionCall",
    "functionResponse",
    "executableCode",
    "codeExecutionResult",
    "toolCall",
    "toolResponse",
];

/// Whether a part carries data. A part holding only a thought signature
/// (with an empty text) counts: Gemini 3 streams its last signature in such
/// a part and google-genai's chat helper sends it back in the history.
fn has_data(part: &Value) -> bool {
    let signed = part["thoughtSignature"]
        .as_str()
        .is_some_and(|s| !s.is_empty());
    signed
        || DATA_FIELDS.iter().any(|f| match part.get(f) {
            Some(Value::String(s)) => !s.is_empty(),
            Some(v) => !v.is_null(),
            None => false,
        })
}

/// Problems with one `Content`, as `* {path}: reason` lines' bodies.
pub fn content_problems(content: &Value, path: &str, problems: &mut Vec<String>) {
    let parts = list(&content["parts"]);
    if parts.is_empty() {
        problems.push(format!("{path}.parts: contents.parts must not be empty."));
    }
    for (j, part) in parts.iter().enumerate() {
        if !has_data(part) {
            problems.push(format!(
                "{path}.parts[{j}].data: required oneof field 'data' must have one initialized field"
            ));
        }
    }
}

fn valid_function_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.len() <= 64
        && chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':' | '-'))
}

/// Why Google would refuse this request.
#[derive(Debug, PartialEq, Eq)]
pub enum Refusal {
    /// A content's role is not user, model or function.
    Role,
    /// Inline data of a type Gemini does not read (a Word document, a ZIP).
    UnsupportedMime(String),
    /// `* field: reason` problems.
    Checks(Vec<String>),
}

/// Google's semantic checks of a `GenerateContentRequest` found at `name`
/// (e.g. `GenerateContentRequest`).
pub fn check(req: &Value, name: &str) -> Result<(), Refusal> {
    let contents = list(&req["contents"]);
    if contents.iter().any(|c| {
        !matches!(
            c["role"].as_str(),
            None | Some("" | "user" | "model" | "function")
        )
    }) {
        return Err(Refusal::Role);
    }
    let inline_types = contents
        .iter()
        .flat_map(|content| list(&content["parts"]))
        .filter_map(|part| part["inlineData"]["mimeType"].as_str());
    for mime in inline_types {
        if !reads_inline(mime) {
            return Err(Refusal::UnsupportedMime(mime.to_string()));
        }
    }
    let mut problems = Vec::new();
    if contents.is_empty() {
        problems.push(format!("{name}.contents: contents is not specified"));
    }
    for (i, content) in contents.iter().enumerate() {
        content_problems(content, &format!("{name}.contents[{i}]"), &mut problems);
    }
    for (i, tool) in list(&req["tools"]).iter().enumerate() {
        for (j, decl) in list(&tool["functionDeclarations"]).iter().enumerate() {
            if !valid_function_name(decl["name"].as_str().unwrap_or("")) {
                problems.push(format!(
                    "{name}.tools[{i}].function_declarations[{j}].name: Invalid function name. Must start with a letter or an underscore. Must be a-z, A-Z, 0-9, or contain underscores, dots, colons and dashes, with a maximum length of 64."
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(Refusal::Checks(problems))
    }
}

/// Whether Gemini reads inline data of this type: pictures, sound, video,
/// PDF and the text formats its document understanding lists.
fn reads_inline(mime: &str) -> bool {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    ["image/", "audio/", "video/", "text/"]
        .iter()
        .any(|top| essence.starts_with(top))
        || matches!(
            essence.as_str(),
            "application/pdf" | "application/x-javascript" | "application/x-python"
        )
}

/// Prompt tokens by modality.
pub type PromptTokens = Tally;

/// Reads one `Content` into `sink`: its role, then each part's text, media
/// and structured values.
fn read_content(content: &Value, sink: &mut impl Tokens) {
    sink.mark(content["role"].as_str().unwrap_or("").as_bytes());
    for part in list(&content["parts"]) {
        sink.mark(b"part");
        if let Some(text) = part["text"].as_str() {
            sink.text(text);
        }
        if let Some((mime, audio)) = listening::audio_of(part) {
            let ms = listening::recording(mime, &audio).duration_ms;
            sink.media_costing(Modality::Audio, &audio, listening::tokens(ms));
        } else {
            for media in ["inlineData", "fileData"] {
                if let Some(m) = part.get(media) {
                    let mime = m["mimeType"].as_str().unwrap_or("");
                    let identity = m["data"].as_str().or_else(|| m["fileUri"].as_str());
                    sink.media(
                        Modality::of_mime(mime),
                        identity.unwrap_or_default().as_bytes(),
                    );
                }
            }
        }
        for structured in [
            "functionCall",
            "functionResponse",
            "executableCode",
            "codeExecutionResult",
            "toolCall",
            "toolResponse",
        ] {
            if let Some(v) = part.get(structured) {
                sink.json(v);
            }
        }
    }
}

/// Tokens of the contents alone (countTokens with `contents`).
pub fn contents_tokens(contents: &Value) -> PromptTokens {
    let mut t = Tally::default();
    list(contents).iter().for_each(|c| read_content(c, &mut t));
    t
}

/// Reads a whole request's prompt into `sink` in the order the model reads
/// it: the system instruction, the tool declarations, then the contents.
pub fn read_prompt(req: &Value, sink: &mut impl Tokens) {
    if let Some(system) = req.get("systemInstruction") {
        sink.mark(b"systemInstruction");
        read_content(system, sink);
    }
    if let Some(tools) = req.get("tools").filter(|t| !list(t).is_empty()) {
        sink.mark(b"tools");
        sink.json(tools);
    }
    sink.mark(b"contents");
    list(&req["contents"])
        .iter()
        .for_each(|c| read_content(c, sink));
}

/// Tokens of a whole request: contents, system instruction and tools.
pub fn prompt_tokens(req: &Value) -> PromptTokens {
    let mut t = Tally::default();
    read_prompt(req, &mut t);
    t
}

/// How many candidates to generate (`candidateCount`, 1 to 8).
pub fn candidate_count(req: &Value) -> u64 {
    req["generationConfig"]["candidateCount"]
        .as_u64()
        .unwrap_or(1)
        .clamp(1, 8)
}

/// The parts of the last user turn (none without one).
pub fn last_user_parts(req: &Value) -> &[Value] {
    list(&req["contents"])
        .iter()
        .rev()
        .find(|c| matches!(c["role"].as_str(), None | Some("" | "user")))
        .map_or(&[], |c| list(&c["parts"]))
}

/// The text of the last user turn, its text parts joined by new lines.
pub fn last_user_text(req: &Value) -> String {
    last_user_parts(req)
        .iter()
        .filter_map(|p| p["text"].as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// The provider-neutral question the request asks.
pub fn ask<'r>(req: &'r Value, seed: u64, model: &str) -> Ask<'r> {
    let contents = list(&req["contents"]);
    let conversation =
        serde_json::json!([req.get("systemInstruction"), req.get("contents")]).to_string();
    let tools = list(&req["tools"])
        .iter()
        .flat_map(|t| list(&t["functionDeclarations"]))
        .map(|d| ToolSpec {
            name: d["name"].as_str().unwrap_or(""),
            schema: d
                .get("parametersJsonSchema")
                .or_else(|| d.get("parameters")),
            freeform: false,
        })
        .collect();
    let calling = &req["toolConfig"]["functionCallingConfig"];
    let mode = match calling["mode"].as_str() {
        Some("ANY") => ToolMode::Required {
            only: Some(
                list(&calling["allowedFunctionNames"])
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>(),
            )
            .filter(|names| !names.is_empty()),
        },
        Some("NONE") => ToolMode::None,
        _ => ToolMode::Auto,
    };
    let last_user_text = last_user_text(req);
    let after_tool_result = contents.last().is_some_and(|c| {
        list(&c["parts"])
            .iter()
            .any(|p| p.get("functionResponse").is_some())
    });
    let config = &req["generationConfig"];
    let schema = config
        .get("responseJsonSchema")
        .or_else(|| config.get("responseSchema"));
    let format = match (config["responseMimeType"].as_str(), schema) {
        (Some("application/json"), Some(s)) => Format::JsonSchema(s),
        (Some("application/json"), None) => Format::JsonObject,
        (Some("text/x.enum"), Some(s)) => Format::Enum(s),
        _ => Format::Text,
    };
    Ask {
        digest: Digest::new(seed).part(model).part(conversation),
        tools,
        mode,
        last_user_text,
        after_tool_result,
        format,
        max_tokens: config["maxOutputTokens"].as_u64().filter(|n| *n > 0),
        stop: list(&config["stopSequences"])
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    #[test]
    fn checks() {
        assert_eq!(
            check(&json!({}), "R"),
            Err(Refusal::Checks(vec![
                "R.contents: contents is not specified".into()
            ]))
        );
        assert_eq!(
            check(
                &json!({"contents": [{"role": "system", "parts": [{"text": "x"}]}]}),
                "R"
            ),
            Err(Refusal::Role)
        );
        assert_eq!(
            check(&json!({"contents": [{"parts": []}, {"parts": [{"text": ""}]}]}), "R"),
            Err(Refusal::Checks(vec![
                "R.contents[0].parts: contents.parts must not be empty.".into(),
                "R.contents[1].parts[0].data: required oneof field 'data' must have one initialized field".into()
            ]))
        );
        let signed_empty = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}, {"role": "model", "parts": [{"text": "y"}]}, {"role": "model", "parts": [{"text": "", "thoughtSignature": "c2ln"}]}]});
        assert_eq!(check(&signed_empty, "R"), Ok(()));
        let ok = json!({"contents": [{"role": "user", "parts": [{"text": "x"}]}, {"role": "model", "parts": [{"functionCall": {"name": "f"}}]}, {"role": "function", "parts": [{"functionResponse": {"name": "f"}}]}], "tools": [{"functionDeclarations": [{"name": "get.weather_2"}]}]});
        assert_eq!(check(&ok, "R"), Ok(()));
        let docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document";
        let word =
            json!({"contents": [{"parts": [{"inlineData": {"mimeType": docx, "data": "AAAA"}}]}]});
        assert_eq!(
            check(&word, "R"),
            Err(Refusal::UnsupportedMime(docx.into()))
        );
        for readable in [
            "application/pdf",
            "image/png",
            "audio/pcm;rate=24000",
            "text/markdown",
            "video/mp4",
        ] {
            let part = json!({"contents": [{"parts": [{"inlineData": {"mimeType": readable, "data": "AAAA"}}]}]});
            assert_eq!(check(&part, "R"), Ok(()), "{readable}");
        }
        let bad_fn = json!({"contents": [{"parts": [{"text": "x"}]}], "tools": [{"functionDeclarations": [{"name": "9lives"}]}]});
        assert!(
            matches!(check(&bad_fn, "R"), Err(Refusal::Checks(p)) if p[0].starts_with("R.tools[0].function_declarations[0].name"))
        );
    }

    #[test]
    fn tokens_by_modality() {
        let req = json!({
            "contents": [{"parts": [{"text": "abcdefgh"}, {"inlineData": {"mimeType": "image/png", "data": ""}}]}],
            "systemInstruction": {"parts": [{"text": "abcd"}]}
        });
        let t = prompt_tokens(&req);
        assert_eq!(t.total(), 3 + 258);
        assert_eq!(
            t.details(),
            json!([{"modality": "TEXT", "tokenCount": 3}, {"modality": "IMAGE", "tokenCount": 258}])
        );
        assert_eq!(contents_tokens(&req["contents"]).total(), 2 + 258);
        let second = STANDARD.encode(vec![1u8; 32000]);
        let audio = json!([{"parts": [{"inlineData": {"mimeType": "audio/pcm;rate=16000", "data": second}}]}]);
        assert_eq!(
            contents_tokens(&audio).details(),
            json!([{"modality": "AUDIO", "tokenCount": 32}]),
            "a second of audio"
        );
    }

    #[test]
    fn ask_reads_modes_and_formats() {
        let req = json!({
            "contents": [{"role": "user", "parts": [{"text": "call f"}]}, {"role": "user", "parts": [{"functionResponse": {"name": "f"}}]}],
            "tools": [{"functionDeclarations": [{"name": "f", "parameters": {"type": "OBJECT"}}, {"name": "g"}]}],
            "toolConfig": {"functionCallingConfig": {"mode": "ANY", "allowedFunctionNames": ["g"]}},
            "generationConfig": {"responseMimeType": "application/json", "maxOutputTokens": 5}
        });
        let a = ask(&req, 0, "m");
        assert_eq!(
            a.mode,
            ToolMode::Required {
                only: Some(vec!["g"])
            }
        );
        assert_eq!(a.tools.len(), 2);
        assert!(a.after_tool_result);
        assert_eq!(a.last_user_text, "");
        assert!(matches!(a.format, Format::JsonObject));
        assert_eq!(a.max_tokens, Some(5));
    }
}
