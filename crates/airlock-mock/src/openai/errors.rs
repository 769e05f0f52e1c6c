//! OpenAI error bodies: `{"error": {"message", "type", "param", "code"}}`.

use http::{HeaderValue, StatusCode};
use serde_json::json;

use crate::delivery::Payload;
use crate::keys::mask_openai_key;

pub const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// An OpenAI API error as a value, before it becomes a response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
    pub kind: &'static str,
    pub param: Option<String>,
    pub code: Option<&'static str>,
}

impl ApiError {
    /// A 400 `invalid_request_error`.
    pub fn invalid(
        message: impl Into<String>,
        param: Option<&str>,
        code: Option<&'static str>,
    ) -> Self {
        Self {
            status: 400,
            message: message.into(),
            kind: "invalid_request_error",
            param: param.map(str::to_owned),
            code,
        }
    }

    /// A parameter the model (or endpoint) does not take, as OpenAI names
    /// one: `Unknown parameter: 'response_format'.`.
    pub fn unknown_parameter(param: &str) -> Self {
        Self::invalid(
            format!("Unknown parameter: '{param}'."),
            Some(param),
            Some("unknown_parameter"),
        )
    }

    /// A model OpenAI does not have: 404 `model_not_found`.
    pub fn model_not_found(model: &str) -> Self {
        Self {
            status: 404,
            message: format!("The model `{model}` does not exist or you do not have access to it."),
            kind: "invalid_request_error",
            param: None,
            code: Some("model_not_found"),
        }
    }

    /// A string parameter over its length limit.
    pub fn too_long(param: &str, max: usize, got: usize) -> Self {
        Self::invalid(
            format!(
                "Invalid '{param}': string too long. Expected a string with maximum length {max}, but got a string with length {got} instead."
            ),
            Some(param),
            Some("string_above_max_length"),
        )
    }

    pub fn payload(&self) -> Payload {
        let body = json!({
            "error": { "message": self.message, "type": self.kind, "param": self.param, "code": self.code }
        });
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        Payload::json(
            status,
            CONTENT_TYPE,
            serde_json::to_vec_pretty(&body).unwrap_or_default(),
        )
    }
}

pub fn invalid_request(message: &str, param: Option<&str>, code: Option<&'static str>) -> Payload {
    ApiError::invalid(message, param, code).payload()
}

fn error(status: u16, message: &str, kind: &'static str, code: Option<&'static str>) -> Payload {
    ApiError {
        status,
        message: message.to_owned(),
        kind,
        param: None,
        code,
    }
    .payload()
}

pub fn missing_key() -> Payload {
    error(
        401,
        "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth \
         (i.e. Authorization: Bearer YOUR_KEY), or as the password field (with blank username) if you're accessing the API \
         from your browser and are prompted for a username and password. You can obtain an API key from \
         https://platform.openai.com/account/api-keys.",
        "invalid_request_error",
        None,
    )
}

pub fn invalid_key(key: &str) -> Payload {
    error(
        401,
        &format!(
            "Incorrect API key provided: {}. You can find your API key at https://platform.openai.com/account/api-keys.",
            mask_openai_key(key)
        ),
        "invalid_request_error",
        Some("invalid_api_key"),
    )
}

pub fn permission_denied() -> Payload {
    error(
        403,
        "You have insufficient permissions for this operation. Missing scopes: model.request. Check that you have the \
         correct role in your organization (Reader, Writer, Owner) and project (Member, Owner), and if you're using a \
         restricted key, that it has the necessary scopes.",
        "invalid_request_error",
        None,
    )
}

fn rate_limit_body(retry_after_secs: u64) -> Payload {
    error(
        429,
        &format!(
            "Rate limit reached in organization org-airlockmock on requests per min (RPM): Limit 3, Used 3, Requested 1. \
             Please try again in {retry_after_secs}s. Visit https://platform.openai.com/account/rate-limits to learn more."
        ),
        "requests",
        Some("rate_limit_exceeded"),
    )
}

pub fn rate_limited(retry_after_secs: u64) -> Payload {
    rate_limit_body(retry_after_secs)
        .with_header("retry-after", HeaderValue::from(retry_after_secs))
        .with_header("x-ratelimit-limit-requests", HeaderValue::from_static("3"))
        .with_header(
            "x-ratelimit-remaining-requests",
            HeaderValue::from_static("0"),
        )
}

pub fn model_not_found(model: &str) -> Payload {
    ApiError::model_not_found(model).payload()
}

/// A known model used on an endpoint it does not serve.
pub fn wrong_endpoint(endpoint: &str) -> Payload {
    ApiError {
        status: 404,
        message: format!(
            "This is not a chat model and thus not supported in the {endpoint} endpoint. Did you mean to use v1/completions?"
        ),
        kind: "invalid_request_error",
        param: Some("model".to_owned()),
        code: None,
    }
    .payload()
}

pub fn invalid_url(method: &str, path: &str) -> Payload {
    error(
        404,
        &format!("Invalid URL ({method} {path})"),
        "invalid_request_error",
        None,
    )
}

pub fn invalid_method(method: &str, path: &str) -> Payload {
    error(
        405,
        &format!("Invalid method for URL ({method} {path})"),
        "invalid_request_error",
        None,
    )
}

pub fn unparsable_body() -> Payload {
    invalid_request(
        "We could not parse the JSON body of your request. (HINT: This likely means you aren't using your HTTP library \
         correctly. The OpenAI API expects a JSON payload, but what was sent was not valid JSON. If you have trouble \
         figuring out how to fix this, please contact us through our help center at help.openai.com.)",
        None,
        None,
    )
}

pub fn too_large() -> Payload {
    error(
        413,
        "Request too large. The request body exceeds the maximum size.",
        "invalid_request_error",
        None,
    )
}

/// The error OpenAI answers with a given HTTP status.
pub fn for_status(code: u16) -> Payload {
    match code {
        401 => error(
            401,
            "Incorrect API key provided.",
            "invalid_request_error",
            Some("invalid_api_key"),
        ),
        403 => permission_denied(),
        404 => error(404, "Not found.", "invalid_request_error", None),
        429 => rate_limit_body(1),
        500 => error(
            500,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
        502 => error(502, "Bad gateway.", "server_error", None),
        503 => error(
            503,
            "The server is overloaded or not ready yet.",
            "server_error",
            None,
        ),
        504 => error(504, "Gateway timeout.", "server_error", None),
        c if c < 500 => error(c, "Bad request.", "invalid_request_error", None),
        _ => error(
            code,
            "The server had an error while processing your request. Sorry about that!",
            "server_error",
            None,
        ),
    }
}

/// A Responses API id (`GET`/`DELETE /v1/responses/{id}`, its
/// `input_items`) naming no stored response.
pub fn response_not_found(id: &str) -> Payload {
    error(
        404,
        &format!("Response with id '{id}' not found."),
        "invalid_request_error",
        None,
    )
}

/// A `previous_response_id` naming no stored response.
pub fn previous_response_not_found(id: &str) -> Payload {
    ApiError {
        status: 400,
        message: format!("Previous response with id '{id}' not found."),
        kind: "invalid_request_error",
        param: Some("previous_response_id".to_owned()),
        code: Some("previous_response_not_found"),
    }
    .payload()
}

/// A `conversation` naming no conversation (the simulator keeps none).
pub fn conversation_not_found(id: &str) -> Payload {
    ApiError {
        status: 404,
        message: format!("Conversation with id '{id}' not found."),
        kind: "invalid_request_error",
        param: Some("conversation".to_owned()),
        code: None,
    }
    .payload()
}

/// A body that is not the `multipart/form-data` an upload endpoint takes.
pub fn unsupported_content_type(declared: Option<&str>) -> Payload {
    let declared = declared.unwrap_or("");
    let essence = declared.split(';').next().unwrap_or("").trim();
    invalid_request(
        &format!(
            "Unsupported content type: '{essence}'. This API method only accepts 'multipart/form-data' requests, but you \
             specified the header 'Content-Type: {declared}'. Please try again with a supported content type."
        ),
        None,
        Some("unsupported_content_type"),
    )
}

/// A `multipart/form-data` body that cannot be parsed.
pub fn malformed_form(reason: &str) -> Payload {
    invalid_request(
        &format!("Could not parse multipart form: {reason}"),
        None,
        None,
    )
}

/// An upload over an endpoint's size limit (the transcription endpoint's
/// words, with the bytes read when the limit was hit).
pub fn content_too_large(limit: u64) -> Payload {
    error(
        413,
        &format!(
            "Maximum content size limit ({limit}) exceeded ({} bytes read)",
            limit.saturating_add(1)
        ),
        "server_error",
        None,
    )
}
