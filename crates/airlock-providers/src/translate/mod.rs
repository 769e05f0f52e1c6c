//! OpenAI Chat Completions / Embeddings ⇄ Gemini `generateContent` /
//! `streamGenerateContent` / `batchEmbedContents`, for OpenAI-SDK clients
//! that ask Airlock for a Gemini model. Pure functions over
//! `serde_json::Value`, no I/O; the caller routes (the OpenAI `model` is never
//! put in a Gemini body), sends and streams.
//!
//! Requests: [`chat_request_to_gemini`] (for the routed Gemini model),
//! [`embeddings_request_to_gemini`]
//! (failing with a [`TranslateError`] worded like OpenAI's 400s). Answers:
//! [`gemini_response_to_chat`], [`ChatStreamTranslator`],
//! [`gemini_embeddings_to_openai`], [`gemini_error_to_openai`].

mod candidate;
mod chat_request;
mod chat_response;
mod chat_stream;
mod content;
mod embeddings;
mod error;
mod generation;
pub mod interactions;
mod logprobs;
mod media;
mod messages;
mod params;
mod reasoning;
mod response_format;
pub mod responses;
mod schema;
mod tools;
mod usage;

pub use chat_request::{GeminiChatRequest, chat_request_to_gemini};
pub use chat_response::gemini_response_to_chat;
pub use chat_stream::ChatStreamTranslator;
pub use embeddings::{
    GeminiEmbeddingsRequest, embeddings_request_to_gemini, gemini_embeddings_to_openai,
};
pub use error::gemini_error_to_openai;
pub use params::TranslateError;
