//! `POST /v1/audio/speech`: the simulator's voice saying `input`.
//!
//! * Models: tts-1 and tts-1-hd speak alloy, ash, coral, echo, fable, onyx,
//!   nova, sage and shimmer; gpt-4o-mini-tts also ballad, verse, marin and
//!   cedar, and custom voices (`{"id": …}`), and takes `instructions` and
//!   `stream_format: "sse"`. Each voice is a pitch of the simulator's voice
//!   (module [`crate::audio`]); `input` is at most 4,096 characters.
//! * Audio: 24 kHz mono 16-bit, 50 ms a character, divided in length by
//!   `speed` (0.25 to 4; only speed 1 can be read back by transcription),
//!   in the asked `response_format` (module `formats`), sent as about one
//!   chunk per second of audio, paced like a stream.
//! * `stream_format: "sse"`: `data: {"type": "speech.audio.delta", "audio":
//!   base64}` events (the same chunks), then `speech.audio.done` with
//!   `usage` (`input_tokens`: the input's and instructions' text tokens;
//!   `output_tokens`: 20 per second of audio, the Realtime simulator's rate
//!   for the model's speech).

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use serde_json::{Value, json};

use super::super::catalog::{self, Kind};
use super::super::checks::unsupported_parameter;
use super::super::errors::{self, ApiError};
use super::super::validate::invalid_value;
use super::formats::AudioFormat;
use crate::audio::{Encoding, Voice};
use crate::delivery::Payload;
use crate::prng::Digest;
use crate::tokens;

/// The rate of the speech answered.
pub const RATE: u32 = 24000;
const VOICE: Encoding = Encoding::Pcm16 { rate: RATE };
/// The longest `input`.
const MAX_INPUT: usize = 4096;
/// Output tokens per second of speech.
const AUDIO_TOKENS_PER_SECOND: u64 = 20;

/// Every built-in voice, numbered by its place here.
const VOICES: [&str; 13] = [
    "alloy", "ash", "ballad", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer", "verse",
    "marin", "cedar",
];
/// The voices of tts-1 and tts-1-hd.
const TTS_1_VOICES: [&str; 9] = [
    "alloy", "ash", "coral", "echo", "fable", "onyx", "nova", "sage", "shimmer",
];

/// A speech request, checked.
#[derive(Debug)]
pub struct Speech {
    pub input: String,
    pub instructions: String,
    pub voice: Voice,
    pub format: AudioFormat,
    pub speed: f64,
    pub sse: bool,
}

/// Checks a valid body against the model's rules.
pub fn check(body: &Value) -> Result<Speech, Payload> {
    let name = body["model"].as_str().unwrap_or_default();
    let model = match catalog::find(name) {
        Some(m) => m,
        None => return Err(errors::model_not_found(name)),
    };
    let Kind::Speech { steerable } = model.kind else {
        let speech = catalog::ids_where(|k| matches!(k, Kind::Speech { .. }));
        return Err(invalid_value("model", name, &speech).payload());
    };
    check_model(body, steerable).map_err(|e| e.payload())
}

fn check_model(body: &Value, steerable: bool) -> Result<Speech, ApiError> {
    let input = body["input"].as_str().unwrap_or_default();
    let chars = input.chars().count();
    if chars > MAX_INPUT {
        return Err(ApiError::too_long("input", MAX_INPUT, chars));
    }
    if chars == 0 {
        return Err(ApiError::invalid(
            "Invalid 'input': string too short. Expected a string with minimum length 1, but got an empty string instead.",
            Some("input"),
            Some("string_below_min_length"),
        ));
    }
    let voices: &[&str] = if steerable { &VOICES } else { &TTS_1_VOICES };
    let voice = match &body["voice"] {
        Value::String(name) => match VOICES.iter().position(|v| v == name) {
            Some(n) if voices.contains(&name.as_str()) => Voice::numbered(n),
            _ => return Err(invalid_value("voice", name, voices)),
        },
        custom if steerable => {
            let id = custom["id"].as_str().unwrap_or_default();
            let spare = Voice::COUNT.saturating_sub(VOICES.len()).max(1) as u64;
            let n = Digest::new(0).part("custom voice").part(id).value() % spare;
            Voice::numbered(VOICES.len() + usize::try_from(n).unwrap_or(0))
        }
        _ => {
            return Err(ApiError::invalid(
                "Invalid type for 'voice': expected a string, but got an object instead.",
                Some("voice"),
                Some("invalid_type"),
            ));
        }
    };
    let instructions = body["instructions"].as_str().unwrap_or_default();
    if !steerable && !body["instructions"].is_null() {
        return Err(unsupported_parameter("instructions", ""));
    }
    let sse = body["stream_format"] == "sse";
    if !steerable && sse {
        return Err(ApiError::invalid(
            "Unsupported value: 'stream_format' does not support 'sse' with this model.",
            Some("stream_format"),
            Some("unsupported_value"),
        ));
    }
    Ok(Speech {
        input: input.to_owned(),
        instructions: instructions.to_owned(),
        voice,
        format: AudioFormat::named(body["response_format"].as_str()).unwrap_or(AudioFormat::Mp3),
        speed: body["speed"].as_f64().unwrap_or(1.0),
        sse,
    })
}

/// `pcm` played `speed` times as fast (nearest sample).
fn at_speed(pcm: &[u8], speed: f64) -> Vec<u8> {
    let samples = pcm.len() / 2;
    if speed == 1.0 || samples == 0 || speed <= 0.0 {
        return pcm.to_vec();
    }
    let length = (samples as f64 / speed).round() as usize;
    (0..length)
        .flat_map(|j| {
            let i = ((j as f64 * speed) as usize).min(samples - 1);
            [pcm[2 * i], pcm[2 * i + 1]]
        })
        .collect()
}

impl Speech {
    /// The speech as 16-bit PCM at [`RATE`].
    pub fn pcm(&self) -> Vec<u8> {
        at_speed(&VOICE.speak_as(&self.input, self.voice), self.speed)
    }

    /// What the answer is made of: the encoded audio in chunks of about a
    /// second each (an even number of bytes, so PCM chunks hold whole
    /// samples), or SSE events carrying them.
    pub fn chunks(&self) -> (Vec<Bytes>, u64) {
        let pcm = self.pcm();
        let duration_ms = VOICE.duration_ms(pcm.len());
        let audio = self.format.encode(&pcm, RATE);
        let count = usize::try_from(duration_ms.div_ceil(1000).clamp(1, 600)).unwrap_or(1);
        let size = audio.len().div_ceil(count).next_multiple_of(2).max(2);
        let chunks = audio.chunks(size).map(Bytes::copy_from_slice).collect();
        (chunks, duration_ms)
    }

    /// The answer's body, as delivery chunks.
    pub fn body(&self) -> Vec<Bytes> {
        let (chunks, duration_ms) = self.chunks();
        if !self.sse {
            return chunks;
        }
        let mut events: Vec<Bytes> = chunks
            .iter()
            .map(|c| {
                let delta = json!({ "type": "speech.audio.delta", "audio": STANDARD.encode(c) });
                Bytes::from(format!("data: {delta}\n\n"))
            })
            .collect();
        let input = tokens::text_tokens(&self.input) + tokens::text_tokens(&self.instructions);
        let output = (duration_ms * AUDIO_TOKENS_PER_SECOND).div_ceil(1000);
        let done = json!({
            "type": "speech.audio.done",
            "usage": { "input_tokens": input, "output_tokens": output, "total_tokens": input + output },
        });
        match events.last_mut() {
            // The last delta and the end travel together, as one chunk.
            Some(last) => {
                *last = Bytes::from([&last[..], format!("data: {done}\n\n").as_bytes()].concat())
            }
            None => events.push(Bytes::from(format!("data: {done}\n\n"))),
        }
        events
    }

    pub fn content_type(&self) -> &'static str {
        if self.sse {
            "text/event-stream; charset=utf-8"
        } else {
            self.format.content_type()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn speech(body: Value) -> Result<Speech, (u16, Value)> {
        check(&body).map_err(|p| {
            let crate::delivery::Body::Whole { bytes, .. } = p.body else {
                panic!("an error is whole")
            };
            (p.status.as_u16(), serde_json::from_slice(&bytes).unwrap())
        })
    }

    fn error(body: Value) -> Value {
        speech(body).unwrap_err().1["error"].clone()
    }

    #[test]
    fn voices_follow_the_model() {
        let ok = speech(json!({"model": "tts-1", "input": "hi", "voice": "nova"})).unwrap();
        assert_eq!(
            (ok.format, ok.speed, ok.sse),
            (AudioFormat::Mp3, 1.0, false)
        );
        let e = error(json!({"model": "tts-1", "input": "hi", "voice": "marin"}));
        assert_eq!(e["param"], "voice");
        assert_eq!(
            e["message"],
            "Invalid value: 'marin'. Supported values are: 'alloy', 'ash', 'coral', 'echo', 'fable', 'onyx', 'nova', 'sage', and 'shimmer'."
        );
        assert!(
            speech(json!({"model": "gpt-4o-mini-tts", "input": "hi", "voice": "marin"})).is_ok()
        );
        assert!(
            speech(json!({"model": "gpt-4o-mini-tts", "input": "hi", "voice": {"id": "voice_1"}}))
                .is_ok()
        );
        assert_eq!(
            error(json!({"model": "tts-1", "input": "hi", "voice": {"id": "v"}}))["code"],
            "invalid_type"
        );
        assert_ne!(
            speech(json!({"model": "tts-1", "input": "hi", "voice": "nova"}))
                .unwrap()
                .pcm(),
            speech(json!({"model": "tts-1", "input": "hi", "voice": "echo"}))
                .unwrap()
                .pcm()
        );
    }

    #[test]
    fn model_rules() {
        let e = error(
            json!({"model": "tts-1-hd", "input": "hi", "voice": "ash", "instructions": "calm"}),
        );
        assert_eq!(
            (e["param"].as_str(), e["code"].as_str()),
            (Some("instructions"), Some("unsupported_parameter"))
        );
        let e =
            error(json!({"model": "tts-1", "input": "hi", "voice": "ash", "stream_format": "sse"}));
        assert_eq!(e["param"], "stream_format");
        let e = error(json!({"model": "tts-1", "input": "x".repeat(4097), "voice": "ash"}));
        assert_eq!(e["code"], "string_above_max_length");
        assert_eq!(
            error(json!({"model": "tts-1", "input": "", "voice": "ash"}))["param"],
            "input"
        );
        assert_eq!(
            error(json!({"model": "gpt-4o", "input": "hi", "voice": "ash"}))["param"],
            "model"
        );
        assert_eq!(
            speech(json!({"model": "tts-2", "input": "hi", "voice": "ash"}))
                .unwrap_err()
                .0,
            404
        );
    }

    #[test]
    fn speed_changes_the_length() {
        let at = |speed: f64| {
            speech(json!({"model": "tts-1", "input": "hello", "voice": "ash", "speed": speed}))
                .unwrap()
                .pcm()
                .len()
        };
        assert_eq!(at(1.0), 5 * 1200 * 2);
        assert_eq!(at(2.0), 5 * 600 * 2);
        assert_eq!(at(0.5), 5 * 2400 * 2);
    }

    #[test]
    fn sse_carries_the_audio_then_the_usage() {
        let s = speech(
            json!({"model": "gpt-4o-mini-tts", "input": "x".repeat(30), "voice": "ash",
            "response_format": "pcm", "stream_format": "sse", "instructions": "abcd"}),
        )
        .unwrap();
        let text: String = s
            .body()
            .iter()
            .map(|b| String::from_utf8_lossy(b).into_owned())
            .collect();
        let events: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        assert_eq!(events.len(), 3, "1.5 s of audio: two deltas and the end");
        let audio: Vec<u8> = events[..2]
            .iter()
            .flat_map(|e| STANDARD.decode(e["audio"].as_str().unwrap()).unwrap())
            .collect();
        assert_eq!(audio, s.pcm());
        assert_eq!(
            events[2],
            json!({"type": "speech.audio.done", "usage": {"input_tokens": 9, "output_tokens": 30, "total_tokens": 39}})
        );
        assert_eq!(s.content_type(), "text/event-stream; charset=utf-8");
    }
}
