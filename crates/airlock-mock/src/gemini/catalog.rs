//! The Gemini models the simulator serves, and their `Model` resources.
//!
//! The catalogue follows Google's model list as google-genai 3.4.0 and
//! ai.google.dev/gemini-api/docs/models give it (December 2026): the 2.5
//! family; Gemini 3 and later text models (3 Pro Preview, kept for the
//! tests that use it, 3.1 Pro Preview and its custom-tools variant, 3 Flash
//! Preview, 3.1 Flash-Lite, 3.5 Flash and Flash-Lite, 3.6, 3.7 and 3.8
//! Flash, Gemini 4 Argon, Carbon and Hydrogen, and the `-latest` aliases,
//! which now point at Gemini 3 models); image models (2.5 Flash Image, 3 Pro
//! Image, 3.1 Flash Image, 3.1 Flash-Lite Image); speech models (2.5 Flash
//! and Pro Preview TTS, 3.1 Flash TTS Preview, 3.8 Flash and Flash-Lite
//! TTS); Live models; embedding models. The 2.0 models are retired at
//! Google but kept because tests use them. Models Google has shut down (the
//! 1.x models, 2.0 experiments, dated 2.5 previews) are not served: like any
//! unknown name they get the 404 Google gives.
//!
//! Each model says how it thinks ([`Thinking`], checked by
//! [`super::thinking`]) and what it answers with ([`Output`]; an image
//! model's [`Canvas`] says the pictures it draws). Imagen models, retired by
//! Google, are not served: `:predict` gets Google's 404 for any model.

use serde_json::{Value, json};

use super::imaging::{self, Canvas};
use super::thinking::{Budget, Levels, Thinking};

#[derive(Debug)]
pub struct GeminiModel {
    pub id: &'static str,
    display_name: &'static str,
    description: &'static str,
    version: &'static str,
    input_token_limit: u64,
    pub output_token_limit: u64,
    methods: &'static [&'static str],
    /// `topK` default for generative models; `None` for embedding models.
    top_k: Option<u32>,
    pub thinking: Thinking,
    pub output: Output,
    /// Native embedding size, for embedding models.
    pub embedding_dimensions: Option<usize>,
}

/// What a generative model answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    Text,
    /// Text and an `image/png` part (only the image with
    /// `responseModalities: ["IMAGE"]`), drawn on this canvas.
    Image(&'static Canvas),
    /// The prompt read aloud: one `audio/L16;codec=pcm;rate=24000` part.
    Speech,
}

const GENERATIVE: &[&str] = &[
    "generateContent",
    "countTokens",
    "createCachedContent",
    "batchGenerateContent",
];
const MEDIA: &[&str] = &["generateContent", "countTokens", "batchGenerateContent"];
const GEMINI_EMBEDDING: &[&str] = &[
    "embedContent",
    "countTextTokens",
    "countTokens",
    "asyncBatchEmbedContent",
];
const LEGACY_EMBEDDING: &[&str] = &["embedContent"];
const LIVE: &[&str] = &["bidiGenerateContent", "countTokens"];

/// Models Google has shut down; they answer 404 like unknown names (the
/// catalogue test keeps them out).
#[cfg(test)]
const RETIRED: &[&str] = &[
    "gemini-1.0-pro",
    "gemini-pro",
    "gemini-1.5-pro",
    "gemini-1.5-flash",
    "gemini-1.5-flash-8b",
    "gemini-2.0-flash-exp",
    "gemini-2.0-flash-thinking-exp",
    "gemini-2.0-pro-exp",
    "gemini-2.5-pro-preview-06-05",
    "gemini-2.5-flash-preview-05-20",
    "gemini-2.5-flash-preview-09-2025",
    "gemini-2.5-flash-lite-preview-06-17",
    "gemini-2.5-flash-image-preview",
];

const MINIMAL_TO_HIGH: &[&str] = &["MINIMAL", "LOW", "MEDIUM", "HIGH"];
const LOW_TO_HIGH: &[&str] = &["LOW", "MEDIUM", "HIGH"];

const fn levels(
    levels: &'static [&'static str],
    default: &'static str,
    can_disable: bool,
) -> Thinking {
    Thinking::Levels(Levels {
        levels,
        default,
        can_disable,
        strict_signatures: true,
    })
}

/// Image models think in levels but do not enforce signatures.
const fn image_levels(levels: &'static [&'static str], default: &'static str) -> Thinking {
    Thinking::Levels(Levels {
        levels,
        default,
        can_disable: false,
        strict_signatures: false,
    })
}

const fn budget(min: i64, max: i64, can_disable: bool, by_default: bool) -> Thinking {
    Thinking::Budget(Budget {
        min,
        max,
        can_disable,
        by_default,
    })
}

const PRO_3: Thinking = levels(&["LOW", "HIGH"], "HIGH", false);
const PRO_31: Thinking = levels(LOW_TO_HIGH, "HIGH", false);
const FLASH_3: Thinking = levels(MINIMAL_TO_HIGH, "HIGH", true);
const FLASH_35: Thinking = levels(MINIMAL_TO_HIGH, "MEDIUM", true);
const FLASH_37: Thinking = levels(LOW_TO_HIGH, "MEDIUM", true);
const FLASH_LITE_3: Thinking = levels(MINIMAL_TO_HIGH, "MINIMAL", true);
const GEMINI_4: Thinking = levels(LOW_TO_HIGH, "MEDIUM", false);
const GEMINI_4_HYDROGEN: Thinking = levels(&["LOW", "MEDIUM", "HIGH", "XHIGH"], "HIGH", false);

#[allow(clippy::too_many_arguments)]
const fn model(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    version: &'static str,
    limits: (u64, u64),
    methods: &'static [&'static str],
    thinking: Thinking,
    output: Output,
) -> GeminiModel {
    GeminiModel {
        id,
        display_name,
        description,
        version,
        input_token_limit: limits.0,
        output_token_limit: limits.1,
        methods,
        top_k: Some(64),
        thinking,
        output,
        embedding_dimensions: None,
    }
}

/// A text model with a 1M-token context.
const fn text(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
    version: &'static str,
    output_token_limit: u64,
    thinking: Thinking,
) -> GeminiModel {
    model(
        id,
        display_name,
        description,
        version,
        (1_048_576, output_token_limit),
        GENERATIVE,
        thinking,
        Output::Text,
    )
}

/// A Gemini 2.0 model (40 `topK`, 8k output, no thinking).
const fn gemini_2_0(
    id: &'static str,
    display_name: &'static str,
    description: &'static str,
) -> GeminiModel {
    let mut m = text(id, display_name, description, "2.0", 8_192, Thinking::Off);
    m.top_k = Some(40);
    m
}

const fn image(
    id: &'static str,
    display_name: &'static str,
    version: &'static str,
    thinking: Thinking,
    canvas: &'static Canvas,
) -> GeminiModel {
    model(
        id,
        display_name,
        display_name,
        version,
        (65_536, 32_768),
        MEDIA,
        thinking,
        Output::Image(canvas),
    )
}

const fn speech(
    id: &'static str,
    display_name: &'static str,
    version: &'static str,
) -> GeminiModel {
    model(
        id,
        display_name,
        display_name,
        version,
        (8_192, 16_384),
        MEDIA,
        Thinking::Off,
        Output::Speech,
    )
}

/// A Gemini Live model: `bidiGenerateContent` only (with `countTokens`).
const fn live(
    id: &'static str,
    display_name: &'static str,
    version: &'static str,
    input_token_limit: u64,
) -> GeminiModel {
    model(
        id,
        display_name,
        display_name,
        version,
        (input_token_limit, 8_192),
        LIVE,
        Thinking::Off,
        Output::Text,
    )
}

const fn embedding(
    id: &'static str,
    display_name: &'static str,
    version: &'static str,
    methods: &'static [&'static str],
    dimensions: usize,
) -> GeminiModel {
    GeminiModel {
        id,
        display_name,
        description: "Obtain a distributed representation of a text.",
        version,
        input_token_limit: 2_048,
        output_token_limit: 1,
        methods,
        top_k: None,
        thinking: Thinking::Off,
        output: Output::Text,
        embedding_dimensions: Some(dimensions),
    }
}

pub static MODELS: &[GeminiModel] = &[
    text(
        "gemini-2.5-pro",
        "Gemini 2.5 Pro",
        "Stable release (June 17th, 2025) of Gemini 2.5 Pro",
        "2.5",
        65_536,
        budget(128, 32_768, false, true),
    ),
    text(
        "gemini-2.5-flash",
        "Gemini 2.5 Flash",
        "Stable version of Gemini 2.5 Flash, our mid-size multimodal model that supports up to 1 million tokens, released in June of 2025.",
        "001",
        65_536,
        budget(1, 24_576, true, true),
    ),
    text(
        "gemini-2.5-flash-lite",
        "Gemini 2.5 Flash-Lite",
        "Stable version of Gemini 2.5 Flash-Lite, released in July of 2025",
        "001",
        65_536,
        budget(512, 24_576, true, false),
    ),
    gemini_2_0("gemini-2.0-flash", "Gemini 2.0 Flash", "Gemini 2.0 Flash"),
    gemini_2_0(
        "gemini-2.0-flash-001",
        "Gemini 2.0 Flash 001",
        "Stable version of Gemini 2.0 Flash, our fast and versatile multimodal model for scaling across diverse tasks, released in January of 2025.",
    ),
    gemini_2_0(
        "gemini-2.0-flash-lite",
        "Gemini 2.0 Flash-Lite",
        "Gemini 2.0 Flash-Lite",
    ),
    text(
        "gemini-3-pro-preview",
        "Gemini 3 Pro Preview",
        "Gemini 3 Pro Preview",
        "3-pro-preview-11-2025",
        65_536,
        PRO_3,
    ),
    text(
        "gemini-3.1-pro-preview",
        "Gemini 3.1 Pro Preview",
        "Our latest SOTA reasoning model with unprecedented depth and nuance, and powerful multimodal understanding and coding capabilities.",
        "3.1-pro-preview",
        65_536,
        PRO_31,
    ),
    text(
        "gemini-3.1-pro-preview-customtools",
        "Gemini 3.1 Pro Preview Custom Tools",
        "Gemini 3.1 Pro Preview optimized for custom tool usage",
        "3.1-pro-preview",
        65_536,
        PRO_31,
    ),
    text(
        "gemini-3-flash-preview",
        "Gemini 3 Flash Preview",
        "Our most intelligent model built for speed, combining frontier intelligence with superior search and grounding.",
        "3-flash-preview-12-2025",
        65_536,
        FLASH_3,
    ),
    text(
        "gemini-3.1-flash-lite",
        "Gemini 3.1 Flash-Lite",
        "Our most cost-efficient model, optimized for high-volume agentic tasks, translation, and simple data processing.",
        "3.1-flash-lite",
        65_536,
        FLASH_LITE_3,
    ),
    text(
        "gemini-3.5-flash",
        "Gemini 3.5 Flash",
        "Our earlier Flash model, built for speed and foundational performance across routine, high-throughput workloads.",
        "3.5-flash",
        65_536,
        FLASH_35,
    ),
    text(
        "gemini-3.5-flash-lite",
        "Gemini 3.5 Flash-Lite",
        "Our fastest, most cost-effective 3.5 model for high-throughput execution.",
        "3.5-flash-lite",
        65_536,
        FLASH_LITE_3,
    ),
    text(
        "gemini-3.6-flash",
        "Gemini 3.6 Flash",
        "Our previous generation Flash model, balancing speed and multimodal capabilities across general agentic and everyday tasks.",
        "3.6-flash",
        65_536,
        FLASH_35,
    ),
    text(
        "gemini-3.7-flash",
        "Gemini 3.7 Flash",
        "Our high-speed, efficient Flash model built for everyday coding, agentic tool use, and reliable multi-step execution.",
        "3.7-flash",
        65_536,
        FLASH_37,
    ),
    text(
        "gemini-3.8-flash",
        "Gemini 3.8 Flash",
        "Our most intelligent Flash model, engineered for long-horizon software engineering, autonomous agents, and complex enterprise workflows.",
        "3.8-flash",
        65_536,
        FLASH_37,
    ),
    text(
        "gemini-4-argon",
        "Gemini 4 Argon",
        "Our new frontier model, built to solve the hardest problems with depth and precision across real-world software engineering and knowledge work.",
        "4-argon",
        65_536,
        GEMINI_4,
    ),
    text(
        "gemini-4-carbon",
        "Gemini 4 Carbon",
        "Our most capable reasoning model, built for sustained agentic coding, multimodal knowledge work, scientific discovery, and cybersecurity defense.",
        "4-carbon",
        65_536,
        GEMINI_4,
    ),
    text(
        "gemini-4-hydrogen",
        "Gemini 4 Hydrogen",
        "A model with frontier-level intelligence, built for fast, dependable execution across coding, agentic workflows, and multimodal knowledge work.",
        "4-hydrogen",
        65_536,
        GEMINI_4_HYDROGEN,
    ),
    text(
        "gemini-flash-latest",
        "Gemini Flash Latest",
        "Latest release of Gemini Flash",
        "Gemini Flash Latest",
        65_536,
        FLASH_37,
    ),
    text(
        "gemini-flash-lite-latest",
        "Gemini Flash-Lite Latest",
        "Latest release of Gemini Flash-Lite",
        "Gemini Flash-Lite Latest",
        65_536,
        FLASH_LITE_3,
    ),
    text(
        "gemini-pro-latest",
        "Gemini Pro Latest",
        "Latest release of Gemini Pro",
        "Gemini Pro Latest",
        65_536,
        PRO_31,
    ),
    image(
        "gemini-2.5-flash-image",
        "Nano Banana",
        "2.5",
        Thinking::Off,
        &imaging::FLASH_25,
    ),
    image(
        "gemini-3-pro-image-preview",
        "Nano Banana Pro",
        "3-pro-image-preview-11-2025",
        image_levels(&["LOW", "HIGH"], "HIGH"),
        &imaging::PRO_3,
    ),
    image(
        "gemini-3-pro-image",
        "Gemini 3 Pro Image",
        "3-pro-image",
        image_levels(&["LOW", "HIGH"], "HIGH"),
        &imaging::PRO_3,
    ),
    image(
        "gemini-3.1-flash-image",
        "Nano Banana 2",
        "3.1-flash-image",
        image_levels(&["MINIMAL", "HIGH"], "MINIMAL"),
        &imaging::FLASH_31,
    ),
    image(
        "gemini-3.1-flash-lite-image",
        "Nano Banana 2 Lite",
        "3.1-flash-lite-image",
        image_levels(&["MINIMAL", "HIGH"], "MINIMAL"),
        &imaging::FLASH_LITE_31,
    ),
    speech(
        "gemini-2.5-flash-preview-tts",
        "Gemini 2.5 Flash Preview TTS",
        "gemini-2.5-flash-exp-tts-2025-05-19",
    ),
    speech(
        "gemini-2.5-pro-preview-tts",
        "Gemini 2.5 Pro Preview TTS",
        "gemini-2.5-pro-preview-tts-2025-05-19",
    ),
    speech(
        "gemini-3.1-flash-tts-preview",
        "Gemini 3.1 Flash TTS Preview",
        "3.1-flash-tts-preview",
    ),
    speech(
        "gemini-3.8-flash-tts",
        "Gemini 3.8 Flash TTS",
        "3.8-flash-tts",
    ),
    speech(
        "gemini-3.8-flash-lite-tts",
        "Gemini 3.8 Flash-Lite TTS",
        "3.8-flash-lite-tts",
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
    live("gemini-3.8-live", "Gemini 3.8 Live", "3.8-live", 131_072),
    live(
        "gemini-3.8-live-extended-thinking",
        "Gemini 3.8 Live Extended Thinking",
        "3.8-live-extended-thinking",
        131_072,
    ),
    embedding(
        "gemini-embedding-001",
        "Gemini Embedding 001",
        "001",
        GEMINI_EMBEDDING,
        3072,
    ),
    embedding(
        "text-embedding-004",
        "Text Embedding 004",
        "004",
        LEGACY_EMBEDDING,
        768,
    ),
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
        if let Some(top_k) = self.top_k {
            m["temperature"] = json!(1);
            m["topP"] = json!(0.95);
            m["topK"] = json!(top_k);
            m["maxTemperature"] = json!(2);
            if self.thinking != Thinking::Off {
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

    #[test]
    fn the_catalogue_is_current_and_fits_one_page() {
        let mut ids: Vec<&str> = MODELS.iter().map(|m| m.id).collect();
        assert!(ids.len() <= 50, "one default page (50) lists every model");
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), MODELS.len(), "ids are unique");
        for retired in RETIRED {
            assert!(find(retired).is_none(), "{retired} is retired");
        }
        for id in [
            "gemini-3.1-pro-preview",
            "gemini-3-flash-preview",
            "gemini-3.8-flash",
            "gemini-4-argon",
        ] {
            let m = find(id).unwrap();
            assert!(
                matches!(m.thinking, Thinking::Levels(l) if l.strict_signatures),
                "{id}"
            );
            assert!(m.supports("generateContent") && m.resource()["thinking"] == true);
        }
        let image = find("gemini-3-pro-image").unwrap();
        assert_eq!(image.output, Output::Image(&imaging::PRO_3));
        assert!(matches!(image.thinking, Thinking::Levels(l) if !l.strict_signatures));
        assert!(!image.supports("createCachedContent"));
        let tts = find("gemini-3.8-flash-tts").unwrap();
        assert_eq!((tts.output, tts.thinking), (Output::Speech, Thinking::Off));
        assert!(
            find("gemini-3.8-live")
                .unwrap()
                .supports("bidiGenerateContent")
        );
        assert!(
            matches!(find("gemini-2.5-pro").unwrap().thinking, Thinking::Budget(b) if !b.can_disable)
        );
        assert!(
            find("gemini-2.0-flash")
                .unwrap()
                .resource()
                .get("thinking")
                .is_none()
        );
        assert!(
            find("text-embedding-004")
                .unwrap()
                .resource()
                .get("topK")
                .is_none()
        );
    }
}
