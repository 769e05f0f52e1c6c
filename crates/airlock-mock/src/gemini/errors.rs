//! Google API error bodies: `{"error": {"code", "message", "status",
//! "details"?}}`, pretty-printed as Google sends them.

use http::StatusCode;
use serde_json::{Value, json};

use crate::delivery::Payload;

pub const CONTENT_TYPE: &str = "application/json; charset=UTF-8";
const SERVICE: &str = "generativelanguage.googleapis.com";

/// A complete Google error response.
pub fn error(code: u16, status: &str, message: &str, details: Vec<Value>) -> Payload {
    let mut error = json!({ "code": code, "message": message, "status": status });
    if !details.is_empty() {
        error["details"] = Value::Array(details);
    }
    let body = serde_json::to_vec_pretty(&json!({ "error": error })).unwrap_or_default();
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    Payload::json(status, CONTENT_TYPE, body)
}

pub fn invalid_argument(message: &str) -> Payload {
    error(400, "INVALID_ARGUMENT", message, Vec::new())
}

/// One problem found in a request body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The offending field's path in proto names, when there is one.
    pub field: Option<String>,
    pub description: String,
}

/// 400 for a payload that does not parse into the request message, with a
/// `google.rpc.BadRequest` detail listing every violation.
pub fn invalid_payload(violations: &[Violation]) -> Payload {
    let message = violations
        .iter()
        .map(|v| v.description.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let field_violations: Vec<Value> = violations
        .iter()
        .map(|v| match &v.field {
            Some(f) => json!({ "field": f, "description": v.description }),
            None => json!({ "description": v.description }),
        })
        .collect();
    error(
        400,
        "INVALID_ARGUMENT",
        &message,
        vec![
            json!({ "@type": "type.googleapis.com/google.rpc.BadRequest", "fieldViolations": field_violations }),
        ],
    )
}

/// 400 for requests that parse but break a rule, in Google's
/// `* Request.field: reason` form.
pub fn failed_checks(problems: &[String]) -> Payload {
    let message: String = problems.iter().map(|p| format!("* {p}\n")).collect();
    invalid_argument(&message)
}

pub fn model_not_found(model: &str, version: &str, method: &str) -> Payload {
    error(
        404,
        "NOT_FOUND",
        &model_not_found_message(model, version, method),
        Vec::new(),
    )
}

/// Google's words for a model that does not exist or does not serve `method`.
pub fn model_not_found_message(model: &str, version: &str, method: &str) -> String {
    format!(
        "models/{model} is not found for API version {version}, or is not supported for {method}. \
         Call ListModels to see the list of available models and their supported methods."
    )
}

pub fn unknown_url() -> Payload {
    error(
        404,
        "NOT_FOUND",
        "Requested entity was not found.",
        Vec::new(),
    )
}

pub fn payload_too_large(limit: usize) -> Payload {
    invalid_argument(&format!(
        "Request payload size exceeds the limit: {limit} bytes."
    ))
}

pub const UNREGISTERED_CALLER: &str = "Method doesn't allow unregistered callers (callers without established identity). \
     Please use API Key or other form of API consumer identity to call this API.";

pub const INVALID_KEY: &str = "API key not valid. Please pass a valid API key.";

pub fn unregistered_caller() -> Payload {
    error(403, "PERMISSION_DENIED", UNREGISTERED_CALLER, Vec::new())
}

pub fn invalid_key() -> Payload {
    let message = INVALID_KEY;
    error(
        400,
        "INVALID_ARGUMENT",
        message,
        vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                "reason": "API_KEY_INVALID",
                "domain": "googleapis.com",
                "metadata": { "service": SERVICE }
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.LocalizedMessage",
                "locale": "en-US",
                "message": message
            }),
        ],
    )
}

/// The RPC a REST path maps to, e.g. `GenerativeService.GenerateContent`.
fn rpc_method(path: &str) -> (String, String) {
    let mut segments = path.trim_start_matches('/').split('/');
    let version = segments.next().unwrap_or("v1beta").to_owned();
    let method = match path.rsplit_once(':') {
        Some((_, verb)) if !verb.contains('/') => {
            let mut chars = verb.chars();
            let upper: String = chars
                .next()
                .map(|c| c.to_ascii_uppercase())
                .into_iter()
                .chain(chars)
                .collect();
            format!("GenerativeService.{upper}")
        }
        _ if path.trim_end_matches('/').ends_with("/models") => {
            "ModelService.ListModels".to_owned()
        }
        _ => "ModelService.GetModel".to_owned(),
    };
    (version, method)
}

/// Google's words for a key that may not call `full_method`
/// (`google.ai.generativelanguage.v1beta.GenerativeService.GenerateContent`).
pub fn blocked_message(full_method: &str) -> String {
    format!("Requests to this API {SERVICE} method {full_method} are blocked.")
}

pub fn blocked_key(path: &str) -> Payload {
    let (version, method) = rpc_method(path);
    let full = format!("google.ai.generativelanguage.{version}.{method}");
    error(
        403,
        "PERMISSION_DENIED",
        &blocked_message(&full),
        vec![json!({
            "@type": "type.googleapis.com/google.rpc.ErrorInfo",
            "reason": "API_KEY_SERVICE_BLOCKED",
            "domain": "googleapis.com",
            "metadata": { "service": SERVICE, "methodName": full, "consumer": "projects/000000000000" }
        })],
    )
}

const QUOTA_HELP: &str = "https://ai.google.dev/gemini-api/docs/rate-limits";

/// Google's words for an exhausted quota.
pub fn quota_message() -> String {
    format!(
        "You exceeded your current quota, please check your plan and billing details. \
         For more information on this error, head to: {QUOTA_HELP}."
    )
}

/// Google's 429: the delay is in the body's `RetryInfo` (`retryDelay`) and
/// nowhere else.
pub fn quota_exhausted(retry_after_secs: u64) -> Payload {
    let help = QUOTA_HELP;
    error(
        429,
        "RESOURCE_EXHAUSTED",
        &quota_message(),
        vec![
            json!({
                "@type": "type.googleapis.com/google.rpc.QuotaFailure",
                "violations": [{
                    "quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                    "quotaId": "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
                    "quotaDimensions": { "location": "global" },
                    "quotaValue": "10"
                }]
            }),
            json!({
                "@type": "type.googleapis.com/google.rpc.Help",
                "links": [{ "description": "Learn more about Gemini API quotas", "url": help }]
            }),
            json!({ "@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": format!("{retry_after_secs}s") }),
        ],
    )
}

/// The error Google answers with a given HTTP status.
pub fn for_status(code: u16) -> Payload {
    let (status, message) = status_words(code);
    error(code, status, message, Vec::new())
}

/// The canonical status name and message Google gives an HTTP status.
pub fn status_words(code: u16) -> (&'static str, &'static str) {
    match code {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission"),
        404 => ("NOT_FOUND", "Requested entity was not found."),
        409 => ("ABORTED", "The operation was aborted."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "Resource has been exhausted (e.g. check quota).",
        ),
        499 => ("CANCELLED", "The operation was cancelled."),
        500 => (
            "INTERNAL",
            "An internal error has occurred. Please retry or report in https://developers.generativeai.google/guide/troubleshooting",
        ),
        501 => ("UNIMPLEMENTED", "Method not found."),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        c if c < 500 => ("FAILED_PRECONDITION", "Precondition check failed."),
        _ => ("UNKNOWN", "An unknown error occurred."),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Body;

    fn body(p: &Payload) -> Value {
        match &p.body {
            Body::Whole { bytes, .. } => serde_json::from_slice(bytes).unwrap(),
            Body::Stream { .. } => panic!("errors are whole"),
        }
    }

    #[test]
    fn shapes() {
        let p = invalid_key();
        assert_eq!(p.status, 400);
        let v = body(&p);
        assert_eq!(v["error"]["status"], "INVALID_ARGUMENT");
        assert_eq!(v["error"]["details"][0]["reason"], "API_KEY_INVALID");
        let p = quota_exhausted(7);
        // Google says the delay in the body alone, never in a Retry-After header.
        assert!(p.header("retry-after").is_none());
        assert_eq!(body(&p)["error"]["details"][2]["retryDelay"], "7s");
        assert_eq!(body(&for_status(503))["error"]["status"], "UNAVAILABLE");
        assert!(body(&failed_checks(&["A.b: c".into()]))["error"]["message"] == "* A.b: c\n");
    }

    #[test]
    fn blocked_key_names_the_rpc() {
        let v = body(&blocked_key(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent",
        ));
        assert!(v["error"]["message"].as_str().unwrap().contains(
            "google.ai.generativelanguage.v1beta.GenerativeService.StreamGenerateContent are blocked"
        ));
        let v = body(&blocked_key("/v1/models"));
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("v1.ModelService.ListModels")
        );
    }
}
