//! Gemini Live's client messages (`BidiGenerateContentClientMessage` and
//! everything under it), described with [`crate::gemini::proto`]'s parts so
//! the same walk parses them: camelCase and snake_case names at every depth,
//! Google's words for unknown fields and wrong types. The field lists cover
//! what google-genai 3.4 sends for the Gemini API (`_LiveConnectConfig_to_mldev`,
//! `_LiveClientMessage_to_mldev`, the `send_*` methods).

use crate::gemini::proto::Kind::{Bool, Bytes, Int32, Int64, Map, String as Str};
use crate::gemini::proto::{
    BLOB, CONTENT, EnumType, FUNCTION_RESPONSE, GENERATION_CONFIG, Message, SAFETY_SETTING, TOOL,
    en, enumeration, many, msg, one,
};

/// The top level: exactly one of its fields is set (a proto `oneof`).
pub static CLIENT_MESSAGE: Message = Message {
    name: "BidiGenerateContentClientMessage",
    fields: &[
        one("setup", msg(&SETUP)),
        one("clientContent", msg(&CLIENT_CONTENT)),
        one("realtimeInput", msg(&REALTIME_INPUT)),
        one("toolResponse", msg(&TOOL_RESPONSE)),
        one("contextUpdate", msg(&CONTEXT_UPDATE)),
    ],
};

static SETUP: Message = Message {
    name: "BidiGenerateContentSetup",
    fields: &[
        one("model", Str),
        one("generationConfig", msg(&GENERATION_CONFIG)),
        one("systemInstruction", msg(&CONTENT)),
        many("tools", msg(&TOOL)),
        one("realtimeInputConfig", msg(&REALTIME_INPUT_CONFIG)),
        one("sessionResumption", msg(&SESSION_RESUMPTION)),
        one("contextWindowCompression", msg(&CONTEXT_WINDOW_COMPRESSION)),
        one("inputAudioTranscription", msg(&AUDIO_TRANSCRIPTION_CONFIG)),
        one("outputAudioTranscription", msg(&AUDIO_TRANSCRIPTION_CONFIG)),
        one("proactivity", msg(&PROACTIVITY)),
        one("historyConfig", msg(&HISTORY_CONFIG)),
        one("avatarConfig", msg(&AVATAR_CONFIG)),
        many("safetySettings", msg(&SAFETY_SETTING)),
        one("labels", Map(&Str)),
    ],
};

static REALTIME_INPUT_CONFIG: Message = Message {
    name: "RealtimeInputConfig",
    fields: &[
        one(
            "automaticActivityDetection",
            msg(&AUTOMATIC_ACTIVITY_DETECTION),
        ),
        one("activityHandling", en(&ACTIVITY_HANDLING)),
        one("turnCoverage", en(&TURN_COVERAGE)),
        one("interimTranscriptTimestampEnabled", Bool),
    ],
};

static AUTOMATIC_ACTIVITY_DETECTION: Message = Message {
    name: "AutomaticActivityDetection",
    fields: &[
        one("disabled", Bool),
        one("startOfSpeechSensitivity", en(&START_SENSITIVITY)),
        one("endOfSpeechSensitivity", en(&END_SENSITIVITY)),
        one("prefixPaddingMs", Int32),
        one("silenceDurationMs", Int32),
    ],
};

static SESSION_RESUMPTION: Message = Message {
    name: "SessionResumptionConfig",
    fields: &[one("handle", Str), one("transparent", Bool)],
};

static CONTEXT_WINDOW_COMPRESSION: Message = Message {
    name: "ContextWindowCompressionConfig",
    fields: &[
        one("triggerTokens", Int64),
        one("slidingWindow", msg(&SLIDING_WINDOW)),
    ],
};

static SLIDING_WINDOW: Message = Message {
    name: "ContextWindowCompressionConfig.SlidingWindow",
    fields: &[one("targetTokens", Int64)],
};

static AUDIO_TRANSCRIPTION_CONFIG: Message = Message {
    name: "AudioTranscriptionConfig",
    fields: &[
        many("languageCodes", Str),
        one("languageAuto", msg(&LANGUAGE_AUTO)),
        one("languageHints", msg(&LANGUAGE_HINTS)),
        many("customVocabulary", Str),
        many("adaptationPhrases", Str),
        one("wordTimestamp", Bool),
        one("diarization", Bool),
        one("mode", en(&TRANSCRIPTION_MODE)),
        one("sourceText", Str),
    ],
};

static LANGUAGE_AUTO: Message = Message {
    name: "AudioTranscriptionConfig.LanguageAuto",
    fields: &[],
};

static LANGUAGE_HINTS: Message = Message {
    name: "AudioTranscriptionConfig.LanguageHints",
    fields: &[many("languageCodes", Str)],
};

static PROACTIVITY: Message = Message {
    name: "ProactivityConfig",
    fields: &[one("proactiveAudio", Bool), one("proactiveVideo", Bool)],
};

static HISTORY_CONFIG: Message = Message {
    name: "HistoryConfig",
    fields: &[one("initialHistoryInClientContent", Bool)],
};

static AVATAR_CONFIG: Message = Message {
    name: "AvatarConfig",
    fields: &[
        one("avatarName", Str),
        one("customizedAvatar", msg(&CUSTOMIZED_AVATAR)),
        one("audioBitrateBps", Int32),
        one("videoBitrateBps", Int32),
    ],
};

static CUSTOMIZED_AVATAR: Message = Message {
    name: "CustomizedAvatar",
    fields: &[one("imageMimeType", Str), one("imageData", Bytes)],
};

static CLIENT_CONTENT: Message = Message {
    name: "BidiGenerateContentClientContent",
    fields: &[many("turns", msg(&CONTENT)), one("turnComplete", Bool)],
};

static REALTIME_INPUT: Message = Message {
    name: "BidiGenerateContentRealtimeInput",
    fields: &[
        many("mediaChunks", msg(&BLOB)),
        one("audio", msg(&BLOB)),
        one("video", msg(&BLOB)),
        one("text", Str),
        one("activityStart", msg(&ACTIVITY_START)),
        one("activityEnd", msg(&ACTIVITY_END)),
        one("audioStreamEnd", Bool),
    ],
};

static ACTIVITY_START: Message = Message {
    name: "ActivityStart",
    fields: &[],
};

static ACTIVITY_END: Message = Message {
    name: "ActivityEnd",
    fields: &[],
};

static TOOL_RESPONSE: Message = Message {
    name: "BidiGenerateContentToolResponse",
    fields: &[many("functionResponses", msg(&FUNCTION_RESPONSE))],
};

static CONTEXT_UPDATE: Message = Message {
    name: "BidiGenerateContentContextUpdate",
    fields: &[
        one("systemInstruction", msg(&CONTENT)),
        one("tools", msg(&CONTEXT_UPDATE_TOOLS)),
    ],
};

static CONTEXT_UPDATE_TOOLS: Message = Message {
    name: "BidiGenerateContentContextUpdate.Tools",
    fields: &[many("tools", msg(&TOOL))],
};

static START_SENSITIVITY: EnumType = enumeration(
    "StartSensitivity",
    &[
        "START_SENSITIVITY_UNSPECIFIED",
        "START_SENSITIVITY_HIGH",
        "START_SENSITIVITY_LOW",
    ],
);

static END_SENSITIVITY: EnumType = enumeration(
    "EndSensitivity",
    &[
        "END_SENSITIVITY_UNSPECIFIED",
        "END_SENSITIVITY_HIGH",
        "END_SENSITIVITY_LOW",
    ],
);

static ACTIVITY_HANDLING: EnumType = enumeration(
    "ActivityHandling",
    &[
        "ACTIVITY_HANDLING_UNSPECIFIED",
        "START_OF_ACTIVITY_INTERRUPTS",
        "NO_INTERRUPTION",
    ],
);

static TURN_COVERAGE: EnumType = enumeration(
    "TurnCoverage",
    &[
        "TURN_COVERAGE_UNSPECIFIED",
        "TURN_INCLUDES_ONLY_ACTIVITY",
        "TURN_INCLUDES_ALL_INPUT",
    ],
);

static TRANSCRIPTION_MODE: EnumType = enumeration(
    "AudioTranscriptionConfig.Mode",
    &["MODE_UNSPECIFIED", "VERBATIM", "SMART"],
);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gemini::validate::parse;
    use serde_json::json;

    fn errors(v: serde_json::Value) -> Vec<String> {
        parse(&CLIENT_MESSAGE, v, "v1beta")
            .err()
            .unwrap_or_default()
            .into_iter()
            .map(|v| v.description)
            .collect()
    }

    #[test]
    fn what_the_sdk_sends_parses() {
        let setup = json!({"setup": {
            "model": "models/gemini-2.0-flash-live-001",
            "generationConfig": {"responseModalities": ["AUDIO"], "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Puck"}}}, "mediaResolution": "MEDIA_RESOLUTION_LOW", "enableAffectiveDialog": true, "translationConfig": {"targetLanguageCode": "fr"}},
            "systemInstruction": {"parts": [{"text": "be brief"}], "role": "user"},
            "tools": [{"functionDeclarations": [{"name": "f", "parametersJsonSchema": {"type": "object"}}]}],
            "realtimeInputConfig": {"automatic_activity_detection": {"disabled": true, "start_of_speech_sensitivity": "START_SENSITIVITY_LOW"}, "activity_handling": "NO_INTERRUPTION"},
            "sessionResumption": {"handle": "h", "transparent": true},
            "contextWindowCompression": {"trigger_tokens": 100, "sliding_window": {"target_tokens": 50}},
            "inputAudioTranscription": {}, "outputAudioTranscription": {"language_codes": ["en-US"]},
            "proactivity": {"proactive_audio": true},
            "historyConfig": {"initial_history_in_client_content": true},
            "safetySettings": [{"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_NONE"}],
            "labels": {"a": "b"}
        }});
        assert_eq!(errors(setup), Vec::<String>::new());
        for other in [
            json!({"client_content": {"turns": [{"role": "user", "parts": [{"text": "hi"}]}], "turn_complete": true}}),
            json!({"realtime_input": {"audio": {"data": "AAAA", "mime_type": "audio/pcm;rate=16000"}, "activity_start": {}, "audio_stream_end": true}}),
            json!({"realtimeInput": {"mediaChunks": [{"data": "AAAA", "mimeType": "image/jpeg"}], "text": "hi", "video": {"data": "", "mimeType": "image/png"}}}),
            json!({"tool_response": {"functionResponses": [{"id": "1", "name": "f", "response": {"x": 1}, "scheduling": "SILENT"}]}}),
            json!({"contextUpdate": {"systemInstruction": {"parts": [{"text": "x"}]}, "tools": {"tools": []}}}),
        ] {
            assert_eq!(errors(other.clone()), Vec::<String>::new(), "{other}");
        }
    }

    #[test]
    fn unknown_fields_name_their_path() {
        assert_eq!(
            errors(json!({"setup": {"model": "m", "foo": 1}})),
            ["Invalid JSON payload received. Unknown name \"foo\" at 'setup': Cannot find field."]
        );
        assert_eq!(
            errors(json!({"realtimeInput": {"audio": {"data": 5}}})),
            ["Invalid value at 'realtime_input.audio.data' (TYPE_BYTES), 5"]
        );
    }
}
