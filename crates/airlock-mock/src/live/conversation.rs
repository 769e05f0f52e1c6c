//! A Gemini Live conversation: the setup it runs under, the turns so far,
//! and the model's turns as server messages.
//!
//! A model turn follows the crate's answer rules on the conversation
//! (`contents` = the turns so far, with the setup's system instruction,
//! tools and generation config). A text answer is cut into 3 to 8 pieces:
//! with `responseModalities` TEXT each is a `modelTurn` text part; with
//! AUDIO (the default) each is a `modelTurn` `inlineData` part of
//! `audio/pcm;rate=24000` speech (see [`crate::audio`]), followed by its
//! `outputTranscription` when the setup asks for one. Then come
//! `generationComplete`, `turnComplete` with the turn's `usageMetadata`,
//! and, with `sessionResumption`, a `sessionResumptionUpdate`. A call is
//! one `toolCall` message; the answer after the results opens with
//! [`reply::results_preamble`].
//!
//! Usage: the prompt is the whole context by the crate's token rule, plus
//! [`AUDIO_TOKENS_PER_SECOND`] of heard audio and 258 per video frame or
//! image; an audio answer costs the same per second of speech.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

use super::frame;
use super::resume::Saved;
use crate::audio::Encoding;
use crate::duplex::Outbox;
use crate::gemini::catalog::GeminiModel;
use crate::gemini::request::{self, PromptTokens};
use crate::prng::{Digest, alphanumeric};
use crate::reply::{self, Answer};
use crate::server::MockServer;
use crate::{textgen, tokens};

/// Google documents 32 tokens per second of audio, in and out.
pub const AUDIO_TOKENS_PER_SECOND: u64 = 32;

/// The model's voice.
pub const OUTPUT_AUDIO: Encoding = Encoding::Pcm16 { rate: 24000 };
const OUTPUT_MIME: &str = "audio/pcm;rate=24000";

pub fn audio_tokens(ms: u64) -> u64 {
    (ms * AUDIO_TOKENS_PER_SECOND).div_ceil(1000)
}

#[derive(Debug)]
pub struct Conversation {
    pub model: &'static GeminiModel,
    /// The setup message, normalised (camelCase names).
    setup: Value,
    history: Vec<Value>,
    audio_tokens: u64,
    image_tokens: u64,
    /// Ids of the calls waiting for a `toolResponse`.
    pub pending_calls: Vec<String>,
    turns: u64,
    server: MockServer,
    serial: u64,
}

impl Conversation {
    pub fn new(
        model: &'static GeminiModel,
        setup: Value,
        saved: Saved,
        server: MockServer,
        serial: u64,
    ) -> Self {
        Self {
            model,
            setup,
            history: saved.history,
            audio_tokens: saved.audio_tokens,
            image_tokens: saved.image_tokens,
            pending_calls: Vec::new(),
            turns: 0,
            server,
            serial,
        }
    }

    fn speaks(&self) -> bool {
        match self.setup["generationConfig"]["responseModalities"].as_array() {
            Some(modalities) if !modalities.is_empty() => modalities.iter().any(|m| m == "AUDIO"),
            _ => true,
        }
    }

    pub fn transcribes_input(&self) -> bool {
        self.setup.get("inputAudioTranscription").is_some()
    }

    fn transcribes_output(&self) -> bool {
        self.setup.get("outputAudioTranscription").is_some()
    }

    /// Whether the client signals activity itself (automatic activity
    /// detection disabled).
    pub fn manual_activity(&self) -> bool {
        self.setup["realtimeInputConfig"]["automaticActivityDetection"]["disabled"] == true
    }

    /// Whether new user activity interrupts the model.
    pub fn interruptible(&self) -> bool {
        self.setup["realtimeInputConfig"]["activityHandling"] != "NO_INTERRUPTION"
    }

    /// A `contextUpdate`: new system instruction and/or tools.
    pub fn update_context(&mut self, update: &Value) {
        if let (Some(system), Some(setup)) =
            (update.get("systemInstruction"), self.setup.as_object_mut())
        {
            setup.insert("systemInstruction".into(), system.clone());
        }
        if let (Some(tools), Some(setup)) = (update.get("tools"), self.setup.as_object_mut()) {
            setup.insert("tools".into(), tools["tools"].clone());
        }
    }

    /// A turn of the conversation (`user` or `model`).
    pub fn add_turn(&mut self, role: &str, parts: Vec<Value>) {
        self.history.push(json!({ "role": role, "parts": parts }));
    }

    /// Media heard or seen outside the turns' contents.
    pub fn add_media(&mut self, audio_tokens: u64, image_tokens: u64) {
        self.audio_tokens += audio_tokens;
        self.image_tokens += image_tokens;
    }

    /// The request the model answers: the turns with the setup's context.
    fn request(&self) -> Value {
        let mut req = Map::new();
        req.insert("contents".into(), Value::Array(self.history.clone()));
        for key in ["systemInstruction", "tools", "generationConfig"] {
            if let Some(v) = self.setup.get(key) {
                req.insert(key.into(), v.clone());
            }
        }
        Value::Object(req)
    }

    /// The model's next turn, queued on `out`. `consumed` is how many
    /// client messages the session has taken so far.
    pub fn respond(&mut self, consumed: u64, out: &mut Outbox) {
        let req = self.request();
        let ask = request::ask(&req, self.server.seed(), self.model.id);
        let answer = reply::answer(&ask, 0);
        let digest = ask.digest;
        let mut prompt = request::prompt_tokens(&req);
        prompt.add_media(self.audio_tokens, self.image_tokens);
        self.turns += 1;
        out.start_turn();
        match answer {
            Answer::Call { name, args } => {
                let id = format!(
                    "function-call-{}",
                    Digest::new(self.server.seed())
                        .part("live-call")
                        .number(self.serial)
                        .number(self.turns)
                        .value()
                );
                let call = json!({ "id": id, "name": name, "args": args });
                self.history
                    .push(json!({ "role": "model", "parts": [{ "functionCall": call }] }));
                self.pending_calls.push(id);
                out.content(frame(&json!({ "toolCall": { "functionCalls": [call] } })));
            }
            Answer::Text { text, .. } => {
                let text = self.after_results() + &text;
                self.speak(&text, digest, &prompt, out);
                self.history
                    .push(json!({ "role": "model", "parts": [{ "text": text }] }));
                self.offer_resumption(consumed, out);
            }
        }
    }

    /// The preamble quoting the tool results the conversation ends with.
    fn after_results(&self) -> String {
        let Some(last) = self.history.last().filter(|c| c["role"] == "user") else {
            return String::new();
        };
        let parts = last["parts"].as_array().map_or(&[][..], Vec::as_slice);
        reply::results_preamble(parts.iter().filter_map(|p| {
            let response = p.get("functionResponse")?;
            Some((
                response["name"].as_str().unwrap_or(""),
                response["response"].to_string(),
            ))
        }))
    }

    fn speak(&self, text: &str, digest: Digest, prompt: &PromptTokens, out: &mut Outbox) {
        let speaks = self.speaks();
        let mut spoken_ms = 0;
        for piece in textgen::chunks(text, &mut digest.part("live-chunks").rng()) {
            if speaks {
                let audio = OUTPUT_AUDIO.speak(&piece);
                spoken_ms += OUTPUT_AUDIO.duration_ms(audio.len());
                let part = json!({ "inlineData": { "mimeType": OUTPUT_MIME, "data": STANDARD.encode(audio) } });
                out.content(frame(
                    &json!({ "serverContent": { "modelTurn": { "parts": [part] } } }),
                ));
                if self.transcribes_output() {
                    out.content_along(frame(
                        &json!({ "serverContent": { "outputTranscription": { "text": piece } } }),
                    ));
                }
            } else {
                out.content(frame(
                    &json!({ "serverContent": { "modelTurn": { "parts": [{ "text": piece }] } } }),
                ));
            }
        }
        let (modality, response_tokens) = if speaks {
            ("AUDIO", audio_tokens(spoken_ms))
        } else {
            ("TEXT", tokens::text_tokens(text))
        };
        let usage = json!({
            "promptTokenCount": prompt.total(),
            "responseTokenCount": response_tokens,
            "totalTokenCount": prompt.total() + response_tokens,
            "promptTokensDetails": prompt.details(),
            "responseTokensDetails": [{ "modality": modality, "tokenCount": response_tokens }],
        });
        out.then(frame(
            &json!({ "serverContent": { "generationComplete": true } }),
        ));
        out.then(frame(
            &json!({ "serverContent": { "turnComplete": true }, "usageMetadata": usage }),
        ));
    }

    /// With `sessionResumption`, saves the conversation under a new handle
    /// and tells the client.
    fn offer_resumption(&self, consumed: u64, out: &mut Outbox) {
        let Some(config) = self.setup.get("sessionResumption") else {
            return;
        };
        let handle = alphanumeric(
            Digest::new(self.server.seed())
                .part("live-handle")
                .number(self.serial)
                .number(self.turns),
            40,
        );
        self.server.live_resumptions().save(
            handle.clone(),
            Saved {
                history: self.history.clone(),
                audio_tokens: self.audio_tokens,
                image_tokens: self.image_tokens,
            },
        );
        let mut update = json!({ "newHandle": handle, "resumable": true });
        if config["transparent"] == true {
            // int64, which proto3 JSON writes as a string.
            update["lastConsumedClientMessageIndex"] =
                json!(consumed.saturating_sub(1).to_string());
        }
        out.then(frame(&json!({ "sessionResumptionUpdate": update })));
    }
}
