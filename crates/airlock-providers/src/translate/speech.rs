//! OpenAI `/v1/audio/speech` ⇄ Gemini `generateContent` (or
//! `streamGenerateContent`) with a TTS model's `AUDIO` output.
//!
//! Request: `input` is the user's text; `instructions` and `speed` become
//! the spoken-style direction before it, the way Google's TTS guide steers
//! a voice ("Say cheerfully: Have a wonderful day!"): `instructions`
//! as given (trailing punctuation dropped), a `speed` other than 1 as
//! "at 1.5 times normal speed" (OpenAI's range, 0.25 to 4, is checked;
//! Gemini has no speed setting, so the direction is the faithful way to
//! ask for it). `voice` is
//! `speechConfig.voiceConfig.prebuiltVoiceConfig.voiceName`: Gemini's 30
//! prebuilt voices by name (any case), or OpenAI's voices, each mapped to
//! the Gemini voice whose character Google describes alike:
//!
//! | OpenAI | Gemini | | OpenAI | Gemini |
//! |--------|--------|-|--------|--------|
//! | alloy (neutral) | Schedar (even) | | onyx (deep) | Orus (firm) |
//! | ash (clear) | Iapetus (clear) | | nova (bright) | Zephyr (bright) |
//! | ballad (smooth) | Algieba (smooth) | | sage (calm) | Vindemiatrix (gentle) |
//! | coral (warm) | Sulafat (warm) | | shimmer (soft) | Achernar (soft) |
//! | echo (resonant) | Charon (informative) | | verse (expressive) | Sadachbia (lively) |
//! | fable (storyteller) | Sadaltager (knowledgeable) | | marin (natural) | Aoede (breezy) |
//! | | | | cedar (natural) | Umbriel (easy-going) |
//!
//! A custom voice (`{"id": ...}`) or any other name is a 400 naming it.
//!
//! `response_format`: Gemini speaks 16-bit PCM (`audio/L16;codec=pcm;
//! rate=24000`), given as `pcm` (raw, as OpenAI's is: 24 kHz mono), `wav`
//! or `flac` (containers written by [`crate::audio`]). `mp3`, `opus` and
//! `aac` need an encoder and are refused, and so is a request without
//! `response_format`: OpenAI's default is `mp3`, and answering WAV bytes
//! to a client expecting MP3 would break it silently.
//!
//! `stream_format: "sse"`: the gateway streams, each Gemini chunk's audio a
//! `speech.audio.delta` event ([`gemini_speech_chunk_to_openai_events`]),
//! then `speech.audio.done` with the usage ([`openai_speech_done_event`]).
//! The deltas are Gemini's PCM passed through, so the format must be `pcm`.

use serde_json::{Value, json};

use super::media_answer::{self, MediaAnswerError, Medium};
use super::params::{Params, TranslateError};
use crate::audio::{self, PcmFormat};

/// A translated speech request.
#[derive(Debug, Clone, PartialEq)]
pub struct SpeechTranslation {
    /// The `generateContent` / `streamGenerateContent` body.
    pub body: Value,
    /// The audio format the client asked for.
    pub format: SpeechFormat,
    /// `stream_format: "sse"`: answer with `speech.audio.*` events.
    pub sse: bool,
}

/// The audio formats produced from Gemini's PCM.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SpeechFormat {
    Wav,
    Pcm,
    Flac,
}

impl SpeechFormat {
    /// The `Content-Type` OpenAI answers this format with.
    pub fn content_type(self) -> &'static str {
        match self {
            SpeechFormat::Wav => "audio/wav",
            SpeechFormat::Pcm => "audio/pcm",
            SpeechFormat::Flac => "audio/flac",
        }
    }
}

const ARGUMENTS: [&str; 7] = [
    "input",
    "model",
    "voice",
    "instructions",
    "response_format",
    "speed",
    "stream_format",
];

/// Gemini's prebuilt voices.
const GEMINI_VOICES: [&str; 30] = [
    "Achernar",
    "Achird",
    "Algenib",
    "Algieba",
    "Alnilam",
    "Aoede",
    "Autonoe",
    "Callirrhoe",
    "Charon",
    "Despina",
    "Enceladus",
    "Erinome",
    "Fenrir",
    "Gacrux",
    "Iapetus",
    "Kore",
    "Laomedeia",
    "Leda",
    "Orus",
    "Puck",
    "Pulcherrima",
    "Rasalgethi",
    "Sadachbia",
    "Sadaltager",
    "Schedar",
    "Sulafat",
    "Umbriel",
    "Vindemiatrix",
    "Zephyr",
    "Zubenelgenubi",
];

/// OpenAI's built-in voices and the Gemini voice each is spoken by.
const OPENAI_VOICES: [(&str, &str); 13] = [
    ("alloy", "Schedar"),
    ("ash", "Iapetus"),
    ("ballad", "Algieba"),
    ("coral", "Sulafat"),
    ("echo", "Charon"),
    ("fable", "Sadaltager"),
    ("onyx", "Orus"),
    ("nova", "Zephyr"),
    ("sage", "Vindemiatrix"),
    ("shimmer", "Achernar"),
    ("verse", "Sadachbia"),
    ("marin", "Aoede"),
    ("cedar", "Umbriel"),
];

/// OpenAI's speech formats that need an encoder.
const ENCODED: [&str; 3] = ["mp3", "opus", "aac"];

/// OpenAI audio/speech request → Gemini TTS request.
pub fn openai_speech_to_gemini(request: &Value) -> Result<SpeechTranslation, TranslateError> {
    let params = match request {
        Value::Object(_) => Params::of(request, "")?,
        _ => {
            return Err(TranslateError::new(
                "The request body must be a JSON object.",
                None,
            ));
        }
    };
    if let Some(key) = params.keys().find(|k| !ARGUMENTS.contains(&k.as_str())) {
        return Err(TranslateError::unrecognized(key));
    }
    params.string("model")?;
    let input = params.required_string("input")?;
    if input.trim().is_empty() {
        return Err(TranslateError::new(
            "Invalid value for 'input': must not be empty.",
            Some("input"),
        ));
    }
    let voice = voice(params.required("voice")?)?;
    let format = format(params.string("response_format")?)?;
    let sse = match params.string("stream_format")? {
        None | Some("audio") => false,
        Some("sse") => true,
        Some(other) => {
            return Err(TranslateError::invalid_value(
                "stream_format",
                other,
                &["sse", "audio"],
            ));
        }
    };
    if sse && format != SpeechFormat::Pcm {
        return Err(TranslateError::new(
            "With stream_format 'sse', Gemini speech is streamed as raw PCM: set response_format to 'pcm'.",
            Some("stream_format"),
        ));
    }
    let pace = pace(params.number("speed")?)?;
    let instructions = params
        .string("instructions")?
        .map(|i| i.trim().trim_end_matches(['.', ',', ':', ';', '!', ' ']))
        .filter(|i| !i.is_empty());
    let direction = match (instructions, pace) {
        (None, None) => None,
        (Some(instructions), None) => Some(instructions.to_owned()),
        (None, Some(pace)) => Some(format!("Say {pace}")),
        (Some(instructions), Some(pace)) => Some(format!("{instructions}, {pace}")),
    };
    let text = match direction {
        Some(direction) => format!("{direction}: {input}"),
        None => input.to_owned(),
    };
    Ok(SpeechTranslation {
        body: json!({
            "contents": [{"role": "user", "parts": [{"text": text}]}],
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": voice}}},
            },
        }),
        format,
        sse,
    })
}

/// The Gemini voice for OpenAI's `voice`.
fn voice(voice: &Value) -> Result<&'static str, TranslateError> {
    let name = match voice {
        Value::String(name) => name.as_str(),
        Value::Object(_) => {
            return Err(TranslateError::new(
                "Custom voices are not available for Gemini speech models: name a built-in voice.",
                Some("voice"),
            ));
        }
        other => return Err(TranslateError::invalid_type("voice", "a string", other)),
    };
    let mapped = OPENAI_VOICES
        .iter()
        .find(|(openai, _)| openai.eq_ignore_ascii_case(name))
        .map(|(_, gemini)| *gemini)
        .or_else(|| {
            GEMINI_VOICES
                .iter()
                .find(|gemini| gemini.eq_ignore_ascii_case(name))
                .copied()
        });
    mapped.ok_or_else(|| {
        let openai: Vec<&str> = OPENAI_VOICES.iter().map(|(openai, _)| *openai).collect();
        TranslateError::new(
            format!(
                "Invalid value: '{name}'. Supported voices are OpenAI's ({}) and Gemini's ({}).",
                openai.join(", "),
                GEMINI_VOICES.join(", ")
            ),
            Some("voice"),
        )
    })
}

fn format(asked: Option<&str>) -> Result<SpeechFormat, TranslateError> {
    match asked {
        Some("wav") => Ok(SpeechFormat::Wav),
        Some("pcm") => Ok(SpeechFormat::Pcm),
        Some("flac") => Ok(SpeechFormat::Flac),
        None => Err(TranslateError::new(
            "response_format defaults to 'mp3', which needs an audio encoder this gateway does not have for Gemini speech models: set response_format to 'wav', 'pcm' or 'flac'.",
            Some("response_format"),
        )),
        Some(encoded) if ENCODED.contains(&encoded) => Err(TranslateError::new(
            format!(
                "Invalid value: '{encoded}'. 'mp3', 'opus' and 'aac' need an audio encoder this gateway does not have for Gemini speech models: supported values are 'wav', 'pcm' and 'flac'."
            ),
            Some("response_format"),
        )),
        Some(other) => Err(TranslateError::invalid_value(
            "response_format",
            other,
            &["wav", "pcm", "flac"],
        )),
    }
}

/// The direction for `speed`, `None` at normal speed.
fn pace(speed: Option<&Value>) -> Result<Option<String>, TranslateError> {
    let Some(speed) = speed.and_then(Value::as_f64) else {
        return Ok(None);
    };
    if !(0.25..=4.0).contains(&speed) {
        return Err(TranslateError::new(
            format!("Invalid value for 'speed': {speed}. It must be between 0.25 and 4.0."),
            Some("speed"),
        ));
    }
    Ok((speed != 1.0).then(|| format!("at {speed} times normal speed")))
}

/// Gemini's complete TTS answer → the audio in the asked format, with its
/// `Content-Type`.
pub fn gemini_speech_to_openai(
    answer: &Value,
    translation: &SpeechTranslation,
) -> Result<(Vec<u8>, &'static str), MediaAnswerError> {
    let parts: Vec<(&str, &str)> = media_answer::first_candidate(answer)
        .map(|candidate| media_answer::inline_media(candidate, "audio/").collect())
        .unwrap_or_default();
    if parts.is_empty() {
        return Err(media_answer::refusal(answer, Medium::Speech));
    }
    let mut pcm = Vec::new();
    let mut format = None;
    for (mime, data) in parts {
        let part_format = audio::pcm_format(mime).ok_or_else(|| {
            MediaAnswerError::Unreadable(format!("speech of type '{mime}', not 16-bit PCM"))
        })?;
        if format.is_some_and(|f| f != part_format) {
            return Err(MediaAnswerError::Unreadable(
                "speech parts of different PCM formats".into(),
            ));
        }
        format = Some(part_format);
        pcm.extend(media_answer::decode_base64(data)?);
    }
    let format = format.unwrap_or(PcmFormat::SPEECH);
    let bytes = match translation.format {
        SpeechFormat::Pcm if format != PcmFormat::SPEECH => {
            return Err(MediaAnswerError::Unreadable(format!(
                "PCM at {} Hz in {} channels, where OpenAI's pcm is 24 kHz mono",
                format.rate(),
                format.channels()
            )));
        }
        SpeechFormat::Pcm => pcm,
        SpeechFormat::Wav => audio::wav(&pcm, format),
        SpeechFormat::Flac => audio::flac(&pcm, format),
    };
    Ok((bytes, translation.format.content_type()))
}

/// One chunk of Gemini's TTS stream → OpenAI `speech.audio.delta` events,
/// one per audio part (its base64 PCM passed through as `audio`).
pub fn gemini_speech_chunk_to_openai_events(chunk: &Value) -> Vec<Value> {
    media_answer::first_candidate(chunk)
        .into_iter()
        .flat_map(|candidate| media_answer::inline_media(candidate, "audio/"))
        .map(|(_, data)| json!({"type": "speech.audio.delta", "audio": data}))
        .collect()
}

/// OpenAI's `speech.audio.done` event, with the usage of the stream's
/// `usageMetadata` (thinking counts as output).
pub fn openai_speech_done_event(usage_metadata: &Value) -> Value {
    let (input, output, total) = media_answer::token_counts(usage_metadata);
    json!({
        "type": "speech.audio.done",
        "usage": {"input_tokens": input, "output_tokens": output, "total_tokens": total},
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;

    fn translate(request: Value) -> Result<SpeechTranslation, TranslateError> {
        openai_speech_to_gemini(&request)
    }

    fn spoken(request: Value) -> Value {
        translate(request).unwrap().body["contents"][0]["parts"][0]["text"].clone()
    }

    fn voice_of(request: Value) -> Value {
        translate(request).unwrap().body["generationConfig"]["speechConfig"]["voiceConfig"]
            ["prebuiltVoiceConfig"]["voiceName"]
            .clone()
    }

    fn error(request: Value) -> (String, Option<String>) {
        let err = translate(request).unwrap_err();
        (err.message, err.param)
    }

    #[test]
    fn a_request_becomes_a_tts_request() {
        let translation = translate(json!({
            "model": "tts-1", "input": "Have a wonderful day!", "voice": "Kore",
            "response_format": "wav", "speed": 1.0, "stream_format": "audio"
        }))
        .unwrap();
        assert_eq!(
            translation,
            SpeechTranslation {
                body: json!({
                    "contents": [{"role": "user", "parts": [{"text": "Have a wonderful day!"}]}],
                    "generationConfig": {
                        "responseModalities": ["AUDIO"],
                        "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}}}
                    }
                }),
                format: SpeechFormat::Wav,
                sse: false,
            }
        );
    }

    #[test]
    fn every_openai_voice_maps_to_a_gemini_voice() {
        for (openai, gemini) in OPENAI_VOICES {
            assert!(GEMINI_VOICES.contains(&gemini), "{gemini}");
            assert_eq!(
                voice_of(json!({"input": "hi", "voice": openai, "response_format": "pcm"})),
                gemini
            );
        }
        let mapped: std::collections::HashSet<_> = OPENAI_VOICES.iter().map(|(_, g)| g).collect();
        assert_eq!(mapped.len(), OPENAI_VOICES.len(), "each a voice of its own");
    }

    #[test]
    fn gemini_voices_are_taken_in_any_case() {
        for name in GEMINI_VOICES {
            assert_eq!(
                voice_of(
                    json!({"input": "hi", "voice": name.to_lowercase(), "response_format": "pcm"})
                ),
                name
            );
        }
        assert_eq!(
            voice_of(json!({"input": "hi", "voice": "ALLOY", "response_format": "pcm"})),
            "Schedar"
        );
    }

    #[test]
    fn instructions_and_speed_direct_the_voice() {
        let base = json!({"input": "Hello there.", "voice": "alloy", "response_format": "wav"});
        let with = |extra: Value| {
            let mut request = base.clone();
            request
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            spoken(request)
        };
        assert_eq!(
            with(json!({"instructions": "Speak in a cheerful tone. "})),
            "Speak in a cheerful tone: Hello there."
        );
        assert_eq!(
            with(json!({"speed": 1.5})),
            "Say at 1.5 times normal speed: Hello there."
        );
        assert_eq!(
            with(json!({"instructions": "Whisper", "speed": 0.25})),
            "Whisper, at 0.25 times normal speed: Hello there."
        );
        assert_eq!(
            with(json!({"speed": 2})),
            "Say at 2 times normal speed: Hello there."
        );
        assert_eq!(
            with(json!({"instructions": "  ", "speed": 1})),
            "Hello there."
        );
    }

    #[test]
    fn formats_and_streaming() {
        for (asked, format) in [
            ("wav", SpeechFormat::Wav),
            ("pcm", SpeechFormat::Pcm),
            ("flac", SpeechFormat::Flac),
        ] {
            let translation =
                translate(json!({"input": "hi", "voice": "nova", "response_format": asked}))
                    .unwrap();
            assert_eq!(translation.format, format);
            assert!(!translation.sse);
        }
        let sse = translate(json!({"input": "hi", "voice": "nova", "response_format": "pcm", "stream_format": "sse"})).unwrap();
        assert!(sse.sse);
        assert_eq!(SpeechFormat::Flac.content_type(), "audio/flac");
        assert_eq!(SpeechFormat::Wav.content_type(), "audio/wav");
        assert_eq!(SpeechFormat::Pcm.content_type(), "audio/pcm");
    }

    #[test]
    fn refusals_name_the_parameter() {
        let ok = json!({"input": "hi", "voice": "alloy", "response_format": "wav"});
        let with = |key: &str, value: Value| {
            let mut request = ok.clone();
            request[key] = value;
            request
        };
        let without = |key: &str| {
            let mut request = ok.clone();
            request.as_object_mut().unwrap().remove(key);
            request
        };
        let cases = [
            (without("response_format"), Some("response_format"), "response_format defaults to 'mp3', which needs an audio encoder this gateway does not have for Gemini speech models: set response_format to 'wav', 'pcm' or 'flac'.".to_owned()),
            (with("response_format", json!("opus")), Some("response_format"), "Invalid value: 'opus'. 'mp3', 'opus' and 'aac' need an audio encoder this gateway does not have for Gemini speech models: supported values are 'wav', 'pcm' and 'flac'.".to_owned()),
            (with("response_format", json!("mp3")), Some("response_format"), "Invalid value: 'mp3'. 'mp3', 'opus' and 'aac' need an audio encoder this gateway does not have for Gemini speech models: supported values are 'wav', 'pcm' and 'flac'.".to_owned()),
            (with("response_format", json!("ogg")), Some("response_format"), "Invalid value: 'ogg'. Supported values are: 'wav', 'pcm', and 'flac'.".to_owned()),
            (with("stream_format", json!("sse")), Some("stream_format"), "With stream_format 'sse', Gemini speech is streamed as raw PCM: set response_format to 'pcm'.".to_owned()),
            (with("stream_format", json!("chunks")), Some("stream_format"), "Invalid value: 'chunks'. Supported values are: 'sse' and 'audio'.".to_owned()),
            (with("speed", json!(4.5)), Some("speed"), "Invalid value for 'speed': 4.5. It must be between 0.25 and 4.0.".to_owned()),
            (with("speed", json!(0.1)), Some("speed"), "Invalid value for 'speed': 0.1. It must be between 0.25 and 4.0.".to_owned()),
            (with("speed", json!("fast")), Some("speed"), "Invalid type for 'speed': expected a number, but got a string instead.".to_owned()),
            (with("voice", json!({"id": "voice_123"})), Some("voice"), "Custom voices are not available for Gemini speech models: name a built-in voice.".to_owned()),
            (with("voice", json!(7)), Some("voice"), "Invalid type for 'voice': expected a string, but got an integer instead.".to_owned()),
            (without("voice"), Some("voice"), "Missing required parameter: 'voice'.".to_owned()),
            (without("input"), Some("input"), "Missing required parameter: 'input'.".to_owned()),
            (with("input", json!("")), Some("input"), "Invalid value for 'input': must not be empty.".to_owned()),
            (with("instructions", json!(["x"])), Some("instructions"), "Invalid type for 'instructions': expected a string, but got an array instead.".to_owned()),
            (with("pitch", json!(2)), None, "Unrecognized request argument supplied: pitch".to_owned()),
        ];
        for (request, param, message) in cases {
            assert_eq!(
                error(request.clone()),
                (message, param.map(str::to_owned)),
                "{request}"
            );
        }
        let (message, param) = error(with("voice", json!("robot")));
        assert_eq!(param.as_deref(), Some("voice"));
        assert!(
            message
                .starts_with("Invalid value: 'robot'. Supported voices are OpenAI's (alloy, ash,"),
            "{message}"
        );
        assert!(message.ends_with("Zephyr, Zubenelgenubi)."), "{message}");
        assert_eq!(
            translate(json!("hi")).unwrap_err().message,
            "The request body must be a JSON object."
        );
    }

    /// A Gemini TTS answer with these PCM chunks as audio parts.
    fn answer(chunks: &[&[u8]], mime: &str) -> Value {
        let parts: Vec<Value> = chunks
            .iter()
            .map(|c| json!({"inlineData": {"mimeType": mime, "data": STANDARD.encode(c)}}))
            .collect();
        json!({"candidates": [{"content": {"role": "model", "parts": parts}, "finishReason": "STOP"}],
               "usageMetadata": {"promptTokenCount": 9, "candidatesTokenCount": 32, "totalTokenCount": 41}})
    }

    fn asking(format: &str) -> SpeechTranslation {
        translate(json!({"input": "hi", "voice": "alloy", "response_format": format})).unwrap()
    }

    const SPEECH_MIME: &str = "audio/L16;codec=pcm;rate=24000";

    #[test]
    fn pcm_is_every_audio_part_joined() {
        let gemini = answer(&[&[1, 0, 2, 0], &[3, 0]], SPEECH_MIME);
        assert_eq!(
            gemini_speech_to_openai(&gemini, &asking("pcm")).unwrap(),
            (vec![1, 0, 2, 0, 3, 0], "audio/pcm")
        );
    }

    #[test]
    fn wav_and_flac_wrap_the_pcm_at_its_rate() {
        let pcm: Vec<u8> = (0..4800u16).flat_map(|s| s.to_le_bytes()).collect();
        let gemini = answer(&[&pcm], "audio/L16;codec=pcm;rate=16000");
        let (wav, wav_type) = gemini_speech_to_openai(&gemini, &asking("wav")).unwrap();
        assert_eq!(wav_type, "audio/wav");
        assert_eq!(wav, audio::wav(&pcm, PcmFormat::new(16_000, 1).unwrap()));
        let (flac, flac_type) = gemini_speech_to_openai(&gemini, &asking("flac")).unwrap();
        assert_eq!(flac_type, "audio/flac");
        assert_eq!(flac, audio::flac(&pcm, PcmFormat::new(16_000, 1).unwrap()));
        assert_eq!(
            audio::audio_duration_seconds(&flac, "audio/flac"),
            Some(0.3)
        );
    }

    #[test]
    fn unreadable_audio() {
        let cases = [
            (answer(&[b"RIFF"], "audio/wav"), "pcm"),
            (
                json!({"candidates": [{"content": {"parts": [
                    {"inlineData": {"mimeType": SPEECH_MIME, "data": "AAAA"}},
                    {"inlineData": {"mimeType": "audio/L16;rate=16000", "data": "AAAA"}}
                ]}}]}),
                "wav",
            ),
            (
                json!({"candidates": [{"content": {"parts": [{"inlineData": {"mimeType": SPEECH_MIME, "data": "**"}}]}}]}),
                "wav",
            ),
            (answer(&[&[0, 0]], "audio/L16;rate=16000"), "pcm"),
        ];
        for (gemini, format) in cases {
            assert!(
                matches!(
                    gemini_speech_to_openai(&gemini, &asking(format)),
                    Err(MediaAnswerError::Unreadable(_))
                ),
                "{gemini}"
            );
        }
    }

    #[test]
    fn an_answer_without_audio_is_a_refusal() {
        let gemini = json!({"candidates": [{"finishReason": "OTHER"}]});
        let Err(MediaAnswerError::Refused(body)) = gemini_speech_to_openai(&gemini, &asking("wav"))
        else {
            panic!("a refusal")
        };
        assert_eq!(
            body["error"]["message"],
            "The model answered without audio (finish reason OTHER)."
        );
    }

    #[test]
    fn stream_chunks_become_deltas_and_usage_the_done_event() {
        let chunk = answer(&[&[1, 0], &[2, 0]], SPEECH_MIME);
        assert_eq!(
            gemini_speech_chunk_to_openai_events(&chunk),
            vec![
                json!({"type": "speech.audio.delta", "audio": "AQA="}),
                json!({"type": "speech.audio.delta", "audio": "AgA="}),
            ]
        );
        assert!(gemini_speech_chunk_to_openai_events(&json!({"usageMetadata": {}})).is_empty());
        assert_eq!(
            openai_speech_done_event(&chunk["usageMetadata"]),
            json!({"type": "speech.audio.done", "usage": {"input_tokens": 9, "output_tokens": 32, "total_tokens": 41}})
        );
    }
}
