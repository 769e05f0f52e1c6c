//! A declarative description of the Gemini request messages (the union of
//! v1, v1beta and v1alpha, plus every field google-genai sends), walked by
//! [`super::validate`]. Field names are the lowerCamelCase JSON names; the
//! snake_case proto names are derived from them. Gemini Live's messages
//! (`crate::live::proto`) are built from the same parts.

/// What a field holds.
#[derive(Debug)]
pub enum Kind {
    String,
    Bool,
    Int32,
    /// proto int64: a JSON number or a decimal string.
    Int64,
    Float,
    /// Base64 text (standard or URL-safe alphabet, padding optional).
    Bytes,
    /// `google.protobuf.Duration`, e.g. `"1.5s"`.
    Duration,
    /// `google.protobuf.Timestamp` (RFC 3339).
    Timestamp,
    Enum(&'static EnumType),
    Message(&'static Message),
    /// `map<string, V>`.
    Map(&'static Kind),
    /// `google.protobuf.Value`: any JSON.
    Value,
    /// `google.protobuf.Struct`: any JSON object.
    Struct,
}

#[derive(Debug)]
pub struct Field {
    pub json: &'static str,
    pub kind: Kind,
    pub repeated: bool,
}

#[derive(Debug)]
pub struct Message {
    /// The name under `google.ai.generativelanguage.{version}.`.
    pub name: &'static str,
    pub fields: &'static [Field],
}

#[derive(Debug)]
pub struct EnumType {
    /// The name under `google.ai.generativelanguage.{version}.`.
    pub name: &'static str,
    pub values: &'static [&'static str],
    /// Gemini accepts schema types in lower case (`"object"`) as well.
    pub any_case: bool,
}

pub const fn one(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        repeated: false,
    }
}

pub const fn many(json: &'static str, kind: Kind) -> Field {
    Field {
        json,
        kind,
        repeated: true,
    }
}

pub const fn enumeration(name: &'static str, values: &'static [&'static str]) -> EnumType {
    EnumType {
        name,
        values,
        any_case: false,
    }
}

use Kind::{
    Bool, Bytes, Duration, Float, Int32, Int64, Map, String as Str, Struct, Timestamp, Value,
};

pub const fn msg(m: &'static Message) -> Kind {
    Kind::Message(m)
}

pub const fn en(e: &'static EnumType) -> Kind {
    Kind::Enum(e)
}

pub static GENERATE_CONTENT_REQUEST: Message = Message {
    name: "GenerateContentRequest",
    fields: &[
        one("model", Str),
        many("contents", msg(&CONTENT)),
        one("systemInstruction", msg(&CONTENT)),
        many("tools", msg(&TOOL)),
        one("toolConfig", msg(&TOOL_CONFIG)),
        many("safetySettings", msg(&SAFETY_SETTING)),
        one("generationConfig", msg(&GENERATION_CONFIG)),
        one("cachedContent", Str),
        one("labels", Map(&Str)),
        one("serviceTier", Str),
        one("store", Bool),
    ],
};

pub static COUNT_TOKENS_REQUEST: Message = Message {
    name: "CountTokensRequest",
    fields: &[
        one("model", Str),
        many("contents", msg(&CONTENT)),
        one("generateContentRequest", msg(&GENERATE_CONTENT_REQUEST)),
    ],
};

pub static EMBED_CONTENT_REQUEST: Message = Message {
    name: "EmbedContentRequest",
    fields: &[
        one("model", Str),
        one("content", msg(&CONTENT)),
        one("taskType", en(&TASK_TYPE)),
        one("title", Str),
        one("outputDimensionality", Int32),
    ],
};

pub static BATCH_EMBED_CONTENTS_REQUEST: Message = Message {
    name: "BatchEmbedContentsRequest",
    fields: &[many("requests", msg(&EMBED_CONTENT_REQUEST))],
};

pub static CONTENT: Message = Message {
    name: "Content",
    fields: &[many("parts", msg(&PART)), one("role", Str)],
};

static PART: Message = Message {
    name: "Part",
    fields: &[
        one("text", Str),
        one("inlineData", msg(&BLOB)),
        one("fileData", msg(&FILE_DATA)),
        one("functionCall", msg(&FUNCTION_CALL)),
        one("functionResponse", msg(&FUNCTION_RESPONSE)),
        one("executableCode", msg(&EXECUTABLE_CODE)),
        one("codeExecutionResult", msg(&CODE_EXECUTION_RESULT)),
        one("thought", Bool),
        one("thoughtSignature", Bytes),
        one("videoMetadata", msg(&VIDEO_METADATA)),
        one("mediaResolution", msg(&PART_MEDIA_RESOLUTION)),
        one("toolCall", msg(&TOOL_CALL)),
        one("toolResponse", msg(&TOOL_RESPONSE)),
        one("partMetadata", Struct),
        one("audioTranscription", Struct),
        one("mediaProcessing", Struct),
        one("speechMetadata", Struct),
        one("documentMetadata", Struct),
        one("spreadsheetMetadata", Struct),
        one("audioMetadata", Struct),
    ],
};

pub static BLOB: Message = Message {
    name: "Blob",
    fields: &[
        one("mimeType", Str),
        one("data", Bytes),
        one("displayName", Str),
    ],
};

static FILE_DATA: Message = Message {
    name: "FileData",
    fields: &[
        one("mimeType", Str),
        one("fileUri", Str),
        one("displayName", Str),
    ],
};

static FUNCTION_CALL: Message = Message {
    name: "FunctionCall",
    fields: &[
        one("id", Str),
        one("name", Str),
        one("args", Struct),
        many("partialArgs", Struct),
        one("willContinue", Bool),
    ],
};

pub static FUNCTION_RESPONSE: Message = Message {
    name: "FunctionResponse",
    fields: &[
        one("id", Str),
        one("name", Str),
        one("response", Struct),
        many("parts", msg(&FUNCTION_RESPONSE_PART)),
        one("willContinue", Bool),
        one("scheduling", en(&SCHEDULING)),
    ],
};

static FUNCTION_RESPONSE_PART: Message = Message {
    name: "FunctionResponsePart",
    fields: &[
        one("inlineData", msg(&BLOB)),
        one("fileData", msg(&FILE_DATA)),
        one("mediaResolution", msg(&PART_MEDIA_RESOLUTION)),
        one("videoMetadata", msg(&VIDEO_METADATA)),
        one("mediaProcessing", Struct),
        one("documentMetadata", Struct),
        one("spreadsheetMetadata", Struct),
        one("audioMetadata", Struct),
    ],
};

static EXECUTABLE_CODE: Message = Message {
    name: "ExecutableCode",
    fields: &[
        one("language", en(&LANGUAGE)),
        one("code", Str),
        one("id", Str),
    ],
};

static CODE_EXECUTION_RESULT: Message = Message {
    name: "CodeExecutionResult",
    fields: &[
        one("outcome", en(&OUTCOME)),
        one("output", Str),
        one("id", Str),
    ],
};

static VIDEO_METADATA: Message = Message {
    name: "VideoMetadata",
    fields: &[
        one("startOffset", Duration),
        one("endOffset", Duration),
        one("fps", Float),
        many("contentLayers", Struct),
    ],
};

static PART_MEDIA_RESOLUTION: Message = Message {
    name: "Part.MediaResolution",
    fields: &[
        one("level", en(&PART_MEDIA_RESOLUTION_LEVEL)),
        one("numTokens", Int32),
    ],
};

static TOOL_CALL: Message = Message {
    name: "ToolCall",
    fields: &[one("id", Str), one("toolType", Str), one("args", Struct)],
};

static TOOL_RESPONSE: Message = Message {
    name: "ToolResponse",
    fields: &[
        one("id", Str),
        one("toolType", Str),
        one("response", Struct),
    ],
};

pub static TOOL: Message = Message {
    name: "Tool",
    fields: &[
        many("functionDeclarations", msg(&FUNCTION_DECLARATION)),
        one("googleSearchRetrieval", msg(&GOOGLE_SEARCH_RETRIEVAL)),
        one("codeExecution", msg(&EMPTY_TOOL)),
        one("googleSearch", msg(&GOOGLE_SEARCH)),
        one("computerUse", msg(&COMPUTER_USE)),
        one("urlContext", msg(&URL_CONTEXT)),
        one("fileSearch", msg(&FILE_SEARCH)),
        one("googleMaps", msg(&GOOGLE_MAPS)),
        many("mcpServers", msg(&MCP_SERVER)),
    ],
};

static EMPTY_TOOL: Message = Message {
    name: "CodeExecution",
    fields: &[],
};

static URL_CONTEXT: Message = Message {
    name: "UrlContext",
    fields: &[],
};

static FUNCTION_DECLARATION: Message = Message {
    name: "FunctionDeclaration",
    fields: &[
        one("name", Str),
        one("description", Str),
        one("parameters", msg(&SCHEMA)),
        one("parametersJsonSchema", Value),
        one("response", msg(&SCHEMA)),
        one("responseJsonSchema", Value),
        one("behavior", en(&BEHAVIOR)),
    ],
};

static SCHEMA_KIND: Kind = Kind::Message(&SCHEMA);

/// Gemini's OpenAPI-subset schema.
pub static SCHEMA: Message = Message {
    name: "Schema",
    fields: &[
        one("type", en(&TYPE)),
        one("format", Str),
        one("title", Str),
        one("description", Str),
        one("nullable", Bool),
        many("enum", Str),
        one("maxItems", Int64),
        one("minItems", Int64),
        one("properties", Map(&SCHEMA_KIND)),
        many("required", Str),
        one("minProperties", Int64),
        one("maxProperties", Int64),
        one("minLength", Int64),
        one("maxLength", Int64),
        one("pattern", Str),
        one("example", Value),
        many("anyOf", msg(&SCHEMA)),
        many("propertyOrdering", Str),
        one("default", Value),
        one("items", msg(&SCHEMA)),
        one("minimum", Float),
        one("maximum", Float),
        one("additionalProperties", Value),
        one("defs", Map(&SCHEMA_KIND)),
        one("ref", Str),
    ],
};

static GOOGLE_SEARCH_RETRIEVAL: Message = Message {
    name: "GoogleSearchRetrieval",
    fields: &[one(
        "dynamicRetrievalConfig",
        msg(&DYNAMIC_RETRIEVAL_CONFIG),
    )],
};

static DYNAMIC_RETRIEVAL_CONFIG: Message = Message {
    name: "DynamicRetrievalConfig",
    fields: &[
        one("mode", en(&DYNAMIC_RETRIEVAL_MODE)),
        one("dynamicThreshold", Float),
    ],
};

static GOOGLE_SEARCH: Message = Message {
    name: "GoogleSearch",
    fields: &[
        one("timeRangeFilter", msg(&INTERVAL)),
        one("searchTypes", Struct),
        many("excludeDomains", Str),
        one("blockingConfidence", Str),
    ],
};

static INTERVAL: Message = Message {
    name: "Interval",
    fields: &[one("startTime", Timestamp), one("endTime", Timestamp)],
};

static COMPUTER_USE: Message = Message {
    name: "ComputerUse",
    fields: &[
        one("environment", en(&ENVIRONMENT)),
        many("excludedPredefinedFunctions", Str),
        one("enablePromptInjectionDetection", Bool),
        many("disabledSafetyPolicies", Str),
    ],
};

static FILE_SEARCH: Message = Message {
    name: "FileSearch",
    fields: &[
        many("fileSearchStoreNames", Str),
        one("topK", Int32),
        one("metadataFilter", Str),
    ],
};

static GOOGLE_MAPS: Message = Message {
    name: "GoogleMaps",
    fields: &[one("authConfig", Struct), one("enableWidget", Bool)],
};

static MCP_SERVER: Message = Message {
    name: "McpServer",
    fields: &[one("name", Str), one("streamableHttpTransport", Struct)],
};

static TOOL_CONFIG: Message = Message {
    name: "ToolConfig",
    fields: &[
        one("functionCallingConfig", msg(&FUNCTION_CALLING_CONFIG)),
        one("retrievalConfig", msg(&RETRIEVAL_CONFIG)),
        one("includeServerSideToolInvocations", Bool),
    ],
};

static FUNCTION_CALLING_CONFIG: Message = Message {
    name: "FunctionCallingConfig",
    fields: &[
        one("mode", en(&FUNCTION_CALLING_MODE)),
        many("allowedFunctionNames", Str),
        one("streamFunctionCallArguments", Bool),
    ],
};

static RETRIEVAL_CONFIG: Message = Message {
    name: "RetrievalConfig",
    fields: &[one("latLng", msg(&LAT_LNG)), one("languageCode", Str)],
};

static LAT_LNG: Message = Message {
    name: "LatLng",
    fields: &[one("latitude", Float), one("longitude", Float)],
};

pub static SAFETY_SETTING: Message = Message {
    name: "SafetySetting",
    fields: &[
        one("category", en(&HARM_CATEGORY)),
        one("threshold", en(&HARM_BLOCK_THRESHOLD)),
        one("method", en(&HARM_BLOCK_METHOD)),
    ],
};

pub static GENERATION_CONFIG: Message = Message {
    name: "GenerationConfig",
    fields: &[
        one("candidateCount", Int32),
        many("stopSequences", Str),
        one("maxOutputTokens", Int32),
        one("temperature", Float),
        one("topP", Float),
        one("topK", Int32),
        one("seed", Int32),
        one("presencePenalty", Float),
        one("frequencyPenalty", Float),
        one("responseLogprobs", Bool),
        one("logprobs", Int32),
        one("responseMimeType", Str),
        one("responseSchema", msg(&SCHEMA)),
        one("responseJsonSchema", Value),
        many("responseModalities", en(&MODALITY)),
        one("mediaResolution", en(&MEDIA_RESOLUTION)),
        one("speechConfig", msg(&SPEECH_CONFIG)),
        one("thinkingConfig", msg(&THINKING_CONFIG)),
        one("imageConfig", msg(&IMAGE_CONFIG)),
        one("enableEnhancedCivicAnswers", Bool),
        one("enableAffectiveDialog", Bool),
        one("audioTranscriptionConfig", Struct),
        one("continuationToken", Str),
        // Gemini Live's speech translation.
        one("translationConfig", msg(&TRANSLATION_CONFIG)),
    ],
};

static TRANSLATION_CONFIG: Message = Message {
    name: "TranslationConfig",
    fields: &[
        one("targetLanguageCode", Str),
        one("echoTargetLanguage", Bool),
    ],
};

static SPEECH_CONFIG: Message = Message {
    name: "SpeechConfig",
    fields: &[
        one("voiceConfig", msg(&VOICE_CONFIG)),
        one("multiSpeakerVoiceConfig", msg(&MULTI_SPEAKER_VOICE_CONFIG)),
        one("languageCode", Str),
    ],
};

static VOICE_CONFIG: Message = Message {
    name: "VoiceConfig",
    fields: &[
        one("prebuiltVoiceConfig", msg(&PREBUILT_VOICE_CONFIG)),
        one("replicatedVoiceConfig", Struct),
        one("voice", Str),
    ],
};

static PREBUILT_VOICE_CONFIG: Message = Message {
    name: "PrebuiltVoiceConfig",
    fields: &[one("voiceName", Str)],
};

static MULTI_SPEAKER_VOICE_CONFIG: Message = Message {
    name: "MultiSpeakerVoiceConfig",
    fields: &[many("speakerVoiceConfigs", msg(&SPEAKER_VOICE_CONFIG))],
};

static SPEAKER_VOICE_CONFIG: Message = Message {
    name: "SpeakerVoiceConfig",
    fields: &[one("speaker", Str), one("voiceConfig", msg(&VOICE_CONFIG))],
};

static THINKING_CONFIG: Message = Message {
    name: "ThinkingConfig",
    fields: &[
        one("includeThoughts", Bool),
        one("thinkingBudget", Int32),
        one("thinkingLevel", en(&THINKING_LEVEL)),
    ],
};

static IMAGE_CONFIG: Message = Message {
    name: "ImageConfig",
    fields: &[one("aspectRatio", Str), one("imageSize", Str)],
};

static TYPE: EnumType = EnumType {
    name: "Type",
    values: &[
        "TYPE_UNSPECIFIED",
        "STRING",
        "NUMBER",
        "INTEGER",
        "BOOLEAN",
        "ARRAY",
        "OBJECT",
        "NULL",
    ],
    any_case: true,
};

static TASK_TYPE: EnumType = enumeration(
    "TaskType",
    &[
        "TASK_TYPE_UNSPECIFIED",
        "RETRIEVAL_QUERY",
        "RETRIEVAL_DOCUMENT",
        "SEMANTIC_SIMILARITY",
        "CLASSIFICATION",
        "CLUSTERING",
        "QUESTION_ANSWERING",
        "FACT_VERIFICATION",
        "CODE_RETRIEVAL_QUERY",
    ],
);

static SCHEDULING: EnumType = enumeration(
    "FunctionResponse.Scheduling",
    &["SCHEDULING_UNSPECIFIED", "SILENT", "WHEN_IDLE", "INTERRUPT"],
);

static LANGUAGE: EnumType = enumeration(
    "ExecutableCode.Language",
    &["LANGUAGE_UNSPECIFIED", "PYTHON"],
);

static OUTCOME: EnumType = enumeration(
    "CodeExecutionResult.Outcome",
    &[
        "OUTCOME_UNSPECIFIED",
        "OUTCOME_OK",
        "OUTCOME_FAILED",
        "OUTCOME_DEADLINE_EXCEEDED",
    ],
);

static PART_MEDIA_RESOLUTION_LEVEL: EnumType = enumeration(
    "Part.MediaResolution.Level",
    &[
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
        "MEDIA_RESOLUTION_ULTRA_HIGH",
    ],
);

static BEHAVIOR: EnumType = enumeration(
    "FunctionDeclaration.Behavior",
    &["UNSPECIFIED", "BLOCKING", "NON_BLOCKING"],
);

static DYNAMIC_RETRIEVAL_MODE: EnumType = enumeration(
    "DynamicRetrievalConfig.Mode",
    &["MODE_UNSPECIFIED", "MODE_DYNAMIC"],
);

static ENVIRONMENT: EnumType = enumeration(
    "ComputerUse.Environment",
    &[
        "ENVIRONMENT_UNSPECIFIED",
        "ENVIRONMENT_BROWSER",
        "ENVIRONMENT_MOBILE",
        "ENVIRONMENT_DESKTOP",
    ],
);

pub static FUNCTION_CALLING_MODE: EnumType = enumeration(
    "FunctionCallingConfig.Mode",
    &["MODE_UNSPECIFIED", "AUTO", "ANY", "NONE", "VALIDATED"],
);

static HARM_CATEGORY: EnumType = enumeration(
    "HarmCategory",
    &[
        "HARM_CATEGORY_UNSPECIFIED",
        "HARM_CATEGORY_DEROGATORY",
        "HARM_CATEGORY_TOXICITY",
        "HARM_CATEGORY_VIOLENCE",
        "HARM_CATEGORY_SEXUAL",
        "HARM_CATEGORY_MEDICAL",
        "HARM_CATEGORY_DANGEROUS",
        "HARM_CATEGORY_HARASSMENT",
        "HARM_CATEGORY_HATE_SPEECH",
        "HARM_CATEGORY_SEXUALLY_EXPLICIT",
        "HARM_CATEGORY_DANGEROUS_CONTENT",
        "HARM_CATEGORY_CIVIC_INTEGRITY",
        "HARM_CATEGORY_JAILBREAK",
        "HARM_CATEGORY_IMAGE_HATE",
        "HARM_CATEGORY_IMAGE_DANGEROUS_CONTENT",
        "HARM_CATEGORY_IMAGE_HARASSMENT",
        "HARM_CATEGORY_IMAGE_SEXUALLY_EXPLICIT",
    ],
);

static HARM_BLOCK_THRESHOLD: EnumType = enumeration(
    "SafetySetting.HarmBlockThreshold",
    &[
        "HARM_BLOCK_THRESHOLD_UNSPECIFIED",
        "BLOCK_LOW_AND_ABOVE",
        "BLOCK_MEDIUM_AND_ABOVE",
        "BLOCK_ONLY_HIGH",
        "BLOCK_NONE",
        "OFF",
    ],
);

static HARM_BLOCK_METHOD: EnumType = enumeration(
    "SafetySetting.HarmBlockMethod",
    &["HARM_BLOCK_METHOD_UNSPECIFIED", "SEVERITY", "PROBABILITY"],
);

static MODALITY: EnumType = enumeration(
    "GenerationConfig.Modality",
    &["MODALITY_UNSPECIFIED", "TEXT", "IMAGE", "AUDIO", "VIDEO"],
);

static MEDIA_RESOLUTION: EnumType = enumeration(
    "GenerationConfig.MediaResolution",
    &[
        "MEDIA_RESOLUTION_UNSPECIFIED",
        "MEDIA_RESOLUTION_LOW",
        "MEDIA_RESOLUTION_MEDIUM",
        "MEDIA_RESOLUTION_HIGH",
    ],
);

/// Google's REST examples write levels in lower case (`"low"`).
static THINKING_LEVEL: EnumType = EnumType {
    name: "GenerationConfig.ThinkingConfig.ThinkingLevel",
    values: &[
        "THINKING_LEVEL_UNSPECIFIED",
        "MINIMAL",
        "LOW",
        "MEDIUM",
        "HIGH",
        "XHIGH",
    ],
    any_case: true,
};
