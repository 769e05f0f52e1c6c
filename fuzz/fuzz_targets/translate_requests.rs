//! Request translation: an OpenAI chat or embeddings request → Gemini, a
//! Responses request → chat and → Gemini, an Interactions request → the
//! Responses request, OpenAI images and speech requests → Gemini. Input:
//! any JSON value. Properties: no panic, and what
//! a translation makes is the request its API expects (a Gemini body with
//! its `contents`, a chat request with its `messages`).
#![no_main]

use airlock_providers::translate::interactions::interaction_request_to_responses;
use airlock_providers::translate::responses::{
    responses_request_to_chat, responses_request_to_gemini,
};
use airlock_providers::translate::{
    chat_request_to_gemini, embeddings_request_to_gemini, openai_image_generation_to_gemini,
    openai_speech_to_gemini,
};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// Gemini 2.5 and 3 say reasoning differently.
const MODELS: [&str; 2] = ["gemini-2.5-flash", "gemini-3-flash-preview"];

fuzz_target!(|data: &[u8]| {
    let Ok(request) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for model in MODELS {
        if let Ok(gemini) = chat_request_to_gemini(&request, model) {
            assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
        }
        if let Ok(gemini) = responses_request_to_gemini(&request, model) {
            assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
        }
    }
    if let Ok(gemini) = embeddings_request_to_gemini(&request, "gemini-embedding-001") {
        assert!(gemini.body["requests"].is_array(), "{}", gemini.body);
    }
    if let Ok(gemini) = openai_image_generation_to_gemini(&request, "gemini-2.5-flash-image") {
        assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
    }
    if let Ok(gemini) = openai_speech_to_gemini(&request) {
        assert!(gemini.body["contents"].is_array(), "{}", gemini.body);
    }
    if let Ok(chat) = responses_request_to_chat(&request) {
        assert!(chat["messages"].is_array(), "{chat}");
    }
    if let Ok(responses) = interaction_request_to_responses(&request) {
        assert!(serde_json::to_string(&responses).is_ok());
    }
});
