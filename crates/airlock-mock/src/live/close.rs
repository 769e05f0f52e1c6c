//! How Gemini Live ends a session with an error: a close frame whose code
//! follows the error's canonical status — INVALID_ARGUMENT → 1007;
//! PERMISSION_DENIED, NOT_FOUND, UNAUTHENTICATED and FAILED_PRECONDITION →
//! 1008; anything else (RESOURCE_EXHAUSTED, INTERNAL, UNAVAILABLE, ABORTED,
//! ...) → 1011 — and whose reason is Google's message, cut to 123 bytes.

use crate::gate::Refusal;
use crate::gemini::errors;
use crate::keys::KeyVerdict;
use crate::socket::{INTERNAL_ERROR, INVALID_PAYLOAD, POLICY_VIOLATION, TOO_BIG};

/// Google's generic INVALID_ARGUMENT message, which Live gives for
/// messages out of protocol order.
pub const INVALID_ARGUMENT: &str = "Request contains an invalid argument.";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Close {
    pub code: u16,
    pub reason: String,
}

/// A 1007 (INVALID_ARGUMENT) close.
pub fn invalid(reason: impl Into<String>) -> Close {
    Close {
        code: INVALID_PAYLOAD,
        reason: reason.into(),
    }
}

/// A client message that is not JSON, in the words of Google's JSON parser
/// as the HTTP surface words it.
pub fn malformed(error: &serde_json::Error) -> Close {
    let mut reason = error.to_string();
    if let Some(first) = reason.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    invalid(format!("Invalid JSON payload received. {reason}."))
}

pub fn model_not_found(model: &str, version: &str) -> Close {
    Close {
        code: POLICY_VIOLATION,
        reason: errors::model_not_found_message(model, version, "bidiGenerateContent"),
    }
}

/// A `sessionResumption.handle` this simulator never issued.
pub fn unknown_handle() -> Close {
    for_status(404)
}

pub fn too_large(limit: usize) -> Close {
    Close {
        code: TOO_BIG,
        reason: format!("Request payload size exceeds the limit: {limit} bytes."),
    }
}

/// The end of a session announced by `goAway`.
pub fn aborted() -> Close {
    for_status(409)
}

/// A refused session, after the upgrade. `method` is the full RPC name
/// (`google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent`).
pub fn for_refusal(refusal: &Refusal, method: &str) -> Close {
    match refusal {
        Refusal::BadOverride(message) => invalid(message.clone()),
        Refusal::Status(code) => for_status(*code),
        Refusal::RateLimited { .. } | Refusal::Key(KeyVerdict::Limited) => Close {
            code: INTERNAL_ERROR,
            reason: errors::quota_message(),
        },
        Refusal::Key(KeyVerdict::Invalid) => invalid(errors::INVALID_KEY),
        Refusal::Key(KeyVerdict::Denied) => Close {
            code: POLICY_VIOLATION,
            reason: errors::blocked_message(method),
        },
        Refusal::Key(KeyVerdict::Missing | KeyVerdict::Valid) => Close {
            code: POLICY_VIOLATION,
            reason: errors::UNREGISTERED_CALLER.to_owned(),
        },
    }
}

/// The close for an error Google answers over HTTP with `code`.
fn for_status(code: u16) -> Close {
    let (status, message) = errors::status_words(code);
    let code = match status {
        "INVALID_ARGUMENT" => INVALID_PAYLOAD,
        "PERMISSION_DENIED" | "NOT_FOUND" | "UNAUTHENTICATED" | "FAILED_PRECONDITION" => {
            POLICY_VIOLATION
        }
        _ => INTERNAL_ERROR,
    };
    Close {
        code,
        reason: message.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_close_codes() {
        assert_eq!(for_refusal(&Refusal::Status(400), "m").code, 1007);
        assert_eq!(for_refusal(&Refusal::Status(403), "m").code, 1008);
        assert_eq!(for_refusal(&Refusal::Status(404), "m").code, 1008);
        assert_eq!(for_refusal(&Refusal::Status(503), "m").code, 1011);
        let bad = for_refusal(&Refusal::Key(KeyVerdict::Invalid), "m");
        assert_eq!(
            (bad.code, bad.reason.as_str()),
            (1007, "API key not valid. Please pass a valid API key.")
        );
        let denied = for_refusal(&Refusal::Key(KeyVerdict::Denied), "x.BidiGenerateContent");
        assert!(
            denied
                .reason
                .contains("method x.BidiGenerateContent are blocked")
        );
        assert_eq!(
            for_refusal(
                &Refusal::RateLimited {
                    retry_after_secs: 1
                },
                "m"
            )
            .code,
            1011
        );
        assert_eq!(
            aborted(),
            Close {
                code: 1011,
                reason: "The operation was aborted.".into()
            }
        );
    }
}
