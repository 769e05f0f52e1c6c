//! A Gemini error response → OpenAI's error body
//! `{"error": {"message", "type", "param", "code"}}`.
//!
//! Gemini sends `{"error": {"code", "message", "status", "details"}}` (streams
//! may wrap it in a one-element array). Google's message is kept; nothing else
//! of the upstream body is echoed, and a body that is not such JSON gets a
//! generic message. `type`/`code` follow what OpenAI itself returns:
//!
//! | Google status (or HTTP status)              | type                  | code                  |
//! |---------------------------------------------|-----------------------|-----------------------|
//! | UNAUTHENTICATED (401), or a 400 whose details say API_KEY_INVALID | invalid_request_error | invalid_api_key |
//! | PERMISSION_DENIED (403)                     | invalid_request_error | null (OpenAI's 403s are typed so too) |
//! | NOT_FOUND (404)                             | invalid_request_error | model_not_found       |
//! | RESOURCE_EXHAUSTED (429)                    | requests              | rate_limit_exceeded   |
//! | INTERNAL, UNAVAILABLE, DEADLINE_EXCEEDED, UNKNOWN, DATA_LOSS (5xx) | server_error | null |
//! | anything else (INVALID_ARGUMENT, FAILED_PRECONDITION, ...) | invalid_request_error | null |

use serde_json::{Value, json};

/// A Gemini error body + HTTP status → OpenAI error body.
pub fn gemini_error_to_openai(status: u16, gemini_body: &[u8]) -> Value {
    let parsed: Value = serde_json::from_slice(gemini_body).unwrap_or(Value::Null);
    let error = match &parsed {
        Value::Array(items) => items.first().map_or(&Value::Null, |item| &item["error"]),
        other => &other["error"],
    };
    let message = match error["message"].as_str() {
        Some(message) if !message.trim().is_empty() => message.to_owned(),
        _ => format!("The upstream model provider returned an error (HTTP {status})."),
    };
    let google_status = error["status"].as_str().unwrap_or_default();
    let key_invalid = error["details"]
        .as_array()
        .is_some_and(|details| details.iter().any(|d| d["reason"] == "API_KEY_INVALID"));
    let (kind, code) = classify(status, google_status, key_invalid);
    json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
}

fn classify(
    status: u16,
    google_status: &str,
    key_invalid: bool,
) -> (&'static str, Option<&'static str>) {
    const INVALID: &str = "invalid_request_error";
    if key_invalid {
        return (INVALID, Some("invalid_api_key"));
    }
    match (google_status, status) {
        ("UNAUTHENTICATED", _) | ("", 401) => (INVALID, Some("invalid_api_key")),
        ("PERMISSION_DENIED", _) | ("", 403) => (INVALID, None),
        ("NOT_FOUND", _) | ("", 404) => (INVALID, Some("model_not_found")),
        ("RESOURCE_EXHAUSTED", _) | ("", 429) => ("requests", Some("rate_limit_exceeded")),
        ("INTERNAL" | "UNAVAILABLE" | "DEADLINE_EXCEEDED" | "UNKNOWN" | "DATA_LOSS", _) => {
            ("server_error", None)
        }
        ("", 500..) => ("server_error", None),
        _ => (INVALID, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn google(code: u16, status: &str, message: &str) -> Vec<u8> {
        json!({"error": {"code": code, "message": message, "status": status, "details": [{"@type": "x", "secret": "y"}]}})
            .to_string()
            .into_bytes()
    }

    fn openai(message: &str, kind: &str, code: Option<&str>) -> Value {
        json!({"error": {"message": message, "type": kind, "param": null, "code": code}})
    }

    #[test]
    fn google_statuses() {
        let cases = [
            (400, "INVALID_ARGUMENT", "invalid_request_error", None),
            (400, "FAILED_PRECONDITION", "invalid_request_error", None),
            (
                401,
                "UNAUTHENTICATED",
                "invalid_request_error",
                Some("invalid_api_key"),
            ),
            (403, "PERMISSION_DENIED", "invalid_request_error", None),
            (
                404,
                "NOT_FOUND",
                "invalid_request_error",
                Some("model_not_found"),
            ),
            (
                429,
                "RESOURCE_EXHAUSTED",
                "requests",
                Some("rate_limit_exceeded"),
            ),
            (500, "INTERNAL", "server_error", None),
            (503, "UNAVAILABLE", "server_error", None),
            (504, "DEADLINE_EXCEEDED", "server_error", None),
        ];
        for (code, status, kind, openai_code) in cases {
            assert_eq!(
                gemini_error_to_openai(code, &google(code, status, "msg")),
                openai("msg", kind, openai_code),
                "{status}"
            );
        }
    }

    #[test]
    fn invalid_api_key_reported_as_400() {
        let body = json!({"error": {"code": 400, "message": "API key not valid. Please pass a valid API key.", "status": "INVALID_ARGUMENT",
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "API_KEY_INVALID"}]}});
        assert_eq!(
            gemini_error_to_openai(400, body.to_string().as_bytes()),
            openai(
                "API key not valid. Please pass a valid API key.",
                "invalid_request_error",
                Some("invalid_api_key")
            )
        );
    }

    #[test]
    fn stream_style_array_body() {
        let body = format!(
            "[{}]",
            String::from_utf8(google(429, "RESOURCE_EXHAUSTED", "Quota exceeded")).unwrap()
        );
        assert_eq!(
            gemini_error_to_openai(429, body.as_bytes()),
            openai("Quota exceeded", "requests", Some("rate_limit_exceeded"))
        );
    }

    #[test]
    fn non_json_bodies_fall_back_on_http_status() {
        let cases = [
            (502, "server_error", None),
            (401, "invalid_request_error", Some("invalid_api_key")),
            (404, "invalid_request_error", Some("model_not_found")),
            (429, "requests", Some("rate_limit_exceeded")),
            (400, "invalid_request_error", None),
        ];
        for (status, kind, code) in cases {
            let message = format!("The upstream model provider returned an error (HTTP {status}).");
            assert_eq!(
                gemini_error_to_openai(status, b"<html>Bad Gateway</html>"),
                openai(&message, kind, code)
            );
        }
        for body in [
            &b""[..],
            b"[]",
            b"{}",
            b"{\"error\": \"x\"}",
            b"{\"error\": {\"message\": \"  \"}}",
            b"\xff\xfe",
        ] {
            assert_eq!(
                gemini_error_to_openai(500, body)["error"]["message"],
                json!("The upstream model provider returned an error (HTTP 500).")
            );
        }
    }
}
