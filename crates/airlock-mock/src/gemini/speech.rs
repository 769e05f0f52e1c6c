//! Speech (TTS) models: the response modality they require, Google's 30
//! prebuilt voices, the `speechConfig` checks, and who says each line.
//!
//! * A speech model answers only audio: `responseModalities` must be
//!   `["AUDIO"]`, else Google's 400 "The requested combination of response
//!   modalities (TEXT) is not supported by the model. models/M accepts the
//!   following combination of response modalities:\n* AUDIO\n" (without the
//!   parenthesis when no modality is asked for).
//! * `voiceConfig.prebuiltVoiceConfig.voiceName` is one of [`VOICES`], in
//!   any letter case (Google's examples write both `Kore` and `kore`); the
//!   voice numbered by its place in the list speaks ([`crate::audio::Voice`],
//!   so each voice has its own pitch). An unset or empty name is the first
//!   voice. `languageCode` is accepted.
//! * `multiSpeakerVoiceConfig.speakerVoiceConfigs` takes exactly two
//!   `{speaker, voiceConfig}`, each with a prebuilt voice; it and
//!   `voiceConfig` are mutually exclusive. A line of the text that starts
//!   `SPEAKER:` is said, without the name, in that speaker's voice; any
//!   other line whole, in the first speaker's. New lines are said too.
//!
//! Refusals are 400 `INVALID_ARGUMENT` in Google's `* field: reason` form
//! (the reasons are the simulator's words).

use serde_json::Value;

use crate::audio::Voice;

/// Google's prebuilt voices, in the order of its voice list.
pub const VOICES: [&str; Voice::COUNT] = [
    "Zephyr",
    "Puck",
    "Charon",
    "Kore",
    "Fenrir",
    "Leda",
    "Orus",
    "Aoede",
    "Callirrhoe",
    "Autonoe",
    "Enceladus",
    "Iapetus",
    "Umbriel",
    "Algieba",
    "Despina",
    "Erinome",
    "Algenib",
    "Rasalgethi",
    "Laomedeia",
    "Achernar",
    "Alnilam",
    "Schedar",
    "Gacrux",
    "Pulcherrima",
    "Achird",
    "Zubenelgenubi",
    "Vindemiatrix",
    "Sadachbia",
    "Sadaltager",
    "Sulafat",
];

const FIELD: &str = "GenerateContentRequest.generation_config.speech_config";

/// Who speaks: one voice, or two named speakers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cast {
    Single(Voice),
    Dialogue([(String, Voice); 2]),
}

/// Google's 400 message when a speech model refuses the request.
pub fn refusal(req: &Value, model: &str) -> Option<String> {
    modality_refusal(req, model).or_else(|| cast(req).err().map(|p| format!("* {p}\n")))
}

fn modality_refusal(req: &Value, model: &str) -> Option<String> {
    let asked: Vec<&str> = req["generationConfig"]["responseModalities"]
        .as_array()
        .map(|m| m.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if !asked.is_empty() && asked.iter().all(|m| *m == "AUDIO") {
        return None;
    }
    let named = if asked.is_empty() {
        String::new()
    } else {
        format!(" ({})", asked.join(", "))
    };
    Some(format!(
        "The requested combination of response modalities{named} is not supported by the model. \
         models/{model} accepts the following combination of response modalities:\n* AUDIO\n"
    ))
}

/// The voice a `VoiceConfig` names (at `path`, for the refusal).
fn voice(config: &Value, path: &str) -> Result<Voice, String> {
    let Some(name) = config["prebuiltVoiceConfig"]["voiceName"]
        .as_str()
        .filter(|n| !n.is_empty())
    else {
        return Ok(Voice::DEFAULT);
    };
    VOICES
        .iter()
        .position(|v| v.eq_ignore_ascii_case(name))
        .map(Voice::numbered)
        .ok_or_else(|| {
            format!(
                "{path}.prebuilt_voice_config.voice_name: Voice '{name}' is not a prebuilt voice; use one of {}.",
                VOICES.join(", ")
            )
        })
}

/// The cast `speechConfig` asks for, or the refusal.
pub fn cast(req: &Value) -> Result<Cast, String> {
    let config = &req["generationConfig"]["speechConfig"];
    let single = config.get("voiceConfig");
    let Some(multi) = config.get("multiSpeakerVoiceConfig") else {
        return match single {
            Some(v) => voice(v, &format!("{FIELD}.voice_config")).map(Cast::Single),
            None => Ok(Cast::Single(Voice::DEFAULT)),
        };
    };
    if single.is_some() {
        return Err(format!(
            "{FIELD}: voice_config and multi_speaker_voice_config are mutually exclusive."
        ));
    }
    let path = format!("{FIELD}.multi_speaker_voice_config.speaker_voice_configs");
    let speakers = multi["speakerVoiceConfigs"]
        .as_array()
        .map_or(&[][..], Vec::as_slice);
    let [first, second] = speakers else {
        return Err(format!(
            "{path}: Exactly two speaker voice configurations must be provided, got {}.",
            speakers.len()
        ));
    };
    let speaker = |i: usize, s: &Value| -> Result<(String, Voice), String> {
        let name = s["speaker"].as_str().unwrap_or("");
        if name.is_empty() {
            return Err(format!("{path}[{i}].speaker: speaker is required."));
        }
        Ok((
            name.to_owned(),
            voice(&s["voiceConfig"], &format!("{path}[{i}].voice_config"))?,
        ))
    };
    Ok(Cast::Dialogue([speaker(0, first)?, speaker(1, second)?]))
}

impl Cast {
    /// What is said, in whose voice: the text's lines, a speaker's without
    /// its name, each new line with the line before it.
    pub fn lines(&self, text: &str) -> Vec<(Voice, String)> {
        let speakers = match self {
            Cast::Single(voice) => return vec![(*voice, text.to_owned())],
            Cast::Dialogue(speakers) => speakers,
        };
        let mut lines: Vec<(Voice, String)> = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            if let Some((_, said)) = lines.last_mut().filter(|_| i > 0) {
                said.push('\n');
            }
            let said = line.split_once(':').and_then(|(name, rest)| {
                speakers
                    .iter()
                    .find(|(speaker, _)| speaker == name.trim())
                    .map(|(_, voice)| (*voice, rest.trim_start().to_owned()))
            });
            lines.push(said.unwrap_or_else(|| (speakers[0].1, line.to_owned())));
        }
        lines
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn tts(speech: Value) -> Value {
        json!({"contents": [], "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": speech}})
    }

    fn prebuilt(name: &str) -> Value {
        json!({"prebuiltVoiceConfig": {"voiceName": name}})
    }

    #[test]
    fn speech_models_answer_audio_only() {
        assert_eq!(refusal(&tts(json!({})), "m"), None);
        let text = json!({"contents": [], "generationConfig": {"responseModalities": ["TEXT"]}});
        assert_eq!(
            refusal(&text, "gemini-2.5-flash-preview-tts").unwrap(),
            "The requested combination of response modalities (TEXT) is not supported by the model. models/gemini-2.5-flash-preview-tts accepts the following combination of response modalities:\n* AUDIO\n"
        );
        let both =
            json!({"contents": [], "generationConfig": {"responseModalities": ["TEXT", "AUDIO"]}});
        assert!(
            refusal(&both, "m")
                .unwrap()
                .contains("modalities (TEXT, AUDIO) is not")
        );
        assert!(
            refusal(&json!({"contents": []}), "m")
                .unwrap()
                .starts_with("The requested combination of response modalities is not supported")
        );
    }

    #[test]
    fn voices_are_googles_in_any_case() {
        assert_eq!(cast(&tts(json!({}))), Ok(Cast::Single(Voice::DEFAULT)));
        assert_eq!(
            cast(&tts(
                json!({"voiceConfig": prebuilt("Kore"), "languageCode": "de-DE"})
            )),
            Ok(Cast::Single(Voice::numbered(3)))
        );
        assert_eq!(
            cast(&tts(json!({"voiceConfig": prebuilt("sulafat")}))),
            Ok(Cast::Single(Voice::numbered(29)))
        );
        let unknown = cast(&tts(json!({"voiceConfig": prebuilt("alloy")}))).unwrap_err();
        assert!(
            unknown.starts_with("GenerateContentRequest.generation_config.speech_config.voice_config.prebuilt_voice_config.voice_name: Voice 'alloy' is not a prebuilt voice; use one of Zephyr, Puck,"),
            "{unknown}"
        );
    }

    #[test]
    fn dialogues_take_two_speakers_and_no_single_voice() {
        let speaker =
            |name: &str, voice: &str| json!({"speaker": name, "voiceConfig": prebuilt(voice)});
        let two = json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [speaker("Joe", "Kore"), speaker("Jane", "Puck")]}});
        assert_eq!(
            cast(&tts(two.clone())),
            Ok(Cast::Dialogue([
                ("Joe".into(), Voice::numbered(3)),
                ("Jane".into(), Voice::numbered(1))
            ]))
        );
        let three = json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [speaker("A", "Kore"), speaker("B", "Puck"), speaker("C", "Leda")]}});
        assert_eq!(
            cast(&tts(three)).unwrap_err(),
            "GenerateContentRequest.generation_config.speech_config.multi_speaker_voice_config.speaker_voice_configs: Exactly two speaker voice configurations must be provided, got 3."
        );
        let mut both = two.clone();
        both["voiceConfig"] = prebuilt("Kore");
        assert_eq!(
            cast(&tts(both)).unwrap_err(),
            "GenerateContentRequest.generation_config.speech_config: voice_config and multi_speaker_voice_config are mutually exclusive."
        );
        let bad_voice = json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [speaker("A", "Kore"), speaker("B", "Nova")]}});
        assert!(cast(&tts(bad_voice)).unwrap_err().starts_with(
            "GenerateContentRequest.generation_config.speech_config.multi_speaker_voice_config.speaker_voice_configs[1].voice_config.prebuilt_voice_config.voice_name: Voice 'Nova'"
        ));
        let unnamed = json!({"multiSpeakerVoiceConfig": {"speakerVoiceConfigs": [speaker("", "Kore"), speaker("B", "Puck")]}});
        assert!(
            cast(&tts(unnamed))
                .unwrap_err()
                .ends_with("[0].speaker: speaker is required.")
        );
    }

    #[test]
    fn each_line_is_said_by_its_speaker() {
        let (kore, puck) = (Voice::numbered(3), Voice::numbered(1));
        let cast = Cast::Dialogue([("Joe".into(), kore), ("Jane".into(), puck)]);
        assert_eq!(
            cast.lines("Read this:\nJoe: Hi Jane!\nJane:How are you?\nBob: hm"),
            [
                (kore, "Read this:\n".to_owned()),
                (kore, "Hi Jane!\n".to_owned()),
                (puck, "How are you?\n".to_owned()),
                (kore, "Bob: hm".to_owned()),
            ]
        );
        assert_eq!(
            Cast::Single(puck).lines("A: b\nc"),
            [(puck, "A: b\nc".to_owned())]
        );
    }
}
