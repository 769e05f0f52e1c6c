//! The client-facing surfaces: OpenAI's protocol and Google's Gemini protocol.
//! Handlers are thin: extract, call one function, answer.

pub mod admin;
pub mod batches;
pub mod exports;
pub mod files;
pub mod gemini;
pub mod media;
pub mod models;
pub mod openai;
pub mod receipts;
pub mod tokens;

use http::{HeaderMap, Method};

use crate::auth::Credential;
use crate::error::{ApiError, Surface};

/// A 400 naming the parameter at fault.
pub(crate) fn bad(message: impl Into<String>, param: &str) -> ApiError {
    ApiError::BadRequest {
        message: message.into(),
        param: Some(param.to_string()),
    }
}

/// Where the client reached Airlock (`x-forwarded-proto` and `host`): the
/// URLs Airlock hands out start with it.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let header = |name: &str| headers.get(name).and_then(|value| value.to_str().ok());
    let host = header("host").unwrap_or("localhost");
    let scheme = header("x-forwarded-proto").unwrap_or("http");
    format!("{scheme}://{host}")
}

/// Which protocol a request speaks, for paths both surfaces share and for
/// errors raised before a handler runs: Google's SDKs authenticate with
/// `x-goog-api-key` or `?key=`, Gemini paths carry a `model:method`, and
/// `/v1/interactions` and resumable uploads (`/upload/…`) are Google's
/// (OpenAI has no such paths).
pub fn detect(method: &Method, path: &str, headers: &HeaderMap, query: Option<&str>) -> Surface {
    if Credential::from_request(headers, query).is_google_style()
        || path.starts_with("/v1beta/")
        || path.starts_with("/v1alpha/")
        || path.starts_with("/ws/google.ai.generativelanguage.")
        || (method == Method::POST && path.starts_with("/v1/models/") && path.contains(':'))
        || path.starts_with("/v1/interactions")
        || path.starts_with("/upload/")
    {
        Surface::Gemini
    } else {
        Surface::OpenAi
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_surfaces_apart() {
        let none = HeaderMap::new();
        assert_eq!(
            detect(&Method::POST, "/v1/interactions", &none, None),
            Surface::Gemini
        );
        let mut google = HeaderMap::new();
        google.insert("x-goog-api-key", "k".parse().unwrap());
        assert_eq!(
            detect(&Method::GET, "/v1/models", &none, None),
            Surface::OpenAi
        );
        assert_eq!(
            detect(&Method::GET, "/v1/models", &google, None),
            Surface::Gemini
        );
        assert_eq!(
            detect(&Method::GET, "/v1/models", &none, Some("key=k")),
            Surface::Gemini
        );
        assert_eq!(
            detect(&Method::POST, "/v1/models/m:generateContent", &none, None),
            Surface::Gemini
        );
        assert_eq!(
            detect(&Method::POST, "/v1beta/models/m:countTokens", &none, None),
            Surface::Gemini
        );
        assert_eq!(
            detect(&Method::POST, "/v1/chat/completions", &none, None),
            Surface::OpenAi
        );
    }
}
