//! A receipt: the log entry written for one request. It names who asked
//! what of which model and what came back, by SHA-256 digests only: no
//! prompt, answer or end user is ever in the log.

use serde::{Deserialize, Serialize};

/// One request's receipt, as the JSON bytes hashed into its leaf. Fields
/// are written in this order, and the bytes are kept as written: a
/// verifier hashes the bytes, never a re-serialisation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiptEntry {
    /// The receipt's id (`rcpt_…`), as the answer's `x-airlock-receipt`.
    pub receipt: String,
    /// The request's id, as its `x-request-id`.
    pub request: String,
    /// When the request arrived (RFC 3339, UTC).
    pub time: String,
    pub project: Option<String>,
    /// The project key's id (never the key).
    pub key: Option<String>,
    /// `openai` or `gemini`: the protocol the client spoke.
    pub surface: String,
    /// What the client asked for, e.g. `images.generate`.
    pub operation: String,
    /// The model the client named, and the one the provider was asked for.
    pub model: Option<String>,
    pub upstream_model: Option<String>,
    pub provider: Option<String>,
    pub status: u16,
    /// `ok`, `error`, `client_disconnected`, …
    pub outcome: String,
    pub streamed: bool,
    /// `hit` when the answer came from the response cache.
    pub cache: Option<String>,
    /// SHA-256 (hex) of the request body as the client sent it.
    pub request_sha256: Option<String>,
    /// SHA-256 (hex) of the answer: a complete body as sent; a stream's
    /// generated text, concatenated.
    pub response_sha256: Option<String>,
    /// SHA-256 (hex) of each generated image or audio object, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub media_sha256: Vec<String>,
    pub usage: ReceiptUsage,
    pub cost_usd: Option<f64>,
    /// SHA-256 (hex) of the project's constitution when it declares one.
    pub policy_sha256: Option<String>,
    /// How the answer fared against the constitution's rules and judge,
    /// when it was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checks: Option<ReceiptChecks>,
}

/// The constitution's verdict on one request: `passed`, `flagged` (a
/// rule that only flags was broken) or `blocked` (the answer was
/// refused), and each rule's and principle's result.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiptChecks {
    pub verdict: String,
    pub results: Vec<CheckResult>,
}

/// One rule's (or judged principle's) result: `pass`, `violated`, or
/// `unchecked` (the judge gave no verdict on it), and its action.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CheckResult {
    pub rule: String,
    pub result: String,
    pub action: String,
}

/// Token counts as the provider reported them (or Airlock estimated).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ReceiptUsage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub estimated: bool,
}

impl ReceiptEntry {
    /// The bytes of the log entry.
    pub fn to_bytes(&self) -> Vec<u8> {
        // A struct of strings and numbers always serialises.
        serde_json::to_vec(self).unwrap_or_default()
    }
}
