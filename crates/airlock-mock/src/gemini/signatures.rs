//! Thought signatures, by Google's rules
//! (ai.google.dev/gemini-api/docs/thought-signatures):
//!
//! * Issuing: Gemini 3 models sign every answer: a function call (the first
//!   call part of a step, the only one the simulator makes) carries the
//!   signature, and an answer without a call carries it on its last part; a
//!   stream delivers that last signature in a final chunk whose part is an
//!   empty text. Gemini 2.5 models sign only when they thought, on the first
//!   part of the answer. Signatures are opaque base64 drawn from the
//!   conversation, so the same request is signed the same way.
//! * Validation (Gemini 3 text models only; 2.5 and the image models are
//!   lenient): only the current turn is checked. It starts at the most
//!   recent user content with standard content (a part that is not a
//!   `functionResponse`); in every model content after it that calls
//!   functions, the first `functionCall` part must carry its
//!   `thoughtSignature` (or `thought_signature`; an empty value is proto3's
//!   "not set"). Otherwise: 400 "Function call is missing a thought_signature
//!   in functionCall parts. …, function call `default_api:NAME` , position N.
//!   …", N being the content's 1-based position. Any non-empty value passes,
//!   so Google's documented stand-ins (`skip_thought_signature_validator`,
//!   `context_engineering_is_the_way_to_go`) do too.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::prng::Digest;

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

/// A signature for candidate `index` of the conversation `digest` hashes.
pub fn issue(digest: Digest, index: u64) -> String {
    let d = digest.part("thought-signature").number(index);
    let bytes: Vec<u8> = (0..6u64)
        .flat_map(|k| d.number(k).value().to_le_bytes())
        .collect();
    STANDARD.encode(bytes)
}

fn is_user(content: &Value) -> bool {
    matches!(content["role"].as_str(), None | Some("" | "user"))
}

/// Whether a user content starts a turn: it has a part other than a
/// function response.
fn starts_turn(content: &Value) -> bool {
    is_user(content)
        && list(&content["parts"])
            .iter()
            .any(|p| p.get("functionResponse").is_none())
}

fn signed(part: &Value) -> bool {
    part["thoughtSignature"]
        .as_str()
        .is_some_and(|s| !s.is_empty())
}

/// The current turn's unsigned step, as Google's message, if any
/// (`contents` normalised to camelCase).
pub fn check(contents: &Value) -> Result<(), String> {
    let contents = list(contents);
    let start = contents.iter().rposition(starts_turn).unwrap_or(0);
    for (i, content) in contents.iter().enumerate().skip(start) {
        if content["role"].as_str() != Some("model") {
            continue;
        }
        let first_call = list(&content["parts"])
            .iter()
            .find(|p| p.get("functionCall").is_some());
        if let Some(part) = first_call.filter(|p| !signed(p)) {
            let name = part["functionCall"]["name"].as_str().unwrap_or("");
            return Err(missing_message(name, i + 1));
        }
    }
    Ok(())
}

/// Google's words for a missing signature.
pub fn missing_message(name: &str, position: usize) -> String {
    format!(
        "Function call is missing a thought_signature in functionCall parts. This is required for tools to work correctly, \
         and missing thought_signature may lead to degraded model performance. Additional data, function call \
         `default_api:{name}` , position {position}. Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user(text: &str) -> Value {
        json!({"role": "user", "parts": [{"text": text}]})
    }
    fn call(name: &str, signature: Option<&str>) -> Value {
        let mut part = json!({"functionCall": {"name": name, "args": {}}});
        if let Some(s) = signature {
            part["thoughtSignature"] = json!(s);
        }
        json!({"role": "model", "parts": [part]})
    }
    fn result(name: &str) -> Value {
        json!({"role": "user", "parts": [{"functionResponse": {"name": name, "response": {}}}]})
    }

    #[test]
    fn every_step_of_the_current_turn_needs_its_signature() {
        let ok = json!([
            user("go"),
            call("a", Some("c2ln")),
            result("a"),
            call("b", Some("c2ln")),
            result("b")
        ]);
        assert_eq!(check(&ok), Ok(()));
        let second_unsigned = json!([
            user("go"),
            call("a", Some("c2ln")),
            result("a"),
            call("b", None),
            result("b")
        ]);
        assert_eq!(check(&second_unsigned), Err(missing_message("b", 4)));
        let first_unsigned = json!([user("go"), call("a", None), result("a")]);
        let message = check(&first_unsigned).unwrap_err();
        assert!(
            message
                .starts_with("Function call is missing a thought_signature in functionCall parts.")
        );
        assert!(
            message.contains("function call `default_api:a` , position 2."),
            "{message}"
        );
        let empty = json!([user("go"), call("a", Some("")), result("a")]);
        assert!(check(&empty).is_err(), "an empty signature is not set");
    }

    #[test]
    fn earlier_turns_and_later_parallel_calls_are_not_checked() {
        let earlier = json!([
            user("go"),
            call("a", None),
            result("a"),
            json!({"role": "model", "parts": [{"text": "done"}]}),
            user("again")
        ]);
        assert_eq!(check(&earlier), Ok(()));
        let parallel = json!([user("go"), {"role": "model", "parts": [
            {"functionCall": {"name": "a"}, "thoughtSignature": "c2ln"},
            {"functionCall": {"name": "b"}}
        ]}, result("a")]);
        assert_eq!(check(&parallel), Ok(()));
        let text_first = json!([user("go"), {"role": "model", "parts": [{"text": "Let me look."}, {"functionCall": {"name": "a"}}]}]);
        assert_eq!(check(&text_first), Err(missing_message("a", 2)));
        let stand_in = json!([
            user("go"),
            call("a", Some("skip_thought_signature_validator")),
            result("a")
        ]);
        assert_eq!(check(&stand_in), Ok(()));
        let no_user_text = json!([call("a", None), result("a")]);
        assert_eq!(check(&no_user_text), Err(missing_message("a", 1)));
        assert_eq!(check(&json!([])), Ok(()));
    }

    #[test]
    fn issued_signatures_are_stable_base64() {
        let d = Digest::new(1).part("c");
        assert_eq!(issue(d, 0), issue(d, 0));
        assert_ne!(issue(d, 0), issue(d, 1));
        assert_eq!(STANDARD.decode(issue(d, 0)).unwrap().len(), 48);
    }
}
