//! OpenAI `/v1/audio/transcriptions` ⇄ Gemini `generateContent` with the
//! audio as an `inlineData` part (audio understanding).
//!
//! Request: the audio, then an instruction to transcribe it verbatim (and
//! nothing else), with the form's `language`, `languages`, `keywords` and
//! `prompt` as hints; `temperature` is `generationConfig.temperature`.
//! The audio must be a type Gemini reads: WAV, MP3, AIFF, AAC, OGG or FLAC
//! (OpenAI's mp4, m4a and webm are refused). Refused too, with a 400 naming
//! the field: `stream` (for now), `timestamp_granularities` `word` (Gemini
//! reports no word timing, and words spread evenly would be invented
//! timings), `response_format` `diarized_json`, `include` (logprobs),
//! `chunking_strategy` other than `auto`, `known_speaker_*`.
//!
//! Answer, by `response_format` (default `json`):
//! * `json`: `{text, usage}` with OpenAI's token usage (`input_token_details`
//!   split into audio and text by Gemini's modalities);
//! * `text`: the transcript and a newline;
//! * `verbose_json`: `task`, `language` (the form's `language` as sent, or
//!   "unknown": Gemini is not asked to name it), `duration`, `text`,
//!   `segments` and a `duration` usage;
//! * `srt` and `vtt`: one cue per segment.
//!
//! Segments are the transcript's sentences, with times spread over the
//! audio's duration by their length in characters (Gemini gives no timing).
//! The duration is read from the audio when it is WAV or FLAC
//! ([`crate::audio::audio_duration_seconds`]), else from Gemini's audio
//! tokens (32 a second, as Google documents), else estimated at 15
//! characters of transcript a second. The segments' `avg_logprob`,
//! `compression_ratio` and `no_speech_prob` are neutral values (0, 1, 0):
//! Gemini reports none of them.

use serde_json::{Value, json};

use super::form::{self, FormFile, Kind};
use super::media_answer::{self, MediaAnswerError, Medium};
use super::params::{Params, TranslateError};
use crate::audio;

/// A transcription read from `multipart/form-data` by the gateway.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionForm {
    /// The text fields, name and value, in the order sent.
    pub fields: Vec<(String, String)>,
    /// The `file` field.
    pub file: FormFile,
}

/// A translated transcription request.
#[derive(Debug, Clone, PartialEq)]
pub struct TranscriptionTranslation {
    /// The `generateContent` body.
    pub body: Value,
    /// The answer's format.
    pub format: TranscriptFormat,
    /// The audio's duration, when its header tells it.
    duration: Option<f64>,
    language: Option<String>,
    temperature: f64,
}

/// OpenAI's transcription `response_format`s that are produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TranscriptFormat {
    Json,
    Text,
    VerboseJson,
    Srt,
    Vtt,
}

const FIELDS: [(&str, Kind); 14] = [
    ("model", Kind::Text),
    ("language", Kind::Text),
    ("languages", Kind::List),
    ("prompt", Kind::Text),
    ("keywords", Kind::List),
    ("response_format", Kind::Text),
    ("temperature", Kind::Number),
    ("timestamp_granularities", Kind::List),
    ("stream", Kind::Boolean),
    ("include", Kind::List),
    ("chunking_strategy", Kind::Text),
    ("known_speaker_names", Kind::List),
    ("known_speaker_references", Kind::List),
    ("file", Kind::Text),
];

/// The audio types Gemini reads, by the names it takes them under (and
/// the aliases clients use for them).
const AUDIO_TYPES: [(&str, &str); 12] = [
    ("audio/wav", "audio/wav"),
    ("audio/x-wav", "audio/wav"),
    ("audio/wave", "audio/wav"),
    ("audio/mp3", "audio/mp3"),
    ("audio/mpeg", "audio/mp3"),
    ("audio/aiff", "audio/aiff"),
    ("audio/x-aiff", "audio/aiff"),
    ("audio/aac", "audio/aac"),
    ("audio/ogg", "audio/ogg"),
    ("audio/flac", "audio/flac"),
    ("audio/x-flac", "audio/flac"),
    ("application/ogg", "audio/ogg"),
];

/// Google's count of audio tokens per second.
const AUDIO_TOKENS_PER_SECOND: f64 = 32.0;
/// Characters of transcript per second of speech, when nothing better is
/// known (about 150 words a minute).
const CHARACTERS_PER_SECOND: f64 = 15.0;

/// OpenAI audio/transcriptions form → Gemini `generateContent` body.
pub fn openai_transcription_to_gemini(
    form: &TranscriptionForm,
) -> Result<TranscriptionTranslation, TranslateError> {
    let request = form::json_of(&form.fields, &FIELDS)?;
    let params = Params::of(&request, "")?;
    if params.get("file").is_some() {
        return Err(TranslateError::new(
            "Invalid value for 'file': expected a file upload, not text.",
            Some("file"),
        ));
    }
    params.string("model")?;
    for refused in ["known_speaker_names", "known_speaker_references"] {
        if params.get(refused).is_some() {
            return Err(TranslateError::unsupported(refused));
        }
    }
    if params.get("include").is_some() {
        return Err(TranslateError::new(
            "Log probabilities are not available for transcriptions with Gemini models: send no 'include'.",
            Some("include"),
        ));
    }
    match params.string("chunking_strategy")? {
        None | Some("auto") => {}
        Some(_) => return Err(TranslateError::unsupported("chunking_strategy")),
    }
    if params.boolean("stream")? == Some(true) {
        return Err(TranslateError::new(
            "Streaming is not available for transcriptions with Gemini models: send stream=false.",
            Some("stream"),
        ));
    }
    let format = format(params.string("response_format")?)?;
    granularities(params.array("timestamp_granularities")?, format)?;
    let temperature = match params.number("temperature")?.and_then(Value::as_f64) {
        Some(t) if !(0.0..=1.0).contains(&t) => {
            return Err(TranslateError::new(
                format!("Invalid value for 'temperature': {t}. It must be between 0 and 1."),
                Some("temperature"),
            ));
        }
        t => t,
    };
    let mime = AUDIO_TYPES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(form.file.mime))
        .map(|(_, gemini)| *gemini)
        .ok_or_else(|| {
            TranslateError::new(
                format!(
                    "Invalid file format: '{}'. Gemini models transcribe wav, mp3, aiff, aac, ogg and flac audio.",
                    form.file.mime
                ),
                Some("file"),
            )
        })?;
    let language = params.string("language")?;
    let instruction = instruction(
        language,
        &strings(params.array("languages")?),
        &strings(params.array("keywords")?),
        params.string("prompt")?,
    );
    let mut body = json!({
        "contents": [{"role": "user", "parts": [form.file.inline_part(mime), {"text": instruction}]}],
    });
    if let Some(t) = temperature {
        body["generationConfig"] = json!({"temperature": t});
    }
    Ok(TranscriptionTranslation {
        body,
        format,
        duration: audio::audio_duration_seconds(&form.file.bytes, mime),
        language: language.map(str::to_owned),
        temperature: temperature.unwrap_or(0.0),
    })
}

fn format(asked: Option<&str>) -> Result<TranscriptFormat, TranslateError> {
    Ok(match asked {
        None | Some("json") => TranscriptFormat::Json,
        Some("text") => TranscriptFormat::Text,
        Some("verbose_json") => TranscriptFormat::VerboseJson,
        Some("srt") => TranscriptFormat::Srt,
        Some("vtt") => TranscriptFormat::Vtt,
        Some("diarized_json") => {
            return Err(TranslateError::new(
                "Invalid value: 'diarized_json'. Gemini models do not tell speakers apart here: supported values are 'json', 'text', 'srt', 'verbose_json' and 'vtt'.",
                Some("response_format"),
            ));
        }
        Some(other) => {
            return Err(TranslateError::invalid_value(
                "response_format",
                other,
                &["json", "text", "srt", "verbose_json", "vtt"],
            ));
        }
    })
}

/// `timestamp_granularities`: `segment` (with `verbose_json`) only.
fn granularities(
    asked: Option<&Vec<Value>>,
    format: TranscriptFormat,
) -> Result<(), TranslateError> {
    let param = "timestamp_granularities";
    let Some(asked) = asked.filter(|a| !a.is_empty()) else {
        return Ok(());
    };
    if format != TranscriptFormat::VerboseJson {
        return Err(TranslateError::new(
            "timestamp_granularities is only supported with response_format 'verbose_json'.",
            Some(param),
        ));
    }
    for granularity in asked {
        match granularity.as_str() {
            Some("segment") => {}
            Some("word") => {
                return Err(TranslateError::new(
                    "Word timestamps are not available for Gemini models, which report no word timing: ask for 'segment' only.",
                    Some(param),
                ));
            }
            Some(other) => {
                return Err(TranslateError::invalid_value(
                    param,
                    other,
                    &["word", "segment"],
                ));
            }
            None => return Err(TranslateError::invalid_type(param, "a string", granularity)),
        }
    }
    Ok(())
}

/// The non-empty strings of a gathered list field.
fn strings(list: Option<&Vec<Value>>) -> Vec<&str> {
    list.into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

/// The text part: what to do, then the caller's hints.
fn instruction(
    language: Option<&str>,
    languages: &[&str],
    keywords: &[&str],
    prompt: Option<&str>,
) -> String {
    let mut text = String::from(
        "Transcribe the speech in this audio verbatim. Answer with the transcript only: no timestamps, speaker labels, headings or commentary. If there is no speech, answer with nothing.",
    );
    if let Some(language) = language.map(str::trim).filter(|l| !l.is_empty()) {
        text.push_str(&format!(
            " The speech is in the language with ISO-639-1 code '{language}'."
        ));
    }
    if !languages.is_empty() {
        text.push_str(&format!(
            " The speech may be in these languages (ISO-639-1 codes): {}.",
            languages.join(", ")
        ));
    }
    if !keywords.is_empty() {
        text.push_str(&format!(
            " Words and phrases that may occur: {}.",
            keywords.join("; ")
        ));
    }
    if let Some(prompt) = prompt.map(str::trim).filter(|p| !p.is_empty()) {
        text.push_str(&format!(
            " Context for spelling and style, not to be transcribed: {prompt}"
        ));
    }
    text
}

/// Gemini's answer → the transcript in the asked format, with its
/// `Content-Type`.
pub fn gemini_transcript_to_openai(
    answer: &Value,
    translation: &TranscriptionTranslation,
) -> Result<(Vec<u8>, &'static str), MediaAnswerError> {
    let candidate = media_answer::first_candidate(answer)
        .filter(|_| answer.pointer("/promptFeedback/blockReason").is_none())
        .ok_or_else(|| media_answer::refusal(answer, Medium::Transcript))?;
    let text = media_answer::answer_text(candidate).trim().to_owned();
    let finished = matches!(candidate["finishReason"].as_str(), None | Some("STOP"));
    if text.is_empty() && !finished {
        return Err(media_answer::refusal(answer, Medium::Transcript));
    }
    let metadata = answer.get("usageMetadata").filter(|m| m.is_object());
    const PLAIN: &str = "text/plain; charset=utf-8";
    const JSON: &str = "application/json";
    let (body, content_type) = match translation.format {
        TranscriptFormat::Json => {
            let mut body = json!({"text": text});
            if let Some(metadata) = metadata {
                body["usage"] = usage(metadata);
            }
            (body.to_string(), JSON)
        }
        TranscriptFormat::Text => (format!("{text}\n"), PLAIN),
        TranscriptFormat::VerboseJson => {
            let duration = duration(translation, metadata, &text);
            let segments: Vec<Value> = segments(&text, duration)
                .iter()
                .enumerate()
                .map(|(id, segment)| {
                    json!({
                        "id": id, "seek": 0, "start": segment.start, "end": segment.end,
                        "text": segment.text, "tokens": [], "temperature": translation.temperature,
                        "avg_logprob": 0.0, "compression_ratio": 1.0, "no_speech_prob": 0.0,
                    })
                })
                .collect();
            let body = json!({
                "task": "transcribe",
                "language": translation.language.as_deref().unwrap_or("unknown"),
                "duration": duration,
                "text": text,
                "segments": segments,
                "usage": {"type": "duration", "seconds": duration},
            });
            (body.to_string(), JSON)
        }
        TranscriptFormat::Srt => {
            let duration = duration(translation, metadata, &text);
            let cues: Vec<String> = segments(&text, duration)
                .iter()
                .enumerate()
                .map(|(i, s)| {
                    format!(
                        "{}\n{} --> {}\n{}\n",
                        i + 1,
                        timestamp(s.start, ','),
                        timestamp(s.end, ','),
                        s.text
                    )
                })
                .collect();
            (cues.join("\n"), PLAIN)
        }
        TranscriptFormat::Vtt => {
            let duration = duration(translation, metadata, &text);
            let mut out = String::from("WEBVTT\n");
            for s in segments(&text, duration) {
                out.push_str(&format!(
                    "\n{} --> {}\n{}\n",
                    timestamp(s.start, '.'),
                    timestamp(s.end, '.'),
                    s.text
                ));
            }
            (out, PLAIN)
        }
    };
    Ok((body.into_bytes(), content_type))
}

/// OpenAI's token usage of a transcription.
fn usage(metadata: &Value) -> Value {
    let (input, output, total) = media_answer::token_counts(metadata);
    let audio =
        media_answer::modality_tokens(&metadata["promptTokensDetails"], "AUDIO").unwrap_or(0);
    json!({
        "type": "tokens",
        "input_tokens": input,
        "output_tokens": output,
        "total_tokens": total,
        "input_token_details": {"audio_tokens": audio, "text_tokens": input.saturating_sub(audio)},
    })
}

/// The audio's duration in seconds (see the module documentation), to the
/// millisecond.
fn duration(translation: &TranscriptionTranslation, metadata: Option<&Value>, text: &str) -> f64 {
    let from_tokens = || {
        metadata
            .and_then(|m| media_answer::modality_tokens(&m["promptTokensDetails"], "AUDIO"))
            .map(|tokens| tokens as f64 / AUDIO_TOKENS_PER_SECOND)
    };
    let seconds = translation
        .duration
        .or_else(from_tokens)
        .unwrap_or_else(|| text.chars().count() as f64 / CHARACTERS_PER_SECOND);
    to_millisecond(seconds)
}

fn to_millisecond(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// A sentence and its time span.
#[derive(Debug, PartialEq)]
struct Segment<'a> {
    text: &'a str,
    start: f64,
    end: f64,
}

/// The sentences of `text` with times spread over `duration` by length.
fn segments(text: &str, duration: f64) -> Vec<Segment<'_>> {
    let sentences = sentences(text);
    let total: usize = sentences.iter().map(|s| s.chars().count()).sum();
    let mut done = 0;
    sentences
        .into_iter()
        .map(|sentence| {
            let start = duration * done as f64 / total.max(1) as f64;
            done += sentence.chars().count();
            let end = duration * done as f64 / total.max(1) as f64;
            Segment {
                text: sentence,
                start: to_millisecond(start),
                end: to_millisecond(end),
            }
        })
        .collect()
}

/// `text` cut after each sentence end (`.`, `!`, `?` or `…` followed by
/// white space or the end; CJK `。`, `！`, `？` anywhere) and at line breaks.
fn sentences(text: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        let next = chars.peek().map(|(_, n)| *n);
        let ends = matches!(c, '.' | '!' | '?' | '…') && next.is_none_or(char::is_whitespace)
            || matches!(c, '。' | '！' | '？' | '\n');
        if ends {
            let end = at + c.len_utf8();
            out.push(text[start..end].trim());
            start = end;
        }
    }
    out.push(text[start..].trim());
    out.retain(|s| !s.is_empty());
    out
}

/// `HH:MM:SS<separator>mmm`: `,` for SRT, `.` for WebVTT.
fn timestamp(seconds: f64, separator: char) -> String {
    let ms = (seconds * 1000.0).round().max(0.0) as u64;
    format!(
        "{:02}:{:02}:{:02}{separator}{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audio::PcmFormat;
    use base64::Engine;
    use base64::engine::general_purpose::STANDARD;
    use bytes::Bytes;

    /// Two seconds of 24 kHz silence as WAV.
    fn wav() -> Vec<u8> {
        audio::wav(&[0; 96_000], PcmFormat::SPEECH)
    }

    fn form(fields: &[(&str, &str)]) -> TranscriptionForm {
        form_with(fields, &wav(), "audio/wav")
    }

    fn form_with(fields: &[(&str, &str)], bytes: &[u8], mime: &'static str) -> TranscriptionForm {
        TranscriptionForm {
            fields: fields
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            file: FormFile {
                bytes: Bytes::copy_from_slice(bytes),
                mime,
            },
        }
    }

    fn translate(fields: &[(&str, &str)]) -> TranscriptionTranslation {
        openai_transcription_to_gemini(&form(fields)).unwrap()
    }

    fn instruction_of(translation: &TranscriptionTranslation) -> &str {
        translation.body["contents"][0]["parts"][1]["text"]
            .as_str()
            .unwrap()
    }

    #[test]
    fn the_audio_comes_first_then_the_instruction() {
        let translation = translate(&[("model", "whisper-1")]);
        assert_eq!(
            translation.body,
            json!({"contents": [{"role": "user", "parts": [
                {"inlineData": {"mimeType": "audio/wav", "data": STANDARD.encode(wav())}},
                {"text": "Transcribe the speech in this audio verbatim. Answer with the transcript only: no timestamps, speaker labels, headings or commentary. If there is no speech, answer with nothing."}
            ]}]})
        );
        assert_eq!(translation.format, TranscriptFormat::Json);
        assert_eq!(translation.duration, Some(2.0));
    }

    #[test]
    fn hints_and_temperature() {
        let translation = translate(&[
            ("language", "de"),
            ("languages[]", "de"),
            ("languages[]", "en"),
            ("keywords[]", "Airlock"),
            ("keywords[]", "Gemini"),
            ("prompt", "A talk about gateways."),
            ("temperature", "0.2"),
            ("chunking_strategy", "auto"),
            ("stream", "false"),
        ]);
        let text = instruction_of(&translation);
        assert!(text.starts_with("Transcribe"));
        assert!(text.ends_with(" The speech is in the language with ISO-639-1 code 'de'. The speech may be in these languages (ISO-639-1 codes): de, en. Words and phrases that may occur: Airlock; Gemini. Context for spelling and style, not to be transcribed: A talk about gateways."), "{text}");
        assert_eq!(
            translation.body["generationConfig"],
            json!({"temperature": 0.2})
        );
    }

    #[test]
    fn file_types_gemini_reads_and_their_aliases() {
        for (mime, gemini) in AUDIO_TYPES {
            let translation = openai_transcription_to_gemini(&form_with(&[], b"x", mime)).unwrap();
            assert_eq!(
                translation.body["contents"][0]["parts"][0]["inlineData"]["mimeType"],
                gemini
            );
            assert_eq!(translation.duration, None, "{mime}: no duration in 'x'");
        }
        for mime in ["audio/mp4", "audio/webm", "audio/L16;rate=24000"] {
            let err = openai_transcription_to_gemini(&form_with(&[], b"x", mime)).unwrap_err();
            assert_eq!(err.param.as_deref(), Some("file"));
            assert_eq!(
                err.message,
                format!(
                    "Invalid file format: '{mime}'. Gemini models transcribe wav, mp3, aiff, aac, ogg and flac audio."
                )
            );
        }
    }

    #[test]
    fn formats_and_segment_timestamps() {
        for (asked, format) in [
            ("json", TranscriptFormat::Json),
            ("text", TranscriptFormat::Text),
            ("verbose_json", TranscriptFormat::VerboseJson),
            ("srt", TranscriptFormat::Srt),
            ("vtt", TranscriptFormat::Vtt),
        ] {
            assert_eq!(translate(&[("response_format", asked)]).format, format);
        }
        let verbose = translate(&[
            ("response_format", "verbose_json"),
            ("timestamp_granularities[]", "segment"),
        ]);
        assert_eq!(verbose.format, TranscriptFormat::VerboseJson);
    }

    #[test]
    fn refusals_name_the_field() {
        type Case<'a> = (&'a [(&'a str, &'a str)], Option<&'a str>, &'a str);
        let cases: [Case; 14] = [
            (
                &[("stream", "true")],
                Some("stream"),
                "Streaming is not available for transcriptions with Gemini models: send stream=false.",
            ),
            (
                &[("response_format", "diarized_json")],
                Some("response_format"),
                "Invalid value: 'diarized_json'. Gemini models do not tell speakers apart here: supported values are 'json', 'text', 'srt', 'verbose_json' and 'vtt'.",
            ),
            (
                &[("response_format", "xml")],
                Some("response_format"),
                "Invalid value: 'xml'. Supported values are: 'json', 'text', 'srt', 'verbose_json', and 'vtt'.",
            ),
            (
                &[
                    ("response_format", "verbose_json"),
                    ("timestamp_granularities[]", "word"),
                ],
                Some("timestamp_granularities"),
                "Word timestamps are not available for Gemini models, which report no word timing: ask for 'segment' only.",
            ),
            (
                &[
                    ("response_format", "verbose_json"),
                    ("timestamp_granularities[]", "phrase"),
                ],
                Some("timestamp_granularities"),
                "Invalid value: 'phrase'. Supported values are: 'word' and 'segment'.",
            ),
            (
                &[("timestamp_granularities[]", "segment")],
                Some("timestamp_granularities"),
                "timestamp_granularities is only supported with response_format 'verbose_json'.",
            ),
            (
                &[("temperature", "1.5")],
                Some("temperature"),
                "Invalid value for 'temperature': 1.5. It must be between 0 and 1.",
            ),
            (
                &[("temperature", "hot")],
                Some("temperature"),
                "Invalid type for 'temperature': expected a number, but got a string instead.",
            ),
            (
                &[("include[]", "logprobs")],
                Some("include"),
                "Log probabilities are not available for transcriptions with Gemini models: send no 'include'.",
            ),
            (
                &[("chunking_strategy[type]", "server_vad")],
                Some("chunking_strategy"),
                "Unsupported parameter: 'chunking_strategy' is not supported with this model.",
            ),
            (
                &[("known_speaker_names[]", "agent")],
                Some("known_speaker_names"),
                "Unsupported parameter: 'known_speaker_names' is not supported with this model.",
            ),
            (
                &[("known_speaker_references[]", "data:audio/wav;base64,AAAA")],
                Some("known_speaker_references"),
                "Unsupported parameter: 'known_speaker_references' is not supported with this model.",
            ),
            (
                &[("file", "speech.wav")],
                Some("file"),
                "Invalid value for 'file': expected a file upload, not text.",
            ),
            (
                &[("diarize", "true")],
                None,
                "Unrecognized request argument supplied: diarize",
            ),
        ];
        for (fields, param, message) in cases {
            let err = openai_transcription_to_gemini(&form(fields)).unwrap_err();
            assert_eq!(err.message, message);
            assert_eq!(err.param.as_deref(), param, "{message}");
        }
    }

    fn answer(text: &str) -> Value {
        json!({
            "candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}],
            "usageMetadata": {
                "promptTokenCount": 100, "candidatesTokenCount": 12, "totalTokenCount": 112,
                "promptTokensDetails": [{"modality": "AUDIO", "tokenCount": 64}, {"modality": "TEXT", "tokenCount": 36}]
            }
        })
    }

    fn answered(fields: &[(&str, &str)], text: &str) -> (String, &'static str) {
        let (bytes, content_type) =
            gemini_transcript_to_openai(&answer(text), &translate(fields)).unwrap();
        (String::from_utf8(bytes).unwrap(), content_type)
    }

    #[test]
    fn json_carries_text_and_token_usage() {
        let (body, content_type) = answered(&[], " Hello there. \n");
        assert_eq!(content_type, "application/json");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({"text": "Hello there.", "usage": {
                "type": "tokens", "input_tokens": 100, "output_tokens": 12, "total_tokens": 112,
                "input_token_details": {"audio_tokens": 64, "text_tokens": 36}
            }})
        );
    }

    #[test]
    fn text_is_the_transcript_and_a_newline() {
        assert_eq!(
            answered(&[("response_format", "text")], "Hello there."),
            ("Hello there.\n".to_owned(), "text/plain; charset=utf-8")
        );
    }

    #[test]
    fn verbose_json_spreads_sentences_over_the_duration() {
        let (body, content_type) = answered(
            &[
                ("response_format", "verbose_json"),
                ("language", "en"),
                ("temperature", "0.5"),
            ],
            "One two. Three four five six!",
        );
        assert_eq!(content_type, "application/json");
        let segment = |id: u64, start: f64, end: f64, text: &str| {
            json!({"id": id, "seek": 0, "start": start, "end": end, "text": text, "tokens": [],
                   "temperature": 0.5, "avg_logprob": 0.0, "compression_ratio": 1.0, "no_speech_prob": 0.0})
        };
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap(),
            json!({
                "task": "transcribe", "language": "en", "duration": 2.0,
                "text": "One two. Three four five six!",
                "segments": [segment(0, 0.0, 0.571, "One two."), segment(1, 0.571, 2.0, "Three four five six!")],
                "usage": {"type": "duration", "seconds": 2.0}
            })
        );
    }

    #[test]
    fn srt_and_vtt_cues() {
        let text = "First sentence here. Second one?\nThird";
        let (srt, srt_type) = answered(&[("response_format", "srt")], text);
        assert_eq!(srt_type, "text/plain; charset=utf-8");
        assert_eq!(
            srt,
            "1\n00:00:00,000 --> 00:00:01,111\nFirst sentence here.\n\n2\n00:00:01,111 --> 00:00:01,722\nSecond one?\n\n3\n00:00:01,722 --> 00:00:02,000\nThird\n"
        );
        let (vtt, _) = answered(&[("response_format", "vtt")], text);
        assert_eq!(
            vtt,
            "WEBVTT\n\n00:00:00.000 --> 00:00:01.111\nFirst sentence here.\n\n00:00:01.111 --> 00:00:01.722\nSecond one?\n\n00:00:01.722 --> 00:00:02.000\nThird\n"
        );
    }

    #[test]
    fn duration_falls_back_to_audio_tokens_then_to_the_text() {
        let mp3 = openai_transcription_to_gemini(&form_with(
            &[("response_format", "verbose_json")],
            b"ID3",
            "audio/mp3",
        ))
        .unwrap();
        let (body, _) = gemini_transcript_to_openai(&answer("Hi."), &mp3).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["duration"], 2.0, "64 audio tokens");
        assert_eq!(body["language"], "unknown");
        let without_usage =
            json!({"candidates": [{"content": {"parts": [{"text": "fifteen chars.."}]}}]});
        let (body, _) = gemini_transcript_to_openai(&without_usage, &mp3).unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["duration"], 1.0);
    }

    #[test]
    fn silence_is_an_empty_transcript() {
        let (body, _) = answered(&[("response_format", "srt")], "");
        assert_eq!(body, "");
        let (body, _) = answered(&[("response_format", "vtt")], "  ");
        assert_eq!(body, "WEBVTT\n");
        let (body, _) = answered(&[("response_format", "verbose_json")], "");
        assert_eq!(
            serde_json::from_str::<Value>(&body).unwrap()["segments"],
            json!([])
        );
    }

    #[test]
    fn blocked_or_empty_unfinished_answers_are_refusals() {
        let translation = translate(&[]);
        for gemini in [
            json!({"promptFeedback": {"blockReason": "SAFETY"}}),
            json!({"promptFeedback": {"blockReason": "OTHER"}, "candidates": [{"content": {"parts": [{"text": "x"}]}}]}),
            json!({"candidates": [{"finishReason": "RECITATION"}]}),
            json!({"candidates": []}),
        ] {
            assert!(
                matches!(
                    gemini_transcript_to_openai(&gemini, &translation),
                    Err(MediaAnswerError::Refused(_))
                ),
                "{gemini}"
            );
        }
    }

    #[test]
    fn sentences_split_at_ends_followed_by_space_and_at_line_breaks() {
        assert_eq!(
            sentences("Dr. Who? Version 2.5 is out… Yes!\nnext line。次"),
            vec![
                "Dr.",
                "Who?",
                "Version 2.5 is out…",
                "Yes!",
                "next line。",
                "次"
            ]
        );
        assert_eq!(sentences("  "), Vec::<&str>::new());
    }

    #[test]
    fn timestamps() {
        assert_eq!(timestamp(0.0, ','), "00:00:00,000");
        assert_eq!(timestamp(3723.4567, ','), "01:02:03,457");
        assert_eq!(timestamp(59.9996, '.'), "00:01:00.000");
    }
}
