//! The OpenAI models the simulator serves, by alias and by dated snapshot.

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
];

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
        assert_eq!(list["data"].as_array().unwrap().len(), 30);
        assert_eq!(find("gpt-realtime").unwrap().kind, Kind::Realtime);
        assert_eq!(
            find("gpt-realtime").unwrap().answered_name(),
            "gpt-realtime-2025-08-28"
        );
        assert_eq!(list["data"][0]["object"], "model");
    }
}
