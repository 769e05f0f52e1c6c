//! What differs between the GA interface and the beta one
//! (`OpenAI-Beta: realtime=v1`): event names, content part types, the
//! session object's shape and defaults, and where its settings live.

use serde_json::{Map, Value, json};

use super::params::{BETA_EVENT, GA_EVENT};
use crate::audio::Encoding;
use crate::openai::params::Ty;

/// The instructions a new session starts with.
const DEFAULT_INSTRUCTIONS: &str =
    "You are a helpful, concise voice assistant. Answer in a friendly tone.";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Ga,
    Beta,
}

impl Dialect {
    pub fn events(self) -> &'static Ty {
        match self {
            Dialect::Ga => &GA_EVENT,
            Dialect::Beta => &BETA_EVENT,
        }
    }

    /// The name of a response event that the two interfaces name
    /// differently, given by its GA name.
    pub fn name(self, ga: &'static str) -> &'static str {
        match (self, ga) {
            (Dialect::Beta, "response.output_text.delta") => "response.text.delta",
            (Dialect::Beta, "response.output_text.done") => "response.text.done",
            (Dialect::Beta, "response.output_audio.delta") => "response.audio.delta",
            (Dialect::Beta, "response.output_audio.done") => "response.audio.done",
            (Dialect::Beta, "response.output_audio_transcript.delta") => {
                "response.audio_transcript.delta"
            }
            (Dialect::Beta, "response.output_audio_transcript.done") => {
                "response.audio_transcript.done"
            }
            (Dialect::Beta, "conversation.item.added") => "conversation.item.created",
            _ => ga,
        }
    }

    /// The content type of the model's text, or of its speech, in an item.
    pub fn output_part(self, audio: bool) -> &'static str {
        match (self, audio) {
            (Dialect::Ga, false) => "output_text",
            (Dialect::Ga, true) => "output_audio",
            (Dialect::Beta, false) => "text",
            (Dialect::Beta, true) => "audio",
        }
    }

    /// The content types a message of `role` may hold.
    pub fn contents(self, role: &str) -> &'static [&'static str] {
        match (self, role) {
            (Dialect::Ga, "user") => &["input_text", "input_audio", "input_image"],
            (Dialect::Ga, "assistant") => &["output_text", "output_audio"],
            (Dialect::Beta, "user") => &["input_text", "input_audio", "item_reference"],
            (Dialect::Beta, "assistant") => &["text", "audio"],
            _ => &["input_text"],
        }
    }

    /// The session object a connection starts with.
    pub fn default_session(self, id: &str, model: &str, expires_at: u64) -> Value {
        match self {
            Dialect::Ga => json!({
                "type": "realtime",
                "object": "realtime.session",
                "id": id,
                "model": model,
                "output_modalities": ["audio"],
                "instructions": DEFAULT_INSTRUCTIONS,
                "tools": [],
                "tool_choice": "auto",
                "max_output_tokens": "inf",
                "tracing": null,
                "truncation": "auto",
                "prompt": null,
                "expires_at": expires_at,
                "audio": {
                    "input": {
                        "format": { "type": "audio/pcm", "rate": 24000 },
                        "transcription": null,
                        "noise_reduction": null,
                        "turn_detection": {
                            "type": "server_vad",
                            "threshold": 0.5,
                            "prefix_padding_ms": 300,
                            "silence_duration_ms": 200,
                            "idle_timeout_ms": null,
                            "create_response": true,
                            "interrupt_response": true
                        }
                    },
                    "output": {
                        "format": { "type": "audio/pcm", "rate": 24000 },
                        "voice": "marin",
                        "speed": 1.0
                    }
                },
                "include": null
            }),
            Dialect::Beta => json!({
                "id": id,
                "object": "realtime.session",
                "model": model,
                "expires_at": expires_at,
                "modalities": ["text", "audio"],
                "instructions": DEFAULT_INSTRUCTIONS,
                "voice": "alloy",
                "input_audio_format": "pcm16",
                "output_audio_format": "pcm16",
                "input_audio_transcription": null,
                "input_audio_noise_reduction": null,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 200,
                    "create_response": true,
                    "interrupt_response": true
                },
                "tool_choice": "auto",
                "temperature": 0.8,
                "max_response_output_tokens": "inf",
                "tools": [],
                "speed": 1.0,
                "tracing": null
            }),
        }
    }

    /// Applies a `session.update`'s `session` to the session object: the
    /// GA `audio`, `audio.input` and `audio.output` objects merge member by
    /// member, everything else is replaced.
    pub fn update(self, session: &mut Value, patch: &Value) {
        merge(session, patch, 0);
    }

    /// The member holding the output modalities.
    pub fn modalities_key(self) -> &'static str {
        match self {
            Dialect::Ga => "output_modalities",
            Dialect::Beta => "modalities",
        }
    }

    /// The member holding the output token limit.
    pub fn max_tokens_key(self) -> &'static str {
        match self {
            Dialect::Ga => "max_output_tokens",
            Dialect::Beta => "max_response_output_tokens",
        }
    }

    fn audio_setting<'s>(self, session: &'s Value, ga: &str, beta: &str) -> &'s Value {
        match self {
            Dialect::Ga => &session["audio"]["input"][ga],
            Dialect::Beta => &session[beta],
        }
    }

    pub fn turn_detection(self, session: &Value) -> &Value {
        self.audio_setting(session, "turn_detection", "turn_detection")
    }

    pub fn transcription(self, session: &Value) -> &Value {
        self.audio_setting(session, "transcription", "input_audio_transcription")
    }

    pub fn input_encoding(self, session: &Value) -> Encoding {
        match self {
            Dialect::Ga => ga_encoding(&session["audio"]["input"]["format"]),
            Dialect::Beta => beta_encoding(&session["input_audio_format"]),
        }
    }

    /// The output encoding, from a response's own audio settings when it
    /// has them, else from the session's.
    pub fn output_encoding(self, session: &Value, response: &Value) -> Encoding {
        match self {
            Dialect::Ga => {
                let own = &response["audio"]["output"]["format"];
                ga_encoding(if own.is_object() {
                    own
                } else {
                    &session["audio"]["output"]["format"]
                })
            }
            Dialect::Beta => beta_encoding(
                response
                    .get("output_audio_format")
                    .unwrap_or(&session["output_audio_format"]),
            ),
        }
    }

    /// The voice and format members of a response object.
    pub fn response_audio(self, session: &Value, response: &Value) -> Map<String, Value> {
        let mut members = Map::new();
        match self {
            Dialect::Ga => {
                let output = &session["audio"]["output"];
                let own = &response["audio"]["output"];
                let pick = |key: &str| own.get(key).unwrap_or(&output[key]).clone();
                members.insert(
                    "audio".into(),
                    json!({ "output": { "format": pick("format"), "voice": pick("voice") } }),
                );
            }
            Dialect::Beta => {
                for key in ["voice", "output_audio_format", "temperature"] {
                    let value = response.get(key).unwrap_or(&session[key]).clone();
                    members.insert(key.into(), value);
                }
            }
        }
        members
    }
}

fn ga_encoding(format: &Value) -> Encoding {
    match format["type"].as_str() {
        Some("audio/pcmu") => Encoding::Mulaw,
        Some("audio/pcma") => Encoding::Alaw,
        _ => Encoding::Pcm16 { rate: 24000 },
    }
}

fn beta_encoding(format: &Value) -> Encoding {
    match format.as_str() {
        Some("g711_ulaw") => Encoding::Mulaw,
        Some("g711_alaw") => Encoding::Alaw,
        _ => Encoding::Pcm16 { rate: 24000 },
    }
}

/// Merges `patch` into `target`; objects at depth 0 and under `audio` merge
/// member by member, other values replace.
fn merge(target: &mut Value, patch: &Value, depth: usize) {
    let (Some(target), Some(patch)) = (target.as_object_mut(), patch.as_object()) else {
        return;
    };
    for (key, value) in patch {
        let nested =
            depth == 0 && key == "audio" || depth == 1 && (key == "input" || key == "output");
        match target.get_mut(key) {
            Some(existing) if nested && existing.is_object() && value.is_object() => {
                merge(existing, value, depth + 1);
            }
            _ => {
                target.insert(key.clone(), value.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn updates_merge_audio_and_replace_the_rest() {
        let mut s = Dialect::Ga.default_session("sess_1", "gpt-realtime-2025-08-28", 0);
        Dialect::Ga.update(
            &mut s,
            &json!({"type": "realtime", "instructions": "x", "audio": {"input": {"turn_detection": null}, "output": {"voice": "cedar"}}}),
        );
        assert_eq!(s["instructions"], "x");
        assert!(Dialect::Ga.turn_detection(&s).is_null());
        assert_eq!(s["audio"]["output"]["voice"], "cedar");
        assert_eq!(s["audio"]["output"]["format"]["rate"], 24000);
        assert_eq!(
            Dialect::Ga.input_encoding(&s),
            Encoding::Pcm16 { rate: 24000 }
        );
        let mut b = Dialect::Beta.default_session("sess_1", "m", 0);
        Dialect::Beta.update(
            &mut b,
            &json!({"input_audio_format": "g711_ulaw", "turn_detection": {"type": "semantic_vad"}}),
        );
        assert_eq!(Dialect::Beta.input_encoding(&b), Encoding::Mulaw);
        assert_eq!(
            Dialect::Beta.turn_detection(&b),
            &json!({"type": "semantic_vad"})
        );
    }

    #[test]
    fn names_and_parts() {
        assert_eq!(
            Dialect::Beta.name("response.output_audio_transcript.delta"),
            "response.audio_transcript.delta"
        );
        assert_eq!(
            Dialect::Ga.name("response.output_text.delta"),
            "response.output_text.delta"
        );
        assert_eq!(Dialect::Beta.output_part(true), "audio");
        assert_eq!(
            Dialect::Ga.contents("assistant"),
            ["output_text", "output_audio"]
        );
    }
}
