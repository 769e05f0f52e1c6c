//! OpenAI message `content` (a string or an array of typed parts) → Gemini
//! `parts` for user turns, or plain texts for the roles that only carry text
//! (system, developer, assistant, tool).
//!
//! Empty texts are dropped: Gemini rejects a request with an empty text part.
//! Part fields Gemini has no use for (`detail`, `prompt_cache_breakpoint`) are
//! ignored.

use serde_json::{Value, json};

use super::media;
use super::params::{Params, TranslateError};

/// Which part types a text-only role accepts besides `text`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum TextParts {
    /// `text` only (system, developer, tool).
    Text,
    /// `text` and `refusal` (assistant); a refusal is kept as text.
    TextOrRefusal,
}

/// The content of a user message → Gemini parts.
pub(crate) fn user_parts(content: &Value, param: &str) -> Result<Vec<Value>, TranslateError> {
    match content {
        Value::String(text) => Ok(text_part(text).into_iter().collect()),
        Value::Array(items) => {
            let mut parts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let part = Params::of(item, format!("{param}[{i}]"))?;
                parts.extend(user_part(&part)?);
            }
            Ok(parts)
        }
        other => Err(TranslateError::invalid_type(
            param,
            "a string or an array",
            other,
        )),
    }
}

fn user_part(part: &Params<'_>) -> Result<Option<Value>, TranslateError> {
    const TYPES: [&str; 4] = ["text", "image_url", "input_audio", "file"];
    match part.required_string("type")? {
        "text" => Ok(text_part(part.required_string("text")?)),
        "image_url" => {
            let param = part.path("image_url");
            let url = match part.required("image_url")? {
                Value::String(url) => url.as_str(),
                other => Params::of(other, param.clone())?.required_string("url")?,
            };
            media::url_part(url, &format!("{param}.url")).map(Some)
        }
        "input_audio" => {
            let audio = Params::of(part.required("input_audio")?, part.path("input_audio"))?;
            let data = audio.required_string("data")?;
            let format = audio.required_string("format")?;
            media::audio_part(data, format, &audio.path("format")).map(Some)
        }
        "file" => {
            let file = Params::of(part.required("file")?, part.path("file"))?;
            if file.get("file_id").is_some() {
                return Err(TranslateError::new(
                    "Uploaded file references ('file_id') are not supported with this model; send the file inline as 'file_data'.",
                    Some(&file.path("file_id")),
                ));
            }
            let data = file.required_string("file_data")?;
            media::file_part(data, file.string("filename")?, &file.path("file_data")).map(Some)
        }
        other => Err(TranslateError::invalid_value(
            &part.path("type"),
            other,
            &TYPES,
        )),
    }
}

/// The content of a text-only role → its non-empty texts, in order.
pub(crate) fn texts(
    content: &Value,
    param: &str,
    kinds: TextParts,
) -> Result<Vec<String>, TranslateError> {
    match content {
        Value::String(text) => Ok(non_empty(text).into_iter().collect()),
        Value::Array(items) => {
            let mut texts = Vec::with_capacity(items.len());
            for (i, item) in items.iter().enumerate() {
                let part = Params::of(item, format!("{param}[{i}]"))?;
                let text = match (part.required_string("type")?, kinds) {
                    ("text", _) => part.required_string("text")?,
                    ("refusal", TextParts::TextOrRefusal) => part.required_string("refusal")?,
                    (other, TextParts::Text) => {
                        return Err(TranslateError::invalid_value(
                            &part.path("type"),
                            other,
                            &["text"],
                        ));
                    }
                    (other, TextParts::TextOrRefusal) => {
                        return Err(TranslateError::invalid_value(
                            &part.path("type"),
                            other,
                            &["text", "refusal"],
                        ));
                    }
                };
                texts.extend(non_empty(text));
            }
            Ok(texts)
        }
        other => Err(TranslateError::invalid_type(
            param,
            "a string or an array",
            other,
        )),
    }
}

fn non_empty(text: &str) -> Option<String> {
    (!text.is_empty()).then(|| text.to_owned())
}

/// A Gemini text part, or nothing for an empty text.
pub(crate) fn text_part(text: &str) -> Option<Value> {
    (!text.is_empty()).then(|| json!({"text": text}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_content() {
        assert_eq!(
            user_parts(&json!("hi"), "c").unwrap(),
            vec![json!({"text": "hi"})]
        );
        assert_eq!(user_parts(&json!(""), "c").unwrap(), Vec::<Value>::new());
    }

    #[test]
    fn mixed_user_parts() {
        let content = json!([
            {"type": "text", "text": "What is this?"},
            {"type": "image_url", "image_url": {"url": "data:image/webp;base64,UklG", "detail": "high"}},
            {"type": "image_url", "image_url": {"url": "https://x.test/a.gif"}, "prompt_cache_breakpoint": {"mode": "explicit"}},
            {"type": "input_audio", "input_audio": {"data": "SUQz", "format": "mp3"}},
            {"type": "file", "file": {"file_data": "data:application/pdf;base64,JVBER", "filename": "a.pdf"}},
            {"type": "text", "text": ""}
        ]);
        assert_eq!(
            user_parts(&content, "messages[0].content").unwrap(),
            vec![
                json!({"text": "What is this?"}),
                json!({"inlineData": {"mimeType": "image/webp", "data": "UklG"}}),
                json!({"fileData": {"mimeType": "image/gif", "fileUri": "https://x.test/a.gif"}}),
                json!({"inlineData": {"mimeType": "audio/mp3", "data": "SUQz"}}),
                json!({"inlineData": {"mimeType": "application/pdf", "data": "JVBER"}}),
            ]
        );
    }

    #[test]
    fn image_url_as_bare_string_is_accepted() {
        let content = json!([{"type": "image_url", "image_url": "https://x.test/a.png"}]);
        assert_eq!(
            user_parts(&content, "c").unwrap(),
            vec![json!({"fileData": {"mimeType": "image/png", "fileUri": "https://x.test/a.png"}})]
        );
    }

    #[test]
    fn user_part_errors_name_the_param() {
        let cases = [
            (
                json!(5),
                "messages[1].content",
                "Invalid type for 'messages[1].content': expected a string or an array, but got an integer instead.",
            ),
            (
                json!(["x"]),
                "messages[1].content[0]",
                "Invalid type for 'messages[1].content[0]': expected an object, but got a string instead.",
            ),
            (
                json!([{"text": "x"}]),
                "messages[1].content[0].type",
                "Missing required parameter: 'messages[1].content[0].type'.",
            ),
            (
                json!([{"type": "video", "video": {}}]),
                "messages[1].content[0].type",
                "Invalid value: 'video'. Supported values are: 'text', 'image_url', 'input_audio', and 'file'.",
            ),
            (
                json!([{"type": "image_url", "image_url": {}}]),
                "messages[1].content[0].image_url.url",
                "Missing required parameter: 'messages[1].content[0].image_url.url'.",
            ),
            (
                json!([{"type": "input_audio", "input_audio": {"data": "x"}}]),
                "messages[1].content[0].input_audio.format",
                "Missing required parameter: 'messages[1].content[0].input_audio.format'.",
            ),
            (
                json!([{"type": "file", "file": {"file_id": "file-1"}}]),
                "messages[1].content[0].file.file_id",
                "Uploaded file references ('file_id') are not supported with this model; send the file inline as 'file_data'.",
            ),
        ];
        for (content, param, message) in cases {
            let err = user_parts(&content, "messages[1].content").unwrap_err();
            assert_eq!(err.param.as_deref(), Some(param));
            assert_eq!(err.message, message);
        }
    }

    #[test]
    fn text_only_roles() {
        let content = json!([{"type": "text", "text": "a"}, {"type": "text", "text": ""}, {"type": "refusal", "refusal": "no"}]);
        assert_eq!(
            texts(&content, "c", TextParts::TextOrRefusal).unwrap(),
            vec!["a", "no"]
        );
        let err = texts(&content, "messages[0].content", TextParts::Text).unwrap_err();
        assert_eq!(err.param.as_deref(), Some("messages[0].content[2].type"));
        assert_eq!(
            texts(&json!("sys"), "c", TextParts::Text).unwrap(),
            vec!["sys"]
        );
        let err = texts(
            &json!([{"type": "image_url", "image_url": {"url": "x"}}]),
            "c",
            TextParts::TextOrRefusal,
        )
        .unwrap_err();
        assert_eq!(
            err.message,
            "Invalid value: 'image_url'. Supported values are: 'text' and 'refusal'."
        );
    }
}
