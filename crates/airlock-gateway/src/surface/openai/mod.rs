//! OpenAI's protocol: `/v1/chat/completions` and `/v1/embeddings`, passed
//! through to OpenAI-protocol providers and translated for Gemini ones.

mod chat;
mod embeddings;

pub use chat::chat_completions;
pub use embeddings::embeddings;

use serde_json::{Map, Value};

use crate::error::ApiError;

/// The `model` field of a request, required as OpenAI requires it.
fn required_model(request: &Map<String, Value>) -> Result<String, ApiError> {
    match request.get("model") {
        Some(Value::String(model)) if !model.is_empty() => Ok(model.clone()),
        Some(Value::String(_)) | None => Err(ApiError::BadRequest {
            message: "Missing required parameter: 'model'.".into(),
            param: Some("model".into()),
        }),
        Some(_) => Err(ApiError::BadRequest {
            message: "Invalid type for 'model': expected a string.".into(),
            param: Some("model".into()),
        }),
    }
}

pub mod models;
