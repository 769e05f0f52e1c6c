//! `POST /v1/audio/transcriptions`: what was said in an uploaded file.
//!
//! * The transcript: the text itself when the file is the simulator's own
//!   voice (WAV, PCM in WAV, or FLAC as its speech writes them), else one
//!   word per started 400 ms drawn from the seed and the bytes (module
//!   [`crate::audio`]); the file is recognised by its bytes (module
//!   `listen`).
//! * Models: whisper-1 answers `json`, `text`, `srt`, `verbose_json` and
//!   `vtt`, takes `timestamp_granularities[]` with `verbose_json`, and is
//!   billed by the second (`usage: {"type": "duration", "seconds"}`, whole
//!   seconds rounded up); `stream` is ignored, as OpenAI documents.
//!   gpt-4o-transcribe and gpt-4o-mini-transcribe answer `json` and `text`
//!   only (`response_format 'srt' is not compatible with model …`), take
//!   `include[]=logprobs` (with `json`) and `chunking_strategy`, stream, and
//!   are billed by tokens: 10 per second of audio (the Realtime simulator's
//!   rate for heard audio) and the prompt's text tokens in, the
//!   transcript's text tokens out.
//! * `verbose_json`: `{task, language, duration, text, segments, usage}`
//!   (`words` instead of or beside `segments` as `timestamp_granularities`
//!   asks), timed by module `timing`; `language` is Whisper's name for the
//!   `language` given (default `english`); an unknown code is refused.
//! * Streams: `data: {"type": "transcript.text.delta", "delta"}` a word at a
//!   time, then `transcript.text.done` with the text and `usage`.

use bytes::Bytes;
use serde_json::{Value, json};

use super::super::catalog::{self, Kind};
use super::super::checks::unsupported_parameter;
use super::super::errors::ApiError;
use super::super::form::Form;
use super::super::validate::invalid_value;
use super::{languages, listen, timing};
use crate::audio::Recording;
use crate::prng::Digest;
use crate::tokens;

/// Audio tokens per second heard (GPT-4o models).
const AUDIO_TOKENS_PER_SECOND: u64 = 10;

/// The formats OpenAI names in its refusal of a file.
const FILE_FORMATS: &str =
    "['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']";

/// Parameters only other transcription models take.
const OTHER_MODELS_ONLY: [&str; 4] = [
    "keywords",
    "known_speaker_names",
    "known_speaker_references",
    "languages",
];

/// A transcription request, checked, with what was heard.
#[derive(Debug)]
pub struct Transcription {
    pub gpt4o: bool,
    pub format: String,
    pub language: &'static str,
    pub prompt: String,
    pub temperature: f64,
    pub words: bool,
    pub segments: bool,
    pub logprobs: bool,
    pub stream: bool,
    pub duration_ms: u64,
    pub text: String,
}

fn list(body: &Value, param: &str) -> Vec<String> {
    body[param]
        .as_array()
        .map(|items| {
            items
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn not_compatible(format: &str, model: &str, formats: &str) -> ApiError {
    ApiError::invalid(
        format!(
            "response_format '{format}' is not compatible with model '{model}'. Use {formats} instead."
        ),
        Some("response_format"),
        Some("unsupported_value"),
    )
}

/// Checks a valid form against the model's rules and listens to its file.
pub fn check(form: &Form, seed: u64) -> Result<Transcription, ApiError> {
    let body = &form.body;
    let name = body["model"].as_str().unwrap_or_default();
    let model = catalog::find(name).ok_or_else(|| ApiError::model_not_found(name))?;
    let Kind::Transcription { gpt4o } = model.kind else {
        let models = catalog::ids_where(|k| matches!(k, Kind::Transcription { .. }));
        return Err(invalid_value("model", name, &models));
    };
    if let Some(param) = OTHER_MODELS_ONLY.iter().find(|p| !body[**p].is_null()) {
        return Err(unsupported_parameter(param, ""));
    }
    let format = body["response_format"]
        .as_str()
        .unwrap_or("json")
        .to_owned();
    let granularities = list(body, "timestamp_granularities");
    let include = list(body, "include");
    if gpt4o {
        if !matches!(format.as_str(), "json" | "text") {
            return Err(not_compatible(&format, name, "'json' or 'text'"));
        }
        if !granularities.is_empty() {
            return Err(unsupported_parameter("timestamp_granularities", ""));
        }
        if !include.is_empty() && format != "json" {
            return Err(ApiError::invalid(
                "Invalid value for 'include': 'logprobs' is only supported with response_format 'json'.",
                Some("include"),
                None,
            ));
        }
    } else {
        if format == "diarized_json" {
            return Err(not_compatible(
                &format,
                name,
                "'json', 'text', 'srt', 'verbose_json', or 'vtt'",
            ));
        }
        for param in ["include", "chunking_strategy"] {
            if !body[param].is_null() {
                return Err(unsupported_parameter(param, ""));
            }
        }
        if !granularities.is_empty() && format != "verbose_json" {
            return Err(ApiError::invalid(
                "Invalid value for 'timestamp_granularities': timestamp granularities are only supported with response_format 'verbose_json'.",
                Some("timestamp_granularities"),
                None,
            ));
        }
    }
    let language = match body["language"].as_str() {
        None => "english",
        Some(code) => languages::name(code).ok_or_else(|| {
            ApiError::invalid(
                format!("Invalid language '{code}'. Language parameter must be specified in ISO-639-1 format."),
                Some("language"),
                Some("invalid_value"),
            )
        })?,
    };
    let Some(file) = form.files("file").first().copied() else {
        return Err(ApiError::invalid(
            "Missing required parameter: 'file'.",
            Some("file"),
            Some("missing_required_parameter"),
        ));
    };
    let recording: Recording = listen::hear(&file.bytes).ok_or_else(|| {
        ApiError::invalid(
            format!("Invalid file format. Supported formats: {FILE_FORMATS}"),
            None,
            None,
        )
    })?;
    Ok(Transcription {
        gpt4o,
        language,
        prompt: body["prompt"].as_str().unwrap_or_default().to_owned(),
        temperature: body["temperature"].as_f64().unwrap_or(0.0),
        words: granularities.iter().any(|g| g == "word"),
        segments: granularities.is_empty() || granularities.iter().any(|g| g == "segment"),
        logprobs: !include.is_empty(),
        stream: gpt4o && body["stream"] == Value::Bool(true),
        duration_ms: recording.duration_ms,
        text: recording.transcript(seed, &file.bytes),
        format,
    })
}

/// How an answer is sent.
#[derive(Debug)]
pub enum Answer {
    Json(Value),
    /// `text`, `srt` and `vtt`: `text/plain`.
    Text(String),
    /// Stream events, each one delivery chunk.
    Events(Vec<Bytes>),
}

impl Transcription {
    fn seconds(&self) -> f64 {
        self.duration_ms as f64 / 1000.0
    }

    fn usage(&self) -> Value {
        if !self.gpt4o {
            return json!({ "type": "duration", "seconds": self.duration_ms.div_ceil(1000) });
        }
        let audio = (self.duration_ms * AUDIO_TOKENS_PER_SECOND).div_ceil(1000);
        let text = tokens::text_tokens(&self.prompt);
        let output = tokens::text_tokens(&self.text);
        json!({
            "type": "tokens",
            "input_tokens": audio + text,
            "input_token_details": { "text_tokens": text, "audio_tokens": audio },
            "output_tokens": output,
            "total_tokens": audio + text + output,
        })
    }

    /// The transcript's words as tokens with log probabilities (close to
    /// 0, drawn from the text).
    fn logprobs(&self, words: &[String]) -> Value {
        let digest = Digest::new(0).part("logprobs").part(&self.text);
        words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                let draw = digest.number(i as u64).value() % 1000;
                json!({ "token": w, "logprob": -(draw as f64) / 10_000.0, "bytes": w.as_bytes() })
            })
            .collect()
    }

    /// The transcript in pieces a word long, each keeping its space.
    fn pieces(&self) -> Vec<String> {
        self.text.split_inclusive(' ').map(str::to_owned).collect()
    }

    pub fn answer(&self) -> Answer {
        if self.stream {
            return Answer::Events(self.events());
        }
        let segments = timing::segments(&self.text, self.duration_ms);
        match self.format.as_str() {
            "text" => Answer::Text(format!("{}\n", self.text)),
            "srt" => Answer::Text(timing::srt(&segments)),
            "vtt" => Answer::Text(timing::vtt(&segments)),
            "verbose_json" => Answer::Json(self.verbose(&segments)),
            _ => {
                let mut answer = json!({ "text": self.text, "usage": self.usage() });
                if self.logprobs {
                    answer["logprobs"] = self.logprobs(&self.pieces());
                }
                Answer::Json(answer)
            }
        }
    }

    fn verbose(&self, segments: &[timing::Timed]) -> Value {
        let mut answer = json!({
            "task": "transcribe",
            "language": self.language,
            "duration": self.seconds(),
            "text": self.text,
        });
        if self.segments {
            let digest = Digest::new(0).part("segment tokens").part(&self.text);
            let segments: Vec<Value> = segments
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    let tokens: Vec<u64> = (0..tokens::text_tokens(&s.text))
                        .map(|t| 220 + digest.number(i as u64).number(t).value() % 50_000)
                        .collect();
                    json!({
                        "id": i, "seek": 0, "start": s.start, "end": s.end,
                        "text": format!(" {}", s.text), "tokens": tokens,
                        "temperature": self.temperature, "avg_logprob": -0.25,
                        "compression_ratio": 1.2, "no_speech_prob": 0.01,
                    })
                })
                .collect();
            answer["segments"] = json!(segments);
        }
        if self.words {
            let words: Vec<Value> = timing::words(&self.text, self.duration_ms)
                .into_iter()
                .map(|w| json!({ "word": w.text, "start": w.start, "end": w.end }))
                .collect();
            answer["words"] = json!(words);
        }
        answer["usage"] = self.usage();
        answer
    }

    fn events(&self) -> Vec<Bytes> {
        let pieces = self.pieces();
        let logprobs = self.logprobs(&pieces);
        let frame = |event: Value| Bytes::from(format!("data: {event}\n\n"));
        let mut events: Vec<Bytes> = pieces
            .iter()
            .enumerate()
            .map(|(i, piece)| {
                let mut delta = json!({ "type": "transcript.text.delta", "delta": piece });
                if self.logprobs {
                    delta["logprobs"] = json!([logprobs[i]]);
                }
                frame(delta)
            })
            .collect();
        let mut done =
            json!({ "type": "transcript.text.done", "text": self.text, "usage": self.usage() });
        if self.logprobs {
            done["logprobs"] = logprobs;
        }
        match events.last_mut() {
            Some(last) => *last = Bytes::from([&last[..], &frame(done)[..]].concat()),
            None => events.push(frame(done)),
        }
        events
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::Encoding;
    use crate::openai::audio::formats::AudioFormat;
    use crate::openai::form::Upload;

    fn form(fields: Value, file: &[u8]) -> Form {
        let mut body = fields;
        body["file"] = json!("speech.wav");
        Form {
            body,
            files: vec![Upload {
                name: "file".into(),
                bytes: Bytes::copy_from_slice(file),
            }],
        }
    }

    fn spoken(text: &str) -> Vec<u8> {
        AudioFormat::Wav.encode(&Encoding::Pcm16 { rate: 24000 }.speak(text), 24000)
    }

    fn heard(fields: Value, text: &str) -> Transcription {
        check(&form(fields, &spoken(text)), 0).unwrap()
    }

    fn refused(fields: Value, file: &[u8]) -> ApiError {
        check(&form(fields, file), 0).unwrap_err()
    }

    #[test]
    fn whisper_reads_the_voice_and_bills_seconds() {
        let t = heard(json!({"model": "whisper-1"}), "Hello there.");
        let Answer::Json(answer) = t.answer() else {
            panic!("json")
        };
        assert_eq!(
            answer,
            json!({"text": "Hello there.", "usage": {"type": "duration", "seconds": 1}})
        );
        let t = heard(
            json!({"model": "whisper-1", "response_format": "text"}),
            "Hi.",
        );
        assert!(matches!(t.answer(), Answer::Text(s) if s == "Hi.\n"));
    }

    #[test]
    fn gpt4o_bills_tokens_and_streams() {
        let t = heard(
            json!({"model": "gpt-4o-transcribe", "stream": true, "prompt": "abcd", "include": ["logprobs"]}),
            "One two three.",
        );
        let Answer::Events(events) = t.answer() else {
            panic!("events")
        };
        let text: String = events
            .iter()
            .map(|e| String::from_utf8_lossy(e).into_owned())
            .collect();
        let parsed: Vec<Value> = text
            .split("\n\n")
            .filter_map(|e| e.strip_prefix("data: "))
            .map(|e| serde_json::from_str(e).unwrap())
            .collect();
        assert_eq!(parsed.len(), 4);
        assert_eq!(parsed[0]["delta"], "One ");
        assert_eq!(parsed[0]["logprobs"][0]["token"], "One ");
        assert_eq!(parsed[3]["text"], "One two three.");
        // 0.7 s of audio: 7 audio tokens; "abcd": 1; "One two three.": 4.
        assert_eq!(
            parsed[3]["usage"],
            json!({"type": "tokens", "input_tokens": 8, "input_token_details": {"text_tokens": 1, "audio_tokens": 7}, "output_tokens": 4, "total_tokens": 12})
        );
        let whisper = heard(json!({"model": "whisper-1", "stream": true}), "Hi.");
        assert!(
            matches!(whisper.answer(), Answer::Json(_)),
            "whisper-1 ignores stream"
        );
    }

    #[test]
    fn verbose_json_times_segments_and_words() {
        let t = heard(
            json!({"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities": ["word", "segment"], "language": "de"}),
            "Guten Tag. Wie geht es?",
        );
        let Answer::Json(v) = t.answer() else {
            panic!("json")
        };
        assert_eq!(
            (v["language"].as_str(), v["duration"].as_f64()),
            (Some("german"), Some(1.15))
        );
        assert_eq!(v["segments"].as_array().unwrap().len(), 2);
        assert_eq!(v["segments"][0]["text"], " Guten Tag.");
        assert_eq!(
            v["words"][1],
            json!({"word": "Tag.", "start": 0.3, "end": 0.5})
        );
        let words_only = heard(
            json!({"model": "whisper-1", "response_format": "verbose_json", "timestamp_granularities": ["word"]}),
            "Hi.",
        );
        let Answer::Json(v) = words_only.answer() else {
            panic!("json")
        };
        assert!(v.get("segments").is_none() && v["words"].is_array());
    }

    #[test]
    fn subtitles() {
        let t = heard(
            json!({"model": "whisper-1", "response_format": "srt"}),
            "Hi.",
        );
        assert!(
            matches!(t.answer(), Answer::Text(s) if s == "1\n00:00:00,000 --> 00:00:00,150\nHi.\n\n")
        );
        let t = heard(
            json!({"model": "whisper-1", "response_format": "vtt"}),
            "Hi.",
        );
        assert!(
            matches!(t.answer(), Answer::Text(s) if s.starts_with("WEBVTT\n\n00:00:00.000 --> "))
        );
    }

    #[test]
    fn refusals() {
        let wav = spoken("Hi.");
        let e = refused(
            json!({"model": "gpt-4o-transcribe", "response_format": "srt"}),
            &wav,
        );
        assert_eq!(
            (e.message.as_str(), e.code),
            (
                "response_format 'srt' is not compatible with model 'gpt-4o-transcribe'. Use 'json' or 'text' instead.",
                Some("unsupported_value")
            )
        );
        let e = refused(json!({"model": "whisper-1"}), b"plain text, not audio");
        assert_eq!(
            e.message,
            "Invalid file format. Supported formats: ['flac', 'm4a', 'mp3', 'mp4', 'mpeg', 'mpga', 'oga', 'ogg', 'wav', 'webm']"
        );
        let e = refused(
            json!({"model": "whisper-1", "timestamp_granularities": ["word"]}),
            &wav,
        );
        assert_eq!(e.param.as_deref(), Some("timestamp_granularities"));
        let e = refused(json!({"model": "whisper-1", "include": ["logprobs"]}), &wav);
        assert_eq!(e.param.as_deref(), Some("include"));
        let e = refused(json!({"model": "whisper-1", "language": "english"}), &wav);
        assert_eq!(e.param.as_deref(), Some("language"));
        let e = refused(
            json!({"model": "gpt-4o-mini-transcribe", "keywords": ["x"]}),
            &wav,
        );
        assert_eq!(e.code, Some("unsupported_parameter"));
        assert_eq!(
            refused(json!({"model": "tts-1"}), &wav).param.as_deref(),
            Some("model")
        );
        assert_eq!(refused(json!({"model": "whisper-9"}), &wav).status, 404);
    }
}
