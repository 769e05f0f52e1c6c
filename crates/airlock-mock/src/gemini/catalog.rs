//! The Gemini models the simulator serves, and their `Model` resources.

use serde_json::{Value, json};

#[derive(Debug)]
pub struct GeminiModel {
    pub id: &'static str,
    display_name: &'static str,
    description: &'static str,
    version: &'static str,
    input_token_limit: u64,
    pub output_token_limit: u64,
    methods: &'static [&'static str],
    /// Generation parameters' defaults; `None` for embedding models.
    sampling: Option<Sampling>,
    /// Native embedding size, for embedding models.
    pub embedding_dimensions: Option<usize>,
}

#[derive(Debug, Clone, Copy)]
struct Sampling {
    top_k: u32,
    thinking: bool,
}

const GENERATIVE: &[&str] = &[
    "generateContent",
    "countTokens",
    "createCachedContent",
    "batchGenerateContent",
];
const GEMINI_EMBEDDING: &[&str] = &[
    "embedContent",
    "countTextTokens",
    "countTokens",
    "asyncBatchEmbedContent",
];
const LEGACY_EMBEDDING: &[&str] = &["embedContent"];
const LIVE: &[&str] = &["bidiGenerateContent", "countTokens"];

const fn generative(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    version: &'static str,
    output_token_limit: u64,
    top_k: u32,
    thinking: bool,
) -> GeminiModel {
    GeminiModel {
        id,
        display_name,
        description,
        version,
        input_token_limit: 1_048_576,
        output_token_limit,
        methods: GENERATIVE,
        sampling: Some(Sampling { top_k, thinking }),
        embedding_dimensions: None,
    }
}

/// A Gemini Live model: `bidiGenerateContent` only (with `countTokens`).
const fn live(
    id: &'static str,
    display_name: &'static str,
    version: &'static str,
    input_token_limit: u64,
) -> GeminiModel {
    GeminiModel {
        id,
        display_name,
        description: display_name,
        version,
        input_token_limit,
        output_token_limit: 8_192,
        methods: LIVE,
        sampling: Some(Sampling {
            top_k: 64,
            thinking: false,
        }),
        embedding_dimensions: None,
    }
}

pub static MODELS: &[GeminiModel] = &[
    generative(
        "gemini-2.5-pro",
        "Gemini 2.5 Pro",
        "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
        "2.5",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-2.5-flash",
        "Gemini 2.5 Flash",
        "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
        "001",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-2.5-flash-lite",
        "Gemini 2.5 Flash-Lite",
        "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        "001",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-2.0-flash",
        "Gemini 2.0 Flash",
        "Gemini 2.0 Flash",
        "2.0",
        8_192,
        40,
        false,
    ),
    generative(
        "gemini-2.0-flash-001",
        "Gemini 2.0 Flash 001",
        "Stable version of Gemini 2.0 Flash, our fast and versatile multimodal model for scaling across diverse tasks, released in January of 2025.",
        "2.0",
        8_192,
        40,
        false,
    ),
    generative(
        "gemini-2.0-flash-lite",
        "Gemini 2.0 Flash-Lite",
        "Gemini 2.0 Flash-Lite",
        "2.0",
        8_192,
        40,
        false,
    ),
    generative(
        "gemini-3-pro-preview",
        "Gemini 3 Pro Preview",
        "Gemini 3 Pro Preview",
        "3-pro-preview-11-2025",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-flash-latest",
        "Gemini Flash Latest",
        "Latest release of Gemini Flash",
        "Gemini Flash Latest",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-flash-lite-latest",
        "Gemini Flash-Lite Latest",
        "Latest release of Gemini Flash-Lite",
        "Gemini Flash-Lite Latest",
        65_536,
        64,
        true,
    ),
    generative(
        "gemini-pro-latest",
        "Gemini Pro Latest",
        "Latest release of Gemini Pro",
        "Gemini Pro Latest",
        65_536,
        64,
        true,
    ),
    live(
        "gemini-2.0-flash-live-001",
        "Gemini 2.0 Flash Live 001",
        "001",
        131_072,
    ),
    live(
        "gemini-live-2.5-flash-preview",
        "Gemini Live 2.5 Flash Preview",
        "001",
        1_048_576,
    ),
    live(
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "Gemini 2.5 Flash Native Audio Preview 09-2025",
        "09-2025",
        131_072,
    ),
    live(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "Gemini 2.5 Flash Native Audio Preview 12-2025",
        "12-2025",
        131_072,
    ),
    live(
        "gemini-2.5-flash-native-audio-latest",
        "Gemini 2.5 Flash Native Audio Latest",
        "Gemini 2.5 Flash Native Audio Latest",
        131_072,
    ),
    live(
        "gemini-3.1-flash-live-preview",
        "Gemini 3.1 Flash Live Preview",
        "3.1-flash-live-preview",
        131_072,
    ),
    GeminiModel {
        id: "gemini-embedding-001",
        display_name: "Gemini Embedding 001",
        description: "Obtain a distributed representation of a text.",
        version: "001",
        input_token_limit: 2_048,
        output_token_limit: 1,
        methods: GEMINI_EMBEDDING,
        sampling: None,
        embedding_dimensions: Some(3072),
    },
    GeminiModel {
        id: "text-embedding-004",
        display_name: "Text Embedding 004",
        description: "Obtain a distributed representation of a text.",
        version: "004",
        input_token_limit: 2_048,
        output_token_limit: 1,
        methods: LEGACY_EMBEDDING,
        sampling: None,
        embedding_dimensions: Some(768),
    },
];

/// Looks a model up by id, with or without the `models/` prefix.
pub fn find(name: &str) -> Option<&'static GeminiModel> {
    let id = name.strip_prefix("models/").unwrap_or(name);
    MODELS.iter().find(|m| m.id == id)
}

impl GeminiModel {
    /// Whether the model serves a method (`streamGenerateContent` goes with
    /// `generateContent`, `batchEmbedContents` with `embedContent`).
    pub fn supports(&self, method: &str) -> bool {
        let listed = match method {
            "streamGenerateContent" => "generateContent",
            "batchEmbedContents" => "embedContent",
            other => other,
        };
        self.methods.contains(&listed)
    }

    pub fn resource(&self) -> Value {
        let mut m = json!({
            "name": format!("models/{}", self.id),
            "version": self.version,
            "displayName": self.display_name,
            "description": self.description,
            "inputTokenLimit": self.input_token_limit,
            "outputTokenLimit": self.output_token_limit,
            "supportedGenerationMethods": self.methods,
        });
        if let Some(s) = self.sampling {
            m["temperature"] = json!(1);
            m["topP"] = json!(0.95);
            m["topK"] = json!(s.top_k);
            m["maxTemperature"] = json!(2);
            if s.thinking {
                m["thinking"] = json!(true);
            }
        }
        m
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_and_methods() {
        assert_eq!(
            find("models/gemini-2.5-flash").unwrap().id,
            "gemini-2.5-flash"
        );
        assert!(find("gemini-9").is_none());
        let flash = find("gemini-2.5-flash").unwrap();
        assert!(flash.supports("streamGenerateContent") && !flash.supports("embedContent"));
        let emb = find("text-embedding-004").unwrap();
        assert!(emb.supports("batchEmbedContents") && !emb.supports("countTokens"));
        let live = find("models/gemini-2.0-flash-live-001").unwrap();
        assert!(live.supports("bidiGenerateContent") && !live.supports("generateContent"));
        assert!(!flash.supports("bidiGenerateContent"));
        assert_eq!(flash.resource()["name"], "models/gemini-2.5-flash");
    }
}
