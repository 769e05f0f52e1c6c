//! Reading a Gemini answer that should carry an image, speech or a
//! transcript, for an OpenAI client; and [`MediaAnswerError`], what the
//! client gets when it does not.
//!
//! Only the first candidate is read (these requests ask for one). Thought
//! parts (`thought: true`, such as the draft images Gemini 3 image models
//! think with) are never the answer. An answer without the media the client
//! asked for is OpenAI's 400, never an empty success:
//!
//! | Gemini says | OpenAI error `code` |
//! |-------------|---------------------|
//! | `promptFeedback.blockReason` (prompt blocked, no candidate) | `moderation_blocked` |
//! | `finishReason` SAFETY, BLOCKLIST, PROHIBITED_CONTENT, SPII, IMAGE_SAFETY, IMAGE_PROHIBITED_CONTENT, RECITATION, IMAGE_RECITATION, MODEL_ARMOR | `moderation_blocked` |
//! | anything else without the media (NO_IMAGE, IMAGE_OTHER, OTHER, MAX_TOKENS, text only) | null |
//!
//! The message names Gemini's reason and quotes the start of any text the
//! model gave instead (it usually says why), so the caller can act on it.
//! OpenAI's image errors are typed `image_generation_user_error`; the
//! others `invalid_request_error`.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Value, json};

/// Why a Gemini answer cannot be given to the OpenAI client as asked.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MediaAnswerError {
    /// The model answered without the media (blocked, or text only): the
    /// body of OpenAI's error, to be sent with HTTP 400.
    #[error("the model answered without the media asked for")]
    Refused(Value),
    /// The answer is not what Gemini sends (base64 that does not decode,
    /// audio of a format that cannot be wrapped): the provider's fault,
    /// a 502.
    #[error("the provider's answer could not be read: {0}")]
    Unreadable(String),
}

/// What the client asked for, naming it in messages and typing the error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Medium {
    Image,
    Speech,
    Transcript,
}

impl Medium {
    fn noun(self) -> &'static str {
        match self {
            Medium::Image => "an image",
            Medium::Speech => "audio",
            Medium::Transcript => "a transcript",
        }
    }

    fn error_type(self) -> &'static str {
        match self {
            Medium::Image => "image_generation_user_error",
            Medium::Speech | Medium::Transcript => "invalid_request_error",
        }
    }
}

/// Finish reasons that mean a safety or policy filter stopped the answer.
const BLOCKING_FINISHES: [&str; 9] = [
    "SAFETY",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
    "IMAGE_PROHIBITED_CONTENT",
    "RECITATION",
    "IMAGE_RECITATION",
    "MODEL_ARMOR",
];

/// The most of the model's own text quoted in an error.
const QUOTED_CHARS: usize = 300;

/// The answer's first candidate.
pub(crate) fn first_candidate(answer: &Value) -> Option<&Value> {
    answer["candidates"].as_array()?.first()
}

/// The parts of a candidate that are not thoughts.
pub(crate) fn answer_parts(candidate: &Value) -> impl Iterator<Item = &Value> {
    candidate
        .pointer("/content/parts")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|part| part["thought"].as_bool() != Some(true))
}

/// The `inlineData` (MIME type, base64 data) of the answer parts whose MIME
/// type starts with `prefix` (`"image/"`, `"audio/"`).
pub(crate) fn inline_media<'a>(
    candidate: &'a Value,
    prefix: &'a str,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    answer_parts(candidate).filter_map(move |part| {
        let data = part.get("inlineData")?;
        let mime = data["mimeType"].as_str()?;
        let starts = mime
            .get(..prefix.len())
            .is_some_and(|p| p.eq_ignore_ascii_case(prefix));
        Some((mime, data["data"].as_str()?)).filter(|_| starts)
    })
}

/// The answer's text: its non-thought text parts, joined.
pub(crate) fn answer_text(candidate: &Value) -> String {
    answer_parts(candidate)
        .filter_map(|part| part["text"].as_str())
        .collect()
}

/// Gemini's base64 (standard alphabet; padding optional; the URL-safe
/// alphabet accepted too, as proto3 JSON allows it).
pub(crate) fn decode_base64(data: &str) -> Result<Vec<u8>, MediaAnswerError> {
    let config =
        GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
    GeneralPurpose::new(&alphabet::STANDARD, config)
        .decode(data)
        .or_else(|_| GeneralPurpose::new(&alphabet::URL_SAFE, config).decode(data))
        .map_err(|_| MediaAnswerError::Unreadable("inline data that is not base64".into()))
}

/// The 400 for an answer without the `medium` asked for (see the module
/// documentation).
pub(crate) fn refusal(answer: &Value, medium: Medium) -> MediaAnswerError {
    let noun = medium.noun();
    let blocked = |message: String| {
        MediaAnswerError::Refused(json!({"error": {
            "message": message, "type": medium.error_type(), "param": null, "code": "moderation_blocked"
        }}))
    };
    if let Some(reason) = answer
        .pointer("/promptFeedback/blockReason")
        .and_then(Value::as_str)
    {
        return blocked(format!(
            "Your request was rejected by the safety system: Gemini blocked the prompt ({reason})."
        ));
    }
    let candidate = first_candidate(answer);
    let finish = candidate
        .and_then(|c| c["finishReason"].as_str())
        .unwrap_or("none given");
    let said = candidate.map(answer_text).unwrap_or_default();
    let said = said.trim();
    let quote = match said.char_indices().nth(QUOTED_CHARS) {
        _ if said.is_empty() => String::new(),
        Some((cut, _)) => format!(" The model said: \"{}…\"", &said[..cut]),
        None => format!(" The model said: \"{said}\""),
    };
    if BLOCKING_FINISHES.contains(&finish) {
        return blocked(format!(
            "Your request was rejected by the safety system: Gemini stopped before giving {noun} (finish reason {finish}).{quote}"
        ));
    }
    MediaAnswerError::Refused(json!({"error": {
        "message": format!("The model answered without {noun} (finish reason {finish}).{quote}"),
        "type": medium.error_type(), "param": null, "code": null
    }}))
}

/// The `tokenCount` of `modality` in a `ModalityTokenCount` list.
pub(crate) fn modality_tokens(details: &Value, modality: &str) -> Option<u64> {
    details
        .as_array()?
        .iter()
        .filter(|d| d["modality"] == modality)
        .filter_map(|d| d["tokenCount"].as_u64())
        .reduce(u64::saturating_add)
}

/// Gemini's prompt, output (candidates and thoughts) and total tokens.
pub(crate) fn token_counts(metadata: &Value) -> (u64, u64, u64) {
    let count = |key: &str| metadata[key].as_u64().unwrap_or(0);
    let input = count("promptTokenCount");
    let output = count("candidatesTokenCount").saturating_add(count("thoughtsTokenCount"));
    let total = metadata["totalTokenCount"]
        .as_u64()
        .unwrap_or(input.saturating_add(output));
    (input, output, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(error: MediaAnswerError) -> Value {
        match error {
            MediaAnswerError::Refused(body) => body,
            other => panic!("not a refusal: {other:?}"),
        }
    }

    #[test]
    fn a_blocked_prompt_is_moderation_blocked() {
        let answer = json!({"promptFeedback": {"blockReason": "PROHIBITED_CONTENT"}});
        assert_eq!(
            body(refusal(&answer, Medium::Image)),
            json!({"error": {
                "message": "Your request was rejected by the safety system: Gemini blocked the prompt (PROHIBITED_CONTENT).",
                "type": "image_generation_user_error", "param": null, "code": "moderation_blocked"
            }})
        );
    }

    #[test]
    fn a_safety_finish_is_moderation_blocked_for_every_blocking_reason() {
        for reason in BLOCKING_FINISHES {
            let answer = json!({"candidates": [{"finishReason": reason}]});
            let error = body(refusal(&answer, Medium::Speech));
            assert_eq!(error["error"]["code"], "moderation_blocked", "{reason}");
            assert_eq!(error["error"]["type"], "invalid_request_error");
            assert_eq!(
                error["error"]["message"],
                format!(
                    "Your request was rejected by the safety system: Gemini stopped before giving audio (finish reason {reason})."
                )
            );
        }
    }

    #[test]
    fn other_answers_name_the_finish_reason_and_quote_the_model() {
        let answer = json!({"candidates": [{"finishReason": "NO_IMAGE", "content": {"parts": [
            {"text": "thinking", "thought": true},
            {"text": "  I can only draw cats. "}
        ]}}]});
        assert_eq!(
            body(refusal(&answer, Medium::Image)),
            json!({"error": {
                "message": "The model answered without an image (finish reason NO_IMAGE). The model said: \"I can only draw cats.\"",
                "type": "image_generation_user_error", "param": null, "code": null
            }})
        );
        let empty = body(refusal(&json!({}), Medium::Transcript));
        assert_eq!(
            empty["error"]["message"],
            "The model answered without a transcript (finish reason none given)."
        );
    }

    #[test]
    fn long_model_text_is_cut() {
        let text = "é".repeat(QUOTED_CHARS + 10);
        let answer = json!({"candidates": [{"finishReason": "STOP", "content": {"parts": [{"text": text}]}}]});
        let message = body(refusal(&answer, Medium::Image))["error"]["message"]
            .as_str()
            .unwrap()
            .to_owned();
        assert!(message.ends_with(&format!("{}…\"", "é".repeat(QUOTED_CHARS))));
    }

    #[test]
    fn inline_media_skips_thoughts_and_other_types() {
        let candidate = json!({"content": {"parts": [
            {"inlineData": {"mimeType": "image/png", "data": "draft"}, "thought": true},
            {"text": "here"},
            {"inlineData": {"mimeType": "audio/L16;rate=24000", "data": "sound"}},
            {"inlineData": {"mimeType": "IMAGE/PNG", "data": "final"}}
        ]}});
        let images: Vec<_> = inline_media(&candidate, "image/").collect();
        assert_eq!(images, vec![("IMAGE/PNG", "final")]);
        assert_eq!(answer_text(&candidate), "here");
    }

    #[test]
    fn base64_in_either_alphabet_with_or_without_padding() {
        assert_eq!(decode_base64("/+8=").unwrap(), vec![0xFF, 0xEF]);
        assert_eq!(decode_base64("/+8").unwrap(), vec![0xFF, 0xEF]);
        assert_eq!(decode_base64("_-8").unwrap(), vec![0xFF, 0xEF]);
        assert_eq!(
            decode_base64("not base64!"),
            Err(MediaAnswerError::Unreadable(
                "inline data that is not base64".into()
            ))
        );
    }

    #[test]
    fn token_counts_add_thoughts_to_output() {
        let metadata = json!({"promptTokenCount": 10, "candidatesTokenCount": 1290, "thoughtsTokenCount": 100});
        assert_eq!(token_counts(&metadata), (10, 1390, 1400));
        let metadata =
            json!({"promptTokenCount": 10, "candidatesTokenCount": 5, "totalTokenCount": 20});
        assert_eq!(token_counts(&metadata), (10, 5, 20));
        let details = json!([{"modality": "TEXT", "tokenCount": 3}, {"modality": "IMAGE", "tokenCount": 258}]);
        assert_eq!(modality_tokens(&details, "IMAGE"), Some(258));
        assert_eq!(modality_tokens(&details, "AUDIO"), None);
    }
}
