//! The OpenAI models the simulator serves, by alias and by dated snapshot:
//! chat, embedding, Realtime, image, speech and transcription models.

use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A chat model; reasoning models take `max_completion_tokens` only and
    /// the default sampling temperature only.
    Chat { reasoning: bool },
    /// An embedding model of this native size; `dimensions` allowed or not.
    Embedding {
        dimensions: usize,
        shortenable: bool,
    },
    /// A Realtime API model (`/v1/realtime` only).
    Realtime,
    /// An image model (`/v1/images/generations` and `/edits`).
    Image(ImageFamily),
    /// A text-to-speech model (`/v1/audio/speech`); `steerable` models take
    /// `instructions` and `stream_format: "sse"` and speak more voices.
    Speech { steerable: bool },
    /// A speech-to-text model (`/v1/audio/transcriptions`); GPT-4o models
    /// are billed by tokens and stream, Whisper by the second.
    Transcription { gpt4o: bool },
}

/// The image models' families, which take different parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImageFamily {
    DallE2,
    DallE3,
    /// GPT Image models; `fidelity` says whether `input_fidelity: "high"`
    /// is taken (gpt-image-1-mini takes only `low`).
    GptImage {
        fidelity: bool,
    },
}

#[derive(Debug)]
pub struct OpenAiModel {
    pub id: &'static str,
    /// The dated snapshot chat answers name, if any.
    pub snapshot: Option<&'static str>,
    created: u64,
    owned_by: &'static str,
    pub kind: Kind,
}

const fn chat(
    id: &'static str,
    snapshot: &'static str,
    created: u64,
    reasoning: bool,
) -> OpenAiModel {
    OpenAiModel {
        id,
        snapshot: Some(snapshot),
        created,
        owned_by: "system",
        kind: Kind::Chat { reasoning },
    }
}

const fn realtime(id: &'static str, snapshot: Option<&'static str>, created: u64) -> OpenAiModel {
    OpenAiModel {
        id,
        snapshot,
        created,
        owned_by: "system",
        kind: Kind::Realtime,
    }
}

/// A model without a dated snapshot (image, speech, transcription).
const fn other(id: &'static str, created: u64, owned_by: &'static str, kind: Kind) -> OpenAiModel {
    OpenAiModel {
        id,
        snapshot: None,
        created,
        owned_by,
        kind,
    }
}

const fn embedding(
    id: &'static str,
    created: u64,
    owned_by: &'static str,
    dimensions: usize,
    shortenable: bool,
) -> OpenAiModel {
    OpenAiModel {
        id,
        snapshot: None,
        created,
        owned_by,
        kind: Kind::Embedding {
            dimensions,
            shortenable,
        },
    }
}

pub static MODELS: &[OpenAiModel] = &[
    chat("gpt-4o", "gpt-4o-2024-08-06", 1_715_367_049, false),
    chat(
        "gpt-4o-mini",
        "gpt-4o-mini-2024-07-18",
        1_721_172_741,
        false,
    ),
    chat("gpt-4.1", "gpt-4.1-2025-04-14", 1_744_316_542, false),
    chat(
        "gpt-4.1-mini",
        "gpt-4.1-mini-2025-04-14",
        1_744_318_173,
        false,
    ),
    chat(
        "gpt-4.1-nano",
        "gpt-4.1-nano-2025-04-14",
        1_744_321_707,
        false,
    ),
    chat("gpt-5", "gpt-5-2025-08-07", 1_754_425_777, true),
    chat("gpt-5-mini", "gpt-5-mini-2025-08-07", 1_754_425_928, true),
    chat("o3", "o3-2025-04-16", 1_744_225_308, true),
    chat("o4-mini", "o4-mini-2025-04-16", 1_744_225_351, true),
    realtime(
        "gpt-realtime",
        Some("gpt-realtime-2025-08-28"),
        1_756_271_701,
    ),
    realtime(
        "gpt-realtime-mini",
        Some("gpt-realtime-mini-2025-10-06"),
        1_759_517_133,
    ),
    realtime(
        "gpt-4o-realtime-preview",
        Some("gpt-4o-realtime-preview-2025-06-03"),
        1_727_659_998,
    ),
    realtime("gpt-4o-realtime-preview-2024-12-17", None, 1_733_945_430),
    realtime(
        "gpt-4o-mini-realtime-preview",
        Some("gpt-4o-mini-realtime-preview-2024-12-17"),
        1_734_387_380,
    ),
    embedding(
        "text-embedding-3-small",
        1_705_948_997,
        "system",
        1536,
        true,
    ),
    embedding(
        "text-embedding-3-large",
        1_705_953_180,
        "system",
        3072,
        true,
    ),
    embedding(
        "text-embedding-ada-002",
        1_671_217_299,
        "openai-internal",
        1536,
        false,
    ),
    other(
        "dall-e-2",
        1_698_798_177,
        "system",
        Kind::Image(ImageFamily::DallE2),
    ),
    other(
        "dall-e-3",
        1_698_785_189,
        "system",
        Kind::Image(ImageFamily::DallE3),
    ),
    other(
        "gpt-image-1",
        1_745_517_030,
        "system",
        Kind::Image(ImageFamily::GptImage { fidelity: true }),
    ),
    other(
        "gpt-image-1-mini",
        1_758_845_821,
        "system",
        Kind::Image(ImageFamily::GptImage { fidelity: false }),
    ),
    other(
        "gpt-image-1.5",
        1_765_925_279,
        "system",
        Kind::Image(ImageFamily::GptImage { fidelity: true }),
    ),
    other(
        "tts-1",
        1_681_940_951,
        "openai-internal",
        Kind::Speech { steerable: false },
    ),
    other(
        "tts-1-hd",
        1_699_046_015,
        "system",
        Kind::Speech { steerable: false },
    ),
    other(
        "gpt-4o-mini-tts",
        1_742_403_959,
        "system",
        Kind::Speech { steerable: true },
    ),
    other(
        "whisper-1",
        1_677_532_384,
        "openai-internal",
        Kind::Transcription { gpt4o: false },
    ),
    other(
        "gpt-4o-transcribe",
        1_742_068_463,
        "system",
        Kind::Transcription { gpt4o: true },
    ),
    other(
        "gpt-4o-mini-transcribe",
        1_742_068_596,
        "system",
        Kind::Transcription { gpt4o: true },
    ),
];

/// The ids of the models of a kind, in catalogue order (for the "Supported
/// values" of errors).
pub fn ids_where(wanted: impl Fn(Kind) -> bool) -> Vec<&'static str> {
    MODELS
        .iter()
        .filter(|m| wanted(m.kind))
        .map(|m| m.id)
        .collect()
}

/// Looks a model up by alias or snapshot name.
pub fn find(id: &str) -> Option<&'static OpenAiModel> {
    MODELS.iter().find(|m| m.id == id || m.snapshot == Some(id))
}

fn entry(id: &str, created: u64, owned_by: &str) -> Value {
    json!({ "id": id, "object": "model", "created": created, "owned_by": owned_by })
}

impl OpenAiModel {
    /// The model name answers carry (the snapshot for chat models).
    pub fn answered_name(&self) -> &'static str {
        self.snapshot.unwrap_or(self.id)
    }

    /// The `model` object for `id` (an alias or snapshot of this model).
    pub fn object(&self, id: &str) -> Value {
        entry(id, self.created, self.owned_by)
    }
}

/// Every alias and snapshot, as `GET /v1/models` lists them.
pub fn listing() -> Value {
    let data: Vec<Value> = MODELS
        .iter()
        .flat_map(|m| {
            std::iter::once(m.id)
                .chain(m.snapshot)
                .map(move |id| m.object(id))
        })
        .collect();
    json!({ "object": "list", "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_snapshots() {
        assert_eq!(find("gpt-4o").unwrap().answered_name(), "gpt-4o-2024-08-06");
        assert_eq!(find("gpt-4o-2024-08-06").unwrap().id, "gpt-4o");
        assert!(find("gpt-3").is_none());
        assert_eq!(
            find("text-embedding-3-small").unwrap().answered_name(),
            "text-embedding-3-small"
        );
        let list = listing();
        assert_eq!(list["data"].as_array().unwrap().len(), 41);
        assert_eq!(
            find("gpt-image-1-mini").unwrap().kind,
            Kind::Image(ImageFamily::GptImage { fidelity: false })
        );
        assert_eq!(
            ids_where(|k| matches!(k, Kind::Speech { .. })),
            ["tts-1", "tts-1-hd", "gpt-4o-mini-tts"]
        );
        assert_eq!(find("gpt-realtime").unwrap().kind, Kind::Realtime);
        assert_eq!(
            find("gpt-realtime").unwrap().answered_name(),
            "gpt-realtime-2025-08-28"
        );
        assert_eq!(list["data"][0]["object"], "model");
    }
}
