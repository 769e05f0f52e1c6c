//! Model catalogues: a provider's model list, read in its own protocol, as
//! OpenAI model objects (what `GET /v1/models` answers with).

use serde_json::{Value, json};

use crate::Protocol;

/// An OpenAI model object.
pub fn openai_model_object(id: &str, owned_by: &str) -> Value {
    json!({"id": id, "object": "model", "created": 0, "owned_by": owned_by})
}

/// The models in a provider's list answer, as OpenAI model objects: OpenAI's
/// `data` as it is, Gemini's `models` by name without `models/`.
pub fn openai_model_objects(protocol: Protocol, listing: &Value) -> Vec<Value> {
    match protocol {
        Protocol::OpenAi => listing["data"].as_array().cloned().unwrap_or_default(),
        Protocol::Gemini => listing["models"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|model| model["name"].as_str())
            .map(|name| openai_model_object(name.strip_prefix("models/").unwrap_or(name), "google"))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_protocols_listing() {
        let gemini =
            json!({"models": [{"name": "models/gemini-2.5-flash"}, {"displayName": "no name"}]});
        assert_eq!(
            openai_model_objects(Protocol::Gemini, &gemini),
            [
                json!({"id": "gemini-2.5-flash", "object": "model", "created": 0, "owned_by": "google"})
            ]
        );
        let openai = json!({"object": "list", "data": [{"id": "gpt-4o", "object": "model", "created": 1, "owned_by": "openai"}]});
        assert_eq!(
            openai_model_objects(Protocol::OpenAi, &openai),
            [openai["data"][0].clone()]
        );
        assert!(openai_model_objects(Protocol::Gemini, &json!({})).is_empty());
    }
}
