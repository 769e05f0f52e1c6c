//! What one Gemini candidate says, in OpenAI terms; shared by the complete
//! and the streamed response translations.
//!
//! * Text parts are concatenated; thought parts (`thought: true`) are left out.
//! * `functionCall` parts become OpenAI tool calls. The id is Gemini's own
//!   when it sends one, otherwise `call_` + 24 hex digits derived from the
//!   completion id, the candidate index and the call's position, so the same
//!   response always yields the same ids. A `thoughtSignature` on the part is
//!   returned as `extra_content.google.thought_signature` (Google's
//!   OpenAI-compatibility convention), which the request translation restores.
//! * A signature on another part (Gemini 3 signs the last part of an answer
//!   without calls, 2.5 its first part) is the message's own
//!   `extra_content.google.thought_signature`, as Google's layer sends it.
//! * Other part kinds (executable code, inline media) have no chat.completion
//!   representation and are skipped.
//! * Finish reasons: MAX_TOKENS → `length`; safety, recitation, blocklist,
//!   prohibited content, SPII, image safety and model armor → `content_filter`;
//!   otherwise `tool_calls` when the candidate called tools, else `stop`.

use serde_json::{Value, json};

use super::logprobs;

pub(crate) struct CandidateOutput {
    /// The `index` of the OpenAI choice.
    pub index: u64,
    /// Visible text, `None` when the candidate has none.
    pub text: Option<String>,
    /// OpenAI tool-call objects (`id`, `type`, `function`, maybe `extra_content`).
    pub tool_calls: Vec<Value>,
    /// Gemini's `finishReason`, when this candidate (or chunk of it) has one.
    pub finish_reason: Option<String>,
    /// OpenAI `logprobs` object for the choice, or null.
    pub logprobs: Value,
    /// The thought signature of a part that is not a function call.
    pub signature: Option<String>,
}

/// Reads `candidate`, found at `position` in `candidates`. `first_call` is the
/// number of tool calls this candidate already produced earlier in a stream.
pub(crate) fn read(
    candidate: &Value,
    position: usize,
    completion_id: &str,
    first_call: usize,
) -> CandidateOutput {
    let index = index(candidate, position);
    let mut text: Option<String> = None;
    let mut tool_calls = Vec::new();
    let mut signature = None;
    let parts = candidate
        .pointer("/content/parts")
        .and_then(Value::as_array);
    for part in parts.into_iter().flatten() {
        if part.get("functionCall").is_none() && signature.is_none() {
            signature = part["thoughtSignature"]
                .as_str()
                .filter(|s| !s.is_empty())
                .map(str::to_owned);
        }
        if part["thought"].as_bool() == Some(true) {
            continue;
        }
        if let Some(piece) = part["text"].as_str() {
            text.get_or_insert_default().push_str(piece);
        } else if let Some(call) = part.get("functionCall").filter(|c| c.is_object()) {
            let ordinal = first_call + tool_calls.len();
            tool_calls.push(tool_call(call, part, completion_id, index, ordinal));
        }
    }
    CandidateOutput {
        index,
        text: text.filter(|t| !t.is_empty()),
        tool_calls,
        finish_reason: candidate["finishReason"].as_str().map(str::to_owned),
        logprobs: logprobs::openai_logprobs(candidate.get("logprobsResult")),
        signature,
    }
}

/// The candidate's `index`; Gemini omits it when 0, so the position in
/// `candidates` stands in when it is missing.
pub(crate) fn index(candidate: &Value, position: usize) -> u64 {
    candidate["index"].as_u64().unwrap_or(position as u64)
}

fn tool_call(
    call: &Value,
    part: &Value,
    completion_id: &str,
    candidate: u64,
    ordinal: usize,
) -> Value {
    let id = match call["id"].as_str() {
        Some(id) if !id.is_empty() => id.to_owned(),
        _ => tool_call_id(completion_id, candidate, ordinal),
    };
    let args = match call.get("args") {
        Some(args @ Value::Object(_)) => args.to_string(),
        _ => "{}".to_owned(),
    };
    let mut tool_call = json!({
        "id": id,
        "type": "function",
        "function": {"name": call["name"].as_str().unwrap_or_default(), "arguments": args},
    });
    if let Some(signature) = part["thoughtSignature"].as_str() {
        tool_call["extra_content"] = json!({"google": {"thought_signature": signature}});
    }
    tool_call
}

/// `call_` + 24 hex digits, a function of (completion id, candidate, ordinal):
/// FNV-1a of those, spread over 96 bits by MurmurHash3's 64-bit finalizer.
fn tool_call_id(completion_id: &str, candidate: u64, ordinal: usize) -> String {
    let seed = format!("{completion_id}\u{0}{candidate}\u{0}{ordinal}");
    let hash = seed.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    let high = fmix64(hash);
    let low = fmix64(hash ^ 0x9e37_79b9_7f4a_7c15);
    format!("call_{high:016x}{:08x}", low >> 32)
}

fn fmix64(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// Gemini `finishReason` → OpenAI `finish_reason`.
pub(crate) fn finish_reason(gemini: &str, called_tools: bool) -> &'static str {
    match gemini {
        "MAX_TOKENS" => "length",
        "SAFETY"
        | "RECITATION"
        | "BLOCKLIST"
        | "PROHIBITED_CONTENT"
        | "SPII"
        | "IMAGE_SAFETY"
        | "IMAGE_PROHIBITED_CONTENT"
        | "IMAGE_RECITATION"
        | "MODEL_ARMOR" => "content_filter",
        _ if called_tools => "tool_calls",
        _ => "stop",
    }
}

/// Whether the response was blocked before any candidate was produced.
pub(crate) fn prompt_blocked(response: &Value) -> bool {
    response
        .pointer("/promptFeedback/blockReason")
        .is_some_and(|r| !r.is_null())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_concatenated_and_thoughts_skipped() {
        let candidate = json!({"content": {"role": "model", "parts": [
            {"text": "thinking...", "thought": true},
            {"text": "Hello, "},
            {"text": "world"},
            {"executableCode": {"code": "print(1)"}}
        ]}, "finishReason": "STOP", "index": 0});
        let out = read(&candidate, 0, "chatcmpl-1", 0);
        assert_eq!(out.index, 0);
        assert_eq!(out.text.as_deref(), Some("Hello, world"));
        assert!(out.tool_calls.is_empty());
        assert_eq!(out.finish_reason.as_deref(), Some("STOP"));
        assert_eq!(out.logprobs, Value::Null);
    }

    #[test]
    fn empty_text_counts_as_no_text() {
        let candidate =
            json!({"content": {"parts": [{"text": ""}, {"text": "", "thoughtSignature": "c2ln"}]}});
        let out = read(&candidate, 0, "id", 0);
        assert_eq!(out.text, None);
        assert_eq!(out.signature.as_deref(), Some("c2ln"));
    }

    #[test]
    fn the_first_signature_outside_calls_is_the_message_signature() {
        let candidate = json!({"content": {"parts": [
            {"functionCall": {"name": "f"}, "thoughtSignature": "Y2FsbA=="},
            {"text": "thinking", "thought": true, "thoughtSignature": "Zmlyc3Q="},
            {"text": "Done.", "thoughtSignature": "bGFzdA=="}
        ]}});
        let out = read(&candidate, 0, "id", 0);
        assert_eq!(out.signature.as_deref(), Some("Zmlyc3Q="));
        assert_eq!(out.text.as_deref(), Some("Done."));
        assert_eq!(
            read(&json!({"content": {"parts": [{"text": "x"}]}}), 0, "id", 0).signature,
            None
        );
    }

    #[test]
    fn function_calls_keep_or_derive_ids() {
        let candidate = json!({"content": {"parts": [
            {"functionCall": {"id": "gem-1", "name": "weather", "args": {"city": "Paris"}}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "time"}}
        ]}});
        let out = read(&candidate, 3, "chatcmpl-1", 0);
        assert_eq!(out.index, 3, "missing index falls back to the position");
        assert_eq!(out.text, None);
        assert_eq!(
            out.tool_calls[0],
            json!({"id": "gem-1", "type": "function", "function": {"name": "weather", "arguments": "{\"city\":\"Paris\"}"},
                   "extra_content": {"google": {"thought_signature": "c2ln"}}})
        );
        let derived = out.tool_calls[1]["id"].as_str().unwrap();
        assert_eq!(derived, tool_call_id("chatcmpl-1", 3, 1));
        assert!(derived.starts_with("call_") && derived.len() == 29);
        assert!(derived[5..].chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(
            out.tool_calls[1]["function"],
            json!({"name": "time", "arguments": "{}"})
        );
    }

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        assert_eq!(tool_call_id("a", 0, 0), tool_call_id("a", 0, 0));
        assert_ne!(tool_call_id("a", 0, 0), tool_call_id("a", 0, 1));
        assert_ne!(tool_call_id("a", 0, 1), tool_call_id("a", 1, 0));
        assert_ne!(tool_call_id("a", 0, 0), tool_call_id("b", 0, 0));
    }

    #[test]
    fn odd_candidates_do_not_panic() {
        for candidate in [
            json!(null),
            json!("x"),
            json!({}),
            json!({"content": {"parts": "x"}}),
            json!({"content": {"parts": [null, 1, {"text": 5}, {"functionCall": "x"}, {"functionCall": {"args": [1]}}]}, "index": -1, "finishReason": 7}),
        ] {
            let out = read(&candidate, 0, "id", 0);
            assert_eq!(out.index, 0);
            assert_eq!(out.text, None);
            assert_eq!(out.finish_reason, None);
            assert!(out.tool_calls.len() <= 1);
        }
        let out = read(
            &json!({"content": {"parts": [{"functionCall": {"args": [1]}}]}}),
            0,
            "id",
            0,
        );
        assert_eq!(
            out.tool_calls[0]["function"],
            json!({"name": "", "arguments": "{}"})
        );
    }

    #[test]
    fn finish_reasons() {
        assert_eq!(finish_reason("STOP", false), "stop");
        assert_eq!(finish_reason("STOP", true), "tool_calls");
        assert_eq!(finish_reason("MAX_TOKENS", true), "length");
        for reason in [
            "SAFETY",
            "RECITATION",
            "BLOCKLIST",
            "PROHIBITED_CONTENT",
            "SPII",
            "IMAGE_SAFETY",
        ] {
            assert_eq!(finish_reason(reason, false), "content_filter");
            assert_eq!(finish_reason(reason, true), "content_filter");
        }
        for reason in [
            "OTHER",
            "LANGUAGE",
            "MALFORMED_FUNCTION_CALL",
            "FINISH_REASON_UNSPECIFIED",
            "SOMETHING_NEW",
        ] {
            assert_eq!(finish_reason(reason, false), "stop");
        }
    }

    #[test]
    fn prompt_block_detection() {
        assert!(prompt_blocked(
            &json!({"promptFeedback": {"blockReason": "SAFETY"}})
        ));
        assert!(!prompt_blocked(
            &json!({"promptFeedback": {"blockReason": null}})
        ));
        assert!(!prompt_blocked(&json!({"promptFeedback": {}})));
        assert!(!prompt_blocked(&json!([])));
    }
}
