//! Audio understanding: what an audio part holds, what it costs, and the
//! transcript a request asking for one gets.
//!
//! * An audio part is `inlineData` of an `audio/…` MIME type (Google lists
//!   WAV, MP3, AIFF, AAC, OGG Vorbis and FLAC; raw `audio/L16` and
//!   `audio/pcm` are 16-bit mono PCM at their `rate=`, 16000 by default).
//!   A WAV file is read by its header (16-bit mono WAV keeps its samples);
//!   the compressed formats are not decoded, their length taken at 128
//!   kbit/s (16000 bytes a second). Google counts 32 tokens a second of
//!   audio ([`AUDIO_TOKENS_PER_SECOND`]), rounded up.
//! * A transcript is asked for when the last user turn holds an audio part
//!   and its text says "transcri" in any letter case ("Transcribe this",
//!   "a transcript", "transcription"). The answer is the transcript of the
//!   turn's first audio part: the text spoken, when it is the simulator's
//!   own voice ([`crate::audio::read_voice`]), else the words heard in it
//!   (one per started 400 ms, drawn from the seed and the audio).

use serde_json::Value;

use super::request;
use super::validate::decode_bytes;
use crate::audio::{Recording, pcm_rate};

/// Audio tokens per second, in and out.
pub const AUDIO_TOKENS_PER_SECOND: u64 = 32;
/// Raw PCM's rate when its MIME type gives none.
const DEFAULT_PCM_RATE: u32 = 16000;
/// Bytes a second of compressed audio (128 kbit/s).
const COMPRESSED_BYTES_PER_SECOND: u64 = 16000;

/// What the ear takes in from `audio` bytes of MIME type `mime`.
pub fn recording(mime: &str, audio: &[u8]) -> Recording {
    let essence = mime
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let by_size = || Recording::opaque(audio.len() as u64 * 1000 / COMPRESSED_BYTES_PER_SECOND);
    match essence.as_str() {
        "audio/l16" | "audio/pcm" => {
            Recording::pcm16(audio, pcm_rate(mime).unwrap_or(DEFAULT_PCM_RATE))
        }
        "audio/wav" | "audio/wave" | "audio/x-wav" | "audio/vnd.wave" => {
            Recording::wav(audio).unwrap_or_else(by_size)
        }
        _ => by_size(),
    }
}

/// Tokens of `ms` milliseconds of audio.
pub fn tokens(ms: u64) -> u64 {
    (ms * AUDIO_TOKENS_PER_SECOND).div_ceil(1000)
}

/// The MIME type and bytes of an audio `inlineData` part.
pub fn audio_of(part: &Value) -> Option<(&str, Vec<u8>)> {
    let blob = part.get("inlineData")?;
    let mime = blob["mimeType"].as_str()?;
    let is_audio = mime
        .get(..6)
        .is_some_and(|kind| kind.eq_ignore_ascii_case("audio/"));
    is_audio.then(|| {
        (
            mime,
            decode_bytes(blob["data"].as_str().unwrap_or("")).unwrap_or_default(),
        )
    })
}

/// The transcript the request asks for, if it asks for one.
pub fn transcript(req: &Value, seed: u64) -> Option<String> {
    let parts = request::last_user_parts(req);
    let asks = parts
        .iter()
        .filter_map(|p| p["text"].as_str())
        .any(|t| t.to_lowercase().contains("transcri"));
    let (mime, audio) = parts.iter().find_map(audio_of).filter(|_| asks)?;
    Some(recording(mime, &audio).transcript(seed, &audio))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::{Encoding, transcript as heard};
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use serde_json::json;

    fn ask(text: &str, mime: &str, audio: &[u8]) -> Value {
        json!({"contents": [{"role": "user", "parts": [
            {"text": text},
            {"inlineData": {"mimeType": mime, "data": STANDARD.encode(audio)}}
        ]}]})
    }

    #[test]
    fn lengths_by_format() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak("ab");
        assert_eq!(
            recording("audio/L16;codec=pcm;rate=24000", &pcm).duration_ms,
            100
        );
        assert_eq!(
            recording("audio/pcm", &pcm).duration_ms,
            150,
            "16 kHz by default"
        );
        assert_eq!(recording("audio/mp3", &[0; 32000]).duration_ms, 2000);
        assert_eq!(recording("audio/wav", b"not a wav").duration_ms, 0);
        assert_eq!((tokens(1000), tokens(1001), tokens(0)), (32, 33, 0));
    }

    #[test]
    fn the_simulators_voice_is_transcribed_word_for_word() {
        let pcm = Encoding::Pcm16 { rate: 24000 }.speak("Hello, world.");
        let req = ask(
            "Please TRANSCRIBE this clip.",
            "audio/L16;codec=pcm;rate=24000",
            &pcm,
        );
        assert_eq!(transcript(&req, 0).as_deref(), Some("Hello, world."));
        let mp3 = [7u8; 16000];
        assert_eq!(
            transcript(&ask("Give me a transcript", "audio/mp3", &mp3), 3),
            Some(heard(3, &mp3, 1000))
        );
        assert_eq!(
            transcript(&ask("What is said?", "audio/L16;rate=24000", &pcm), 0),
            None
        );
        assert_eq!(transcript(&ask("transcribe", "image/png", &pcm), 0), None);
        let earlier = json!({"contents": [
            ask("transcribe", "audio/pcm;rate=24000", &pcm)["contents"][0],
            {"role": "model", "parts": [{"text": "Hello, world."}]},
            {"role": "user", "parts": [{"text": "Now transcribe it again"}]}
        ]});
        assert_eq!(
            transcript(&earlier, 0),
            None,
            "only the last user turn's audio"
        );
    }
}
