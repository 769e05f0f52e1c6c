//! The output knobs of an OpenAI chat request → Gemini `generationConfig`:
//! sampling (`temperature`, `top_p`, penalties, `seed`), length
//! (`max_completion_tokens` or the older `max_tokens`), `stop`, `n`,
//! log-probabilities, plus [`response_format`](super::response_format) and
//! [`reasoning_effort`](super::reasoning). Values are type-checked here; their
//! ranges are left to Gemini, which reports them as 400s.

use serde_json::{Map, Value, json};

use super::params::{Params, TranslateError};
use super::{reasoning, response_format};

/// `model` is the Gemini model the request goes to (it decides how
/// `reasoning_effort` is said).
pub(crate) fn generation_config(
    request: &Params<'_>,
    model: &str,
) -> Result<Map<String, Value>, TranslateError> {
    let mut config = Map::new();
    for (openai, gemini) in [
        ("temperature", "temperature"),
        ("top_p", "topP"),
        ("presence_penalty", "presencePenalty"),
        ("frequency_penalty", "frequencyPenalty"),
    ] {
        if let Some(value) = request.number(openai)? {
            config.insert(gemini.into(), value.clone());
        }
    }
    let max_tokens = request.integer("max_tokens")?;
    if let Some(max) = request.integer("max_completion_tokens")?.or(max_tokens) {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(stop) = stop_sequences(request)? {
        config.insert("stopSequences".into(), stop);
    }
    if let Some(n) = request.integer("n")? {
        config.insert("candidateCount".into(), json!(n));
    }
    if let Some(seed) = request.integer("seed")? {
        config.insert("seed".into(), json!(seed));
    }
    let logprobs = request.boolean("logprobs")?.unwrap_or(false);
    if logprobs {
        config.insert("responseLogprobs".into(), json!(true));
    }
    if let Some(top) = request.integer("top_logprobs")? {
        if !logprobs {
            return Err(TranslateError::new(
                "Invalid value for 'top_logprobs': 'logprobs' must be set to true when 'top_logprobs' is used.",
                Some("top_logprobs"),
            ));
        }
        config.insert("logprobs".into(), json!(top));
    }
    if let Some(format) = request.get("response_format") {
        response_format::apply(format, &mut config)?;
    }
    if let Some(effort) = request.string("reasoning_effort")? {
        config.insert(
            "thinkingConfig".into(),
            reasoning::thinking_config(effort, model)?,
        );
    }
    Ok(config)
}

/// `stop`: a string or an array of strings; empty strings are dropped.
fn stop_sequences(request: &Params<'_>) -> Result<Option<Value>, TranslateError> {
    let stops: Vec<&str> = match request.get("stop") {
        None => return Ok(None),
        Some(Value::String(stop)) => vec![stop.as_str()],
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .map(|(i, item)| {
                item.as_str().ok_or_else(|| {
                    TranslateError::invalid_type(&format!("stop[{i}]"), "a string", item)
                })
            })
            .collect::<Result<_, _>>()?,
        Some(other) => {
            return Err(TranslateError::invalid_type(
                "stop",
                "a string or an array",
                other,
            ));
        }
    };
    let stops: Vec<&str> = stops.into_iter().filter(|s| !s.is_empty()).collect();
    Ok((!stops.is_empty()).then(|| json!(stops)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(body: Value) -> Result<Value, TranslateError> {
        generation_config(&Params::of(&body, "")?, "gemini-2.5-flash").map(Value::Object)
    }

    #[test]
    fn all_knobs() {
        assert_eq!(
            config(json!({
                "temperature": 0.7, "top_p": 1, "presence_penalty": -0.5, "frequency_penalty": 0.25,
                "max_tokens": 100, "stop": ["END", ""], "n": 2, "seed": 42,
                "logprobs": true, "top_logprobs": 3,
                "response_format": {"type": "json_object"}, "reasoning_effort": "low"
            }))
            .unwrap(),
            json!({
                "temperature": 0.7, "topP": 1, "presencePenalty": -0.5, "frequencyPenalty": 0.25,
                "maxOutputTokens": 100, "stopSequences": ["END"], "candidateCount": 2, "seed": 42,
                "responseLogprobs": true, "logprobs": 3,
                "responseMimeType": "application/json", "thinkingConfig": {"thinkingBudget": 1024}
            })
        );
    }

    #[test]
    fn reasoning_effort_follows_the_model() {
        let body = json!({"reasoning_effort": "low"});
        let config =
            generation_config(&Params::of(&body, "").unwrap(), "gemini-3-pro-preview").unwrap();
        assert_eq!(
            Value::Object(config),
            json!({"thinkingConfig": {"thinkingLevel": "LOW"}})
        );
    }

    #[test]
    fn nothing_set_means_empty_config() {
        assert_eq!(config(json!({})).unwrap(), json!({}));
        assert_eq!(
            config(json!({"temperature": null, "seed": null, "logprobs": false, "stop": ""}))
                .unwrap(),
            json!({})
        );
    }

    #[test]
    fn max_completion_tokens_wins_over_max_tokens() {
        assert_eq!(
            config(json!({"max_tokens": 10, "max_completion_tokens": 20})).unwrap(),
            json!({"maxOutputTokens": 20})
        );
        assert_eq!(
            config(json!({"max_completion_tokens": 5})).unwrap(),
            json!({"maxOutputTokens": 5})
        );
    }

    #[test]
    fn stop_as_string() {
        assert_eq!(
            config(json!({"stop": "\n"})).unwrap(),
            json!({"stopSequences": ["\n"]})
        );
    }

    #[test]
    fn errors_name_the_param() {
        let cases = [
            (json!({"temperature": "hot"}), "temperature"),
            (json!({"top_p": true}), "top_p"),
            (json!({"max_tokens": 1.5}), "max_tokens"),
            (
                json!({"max_completion_tokens": "10"}),
                "max_completion_tokens",
            ),
            (json!({"stop": 5}), "stop"),
            (json!({"stop": ["a", 1]}), "stop[1]"),
            (json!({"n": "2"}), "n"),
            (json!({"seed": 1.1}), "seed"),
            (json!({"logprobs": "yes"}), "logprobs"),
            (json!({"top_logprobs": 2}), "top_logprobs"),
            (
                json!({"logprobs": false, "top_logprobs": 2}),
                "top_logprobs",
            ),
            (json!({"reasoning_effort": 3}), "reasoning_effort"),
            (json!({"reasoning_effort": "huge"}), "reasoning_effort"),
            (
                json!({"response_format": {"type": "xml"}}),
                "response_format.type",
            ),
        ];
        for (body, param) in cases {
            assert_eq!(
                config(body.clone()).unwrap_err().param.as_deref(),
                Some(param),
                "{body}"
            );
        }
    }
}
