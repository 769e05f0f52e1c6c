//! What a stream generated, as its framer reads it: the characters of
//! every generated delta (text, refusals, reasoning, tool-call arguments;
//! in the upstream's protocol), which estimate the output of a stream the
//! client left before the usage came; and the SHA-256 of its answer text,
//! the text deltas concatenated as an SDK accumulates them (OpenAI's
//! `delta.content`, Gemini's text parts that are not thoughts, the
//! Responses API's `output_text` deltas), which its receipt carries; and,
//! when a constitution checks it, that text itself.

use serde_json::Value;
use sha2::{Digest, Sha256};

/// Counts and hashes a stream's generated content as its chunks pass.
#[derive(Default)]
pub struct Generated {
    chars: u64,
    text: Sha256,
    /// The answer text itself, once asked to keep it (for a constitution's
    /// checks at the stream's end).
    kept: Option<String>,
}

impl Generated {
    /// An OpenAI chat chunk.
    pub fn openai_chunk(&mut self, chunk: &Value) {
        self.chars += openai_chunk_chars(chunk);
        for choice in chunk["choices"].as_array().into_iter().flatten() {
            self.text(&choice["delta"]["content"]);
        }
    }

    /// A Gemini `GenerateContentResponse` chunk.
    pub fn gemini_chunk(&mut self, chunk: &Value) {
        self.chars += gemini_chunk_chars(chunk);
        let parts = chunk["candidates"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|candidate| candidate["content"]["parts"].as_array())
            .flatten();
        for part in parts.filter(|part| part["thought"] != Value::Bool(true)) {
            self.text(&part["text"]);
        }
    }

    /// A Responses API event.
    pub fn responses_event(&mut self, event: &Value) {
        self.chars += responses_event_chars(event);
        if event["type"] == "response.output_text.delta" {
            self.text(&event["delta"]);
        }
    }

    fn text(&mut self, value: &Value) {
        if let Some(text) = value.as_str() {
            self.text.update(text.as_bytes());
            if let Some(kept) = &mut self.kept {
                kept.push_str(text);
            }
        }
    }

    /// Keeps the answer text from now on (call it before the first chunk).
    pub fn keep_text(&mut self) {
        self.kept.get_or_insert_with(String::new);
    }

    /// The answer text kept so far.
    pub fn kept_text(&self) -> &str {
        self.kept.as_deref().unwrap_or_default()
    }

    /// Characters generated so far.
    pub fn chars(&self) -> u64 {
        self.chars
    }

    /// SHA-256 (hex) of the answer text so far.
    pub fn text_sha256(&self) -> String {
        hex::encode(self.text.clone().finalize())
    }
}

/// The characters of a JSON string (0 for anything else).
fn chars(value: &Value) -> u64 {
    value.as_str().map_or(0, |text| text.chars().count() as u64)
}

/// Generated characters in an OpenAI chat chunk: each choice's content,
/// refusal and reasoning deltas, and its tool calls' argument deltas.
fn openai_chunk_chars(chunk: &Value) -> u64 {
    let Some(choices) = chunk["choices"].as_array() else {
        return 0;
    };
    choices
        .iter()
        .map(|choice| {
            let delta = &choice["delta"];
            let calls = delta["tool_calls"].as_array().map_or(0, |calls| {
                calls
                    .iter()
                    .map(|call| chars(&call["function"]["arguments"]))
                    .sum()
            });
            ["content", "refusal", "reasoning_content"]
                .iter()
                .map(|field| chars(&delta[field]))
                .sum::<u64>()
                + calls
        })
        .sum()
}

/// Generated characters in a Gemini chunk: each candidate's text parts
/// (thoughts included: they are output tokens too) and function calls
/// (name and arguments, as compact JSON).
fn gemini_chunk_chars(chunk: &Value) -> u64 {
    let Some(candidates) = chunk["candidates"].as_array() else {
        return 0;
    };
    candidates
        .iter()
        .filter_map(|candidate| candidate["content"]["parts"].as_array())
        .flatten()
        .map(|part| {
            let call = &part["functionCall"];
            let call_chars = if call.is_object() {
                chars(&call["name"]) + call["args"].to_string().chars().count() as u64
            } else {
                0
            };
            chars(&part["text"]) + call_chars
        })
        .sum()
}

/// Generated characters in a Responses API event: its text, refusal,
/// reasoning and function-call argument deltas.
fn responses_event_chars(event: &Value) -> u64 {
    match event["type"].as_str() {
        Some(
            "response.output_text.delta"
            | "response.refusal.delta"
            | "response.reasoning_text.delta"
            | "response.reasoning_summary_text.delta"
            | "response.function_call_arguments.delta",
        ) => chars(&event["delta"]),
        _ => 0,
    }
}
