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
//!
//! Media, over JSON bodies and multipart forms the gateway has read
//! ([`ImageEditForm`], [`TranscriptionForm`]): images
//! ([`openai_image_generation_to_gemini`], [`openai_image_edit_to_gemini`],
//! [`gemini_images_to_openai`]), speech ([`openai_speech_to_gemini`],
//! [`gemini_speech_to_openai`] and the `stream_format: "sse"` events) and
//! transcription ([`openai_transcription_to_gemini`],
//! [`gemini_transcript_to_openai`]); an answer without the media asked
//! for is a [`MediaAnswerError`].

mod candidate;
mod chat_request;
mod chat_response;
mod chat_stream;
mod content;
mod embeddings;
mod error;
mod form;
mod generation;
mod images;
pub mod interactions;
mod logprobs;
mod media;
mod media_answer;
mod messages;
mod params;
mod reasoning;
mod response_format;
pub mod responses;
mod schema;
mod speech;
mod tools;
mod transcription;
mod usage;

pub use chat_request::{GeminiChatRequest, chat_request_to_gemini};
pub use chat_response::gemini_response_to_chat;
pub use chat_stream::ChatStreamTranslator;
pub use embeddings::{
    GeminiEmbeddingsRequest, embeddings_request_to_gemini, gemini_embeddings_to_openai,
};
pub use error::gemini_error_to_openai;
pub use form::FormFile;
pub use images::{
    ImageEditForm, ImageResponseFormat, ImageTranslation, gemini_images_to_openai,
    openai_image_edit_to_gemini, openai_image_generation_to_gemini,
};
pub use media_answer::MediaAnswerError;
pub use params::TranslateError;
pub use speech::{
    SpeechFormat, SpeechTranslation, gemini_speech_chunk_to_openai_events, gemini_speech_to_openai,
    openai_speech_done_event, openai_speech_to_gemini,
};
pub use transcription::{
    TranscriptFormat, TranscriptionForm, TranscriptionTranslation, gemini_transcript_to_openai,
    openai_transcription_to_gemini,
};
