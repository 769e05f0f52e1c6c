//! What a generation answers, independent of wire format: prose, a JSON
//! document or a function call, decided deterministically from a [`Digest`]
//! of (seed, model, conversation) and the choice index.
//!
//! Tool rules: when a call is required, one allowed tool is called (the first
//! one the last user message names, else a PRNG pick); in auto mode a tool is
//! called only if the last user message names it and the conversation does
//! not end with a tool result; otherwise the answer is text. Call arguments
//! are generated from the tool's schema ([`crate::valuegen`]), and are an
//! object even when the schema describes something else. Text answers
//! honour stop sequences and the output-token limit (finish reason "length");
//! JSON answers and calls are never cut.

use rand::Rng;
use serde_json::{Value, json};

use crate::prng::Digest;
use crate::{textgen, tokens, valuegen};

/// A tool the model may call.
#[derive(Debug, Clone)]
pub struct ToolSpec<'a> {
    pub name: &'a str,
    /// JSON Schema or Gemini Schema of the arguments; `None` means `{}`.
    pub schema: Option<&'a Value>,
    /// OpenAI custom tools take free text instead of JSON arguments.
    pub freeform: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ToolMode<'a> {
    /// Never call a tool.
    None,
    /// Call a tool the last user message names.
    Auto,
    /// Always call one; `only` restricts the candidates.
    Required { only: Option<Vec<&'a str>> },
}

#[derive(Debug, Clone, Copy)]
pub enum Format<'a> {
    Text,
    /// Any JSON object.
    JsonObject,
    /// JSON valid against the schema.
    JsonSchema(&'a Value),
    /// Gemini `text/x.enum`: one of the schema's enum values, unquoted.
    Enum(&'a Value),
}

#[derive(Debug, Clone)]
pub struct Ask<'a> {
    pub digest: Digest,
    pub tools: Vec<ToolSpec<'a>>,
    pub mode: ToolMode<'a>,
    /// The text of the last user turn.
    pub last_user_text: String,
    /// The conversation ends with a tool or function result.
    pub after_tool_result: bool,
    pub format: Format<'a>,
    pub max_tokens: Option<u64>,
    pub stop: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Finish {
    Stop,
    Length,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Answer {
    Text { text: String, finish: Finish },
    Call { name: String, args: Value },
}

impl Answer {
    /// Output tokens by the crate's counting rule.
    pub fn tokens(&self) -> u64 {
        match self {
            Answer::Text { text, .. } => tokens::text_tokens(text),
            Answer::Call { name, args } => tokens::text_tokens(name) + tokens::json_tokens(args),
        }
    }
}

pub fn answer(ask: &Ask<'_>, choice: u64) -> Answer {
    let mut rng = ask.digest.number(choice).rng();
    if let Some(tool) = pick_tool(ask, &mut rng) {
        let args = if tool.freeform {
            Value::String(textgen::phrase(&mut rng, 4))
        } else {
            // Arguments are an object whatever a (broken) schema says.
            match tool.schema.map(|s| valuegen::generate(s, &mut rng)) {
                Some(args @ Value::Object(_)) => args,
                _ => json!({}),
            }
        };
        return Answer::Call {
            name: tool.name.to_owned(),
            args,
        };
    }
    match ask.format {
        Format::JsonSchema(schema) => Answer::Text {
            text: valuegen::generate(schema, &mut rng).to_string(),
            finish: Finish::Stop,
        },
        Format::Enum(schema) => Answer::Text {
            text: match valuegen::generate(schema, &mut rng) {
                Value::String(s) => s,
                other => other.to_string(),
            },
            finish: Finish::Stop,
        },
        Format::JsonObject => Answer::Text {
            text: json!({ "answer": textgen::prose(&mut rng) }).to_string(),
            finish: Finish::Stop,
        },
        Format::Text => {
            let mut text = textgen::prose(&mut rng);
            if let Some(at) = ask
                .stop
                .iter()
                .filter(|s| !s.is_empty())
                .filter_map(|s| text.find(s.as_str()))
                .min()
            {
                text.truncate(at);
            }
            match ask.max_tokens.and_then(|max| tokens::truncate(&text, max)) {
                Some(cut) => Answer::Text {
                    text: cut,
                    finish: Finish::Length,
                },
                None => Answer::Text {
                    text,
                    finish: Finish::Stop,
                },
            }
        }
    }
}

/// How a realtime answer opens after tool results, so that the answer
/// visibly uses them: `"{name} returned {output}. "` per result, each output
/// cut to [`PREAMBLE_OUTPUT_CHARS`] characters.
pub fn results_preamble<'r>(results: impl IntoIterator<Item = (&'r str, String)>) -> String {
    results
        .into_iter()
        .map(|(name, output)| {
            let cut: String = output.chars().take(PREAMBLE_OUTPUT_CHARS).collect();
            format!("{name} returned {cut}. ")
        })
        .collect()
}

/// How much of each tool output [`results_preamble`] repeats.
pub const PREAMBLE_OUTPUT_CHARS: usize = 200;

fn pick_tool<'t, 'a>(ask: &'t Ask<'a>, rng: &mut rand::rngs::SmallRng) -> Option<&'t ToolSpec<'a>> {
    let said = ask.last_user_text.to_lowercase();
    let named = |t: &&ToolSpec<'_>| !t.name.is_empty() && said.contains(&t.name.to_lowercase());
    match &ask.mode {
        ToolMode::None => None,
        ToolMode::Auto if ask.after_tool_result => None,
        ToolMode::Auto => ask.tools.iter().find(named),
        ToolMode::Required { only } => {
            let candidates: Vec<&ToolSpec<'_>> = ask
                .tools
                .iter()
                .filter(|t| only.as_ref().is_none_or(|o| o.contains(&t.name)))
                .collect();
            if candidates.is_empty() {
                return None;
            }
            let fallback = rng.random_range(0..candidates.len());
            candidates
                .iter()
                .copied()
                .find(named)
                .or(Some(candidates[fallback]))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ask<'a>(tools: Vec<ToolSpec<'a>>, mode: ToolMode<'a>, said: &str) -> Ask<'a> {
        Ask {
            digest: Digest::new(0).part("conv"),
            tools,
            mode,
            last_user_text: said.to_owned(),
            after_tool_result: false,
            format: Format::Text,
            max_tokens: None,
            stop: Vec::new(),
        }
    }

    fn weather_schema() -> Value {
        json!({"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]})
    }

    #[test]
    fn auto_calls_only_named_tools_and_not_after_results() {
        let schema = weather_schema();
        let tools = vec![ToolSpec {
            name: "get_weather",
            schema: Some(&schema),
            freeform: false,
        }];
        assert!(matches!(
            answer(&ask(tools.clone(), ToolMode::Auto, "hello"), 0),
            Answer::Text { .. }
        ));
        let Answer::Call { name, args } =
            answer(&ask(tools.clone(), ToolMode::Auto, "Use GET_WEATHER"), 0)
        else {
            panic!("expected a call")
        };
        assert_eq!(name, "get_weather");
        assert!(args["city"].is_string());
        let mut after = ask(tools.clone(), ToolMode::Auto, "use get_weather");
        after.after_tool_result = true;
        assert!(matches!(answer(&after, 0), Answer::Text { .. }));
        assert!(matches!(
            answer(&ask(tools, ToolMode::None, "get_weather"), 0),
            Answer::Text { .. }
        ));
    }

    #[test]
    fn required_respects_allowed_names() {
        let tools = vec![
            ToolSpec {
                name: "a",
                schema: None,
                freeform: false,
            },
            ToolSpec {
                name: "b",
                schema: None,
                freeform: false,
            },
        ];
        for seed in 0..20 {
            let mut a = ask(
                tools.clone(),
                ToolMode::Required {
                    only: Some(vec!["b"]),
                },
                "",
            );
            a.digest = Digest::new(seed);
            assert_eq!(
                answer(&a, 0),
                Answer::Call {
                    name: "b".into(),
                    args: json!({})
                }
            );
        }
    }

    #[test]
    fn text_limits_and_stops() {
        let mut a = ask(Vec::new(), ToolMode::Auto, "");
        let Answer::Text { text: full, .. } = answer(&a, 0) else {
            panic!()
        };
        a.max_tokens = Some(2);
        let Answer::Text { text, finish } = answer(&a, 0) else {
            panic!()
        };
        assert_eq!((text.as_str(), finish), (&full[..8], Finish::Length));
        a.max_tokens = None;
        let second_word = full.split(' ').nth(1).unwrap().to_owned();
        a.stop = vec![format!(" {second_word}")];
        let Answer::Text { text, finish } = answer(&a, 0) else {
            panic!()
        };
        assert_eq!(finish, Finish::Stop);
        assert_eq!(text, full.split(' ').next().unwrap());
        assert_ne!(answer(&a, 1), answer(&a, 0));
    }

    #[test]
    fn preambles_quote_results() {
        assert_eq!(
            results_preamble([("f", "{\"t\":1}".to_owned()), ("g", "x".repeat(300))]),
            format!("f returned {{\"t\":1}}. g returned {}. ", "x".repeat(200))
        );
        assert_eq!(results_preamble([]), "");
    }

    #[test]
    fn json_formats() {
        let schema = weather_schema();
        let mut a = ask(Vec::new(), ToolMode::Auto, "");
        a.format = Format::JsonSchema(&schema);
        let Answer::Text { text, .. } = answer(&a, 0) else {
            panic!()
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert!(v["city"].is_string());
        a.format = Format::JsonObject;
        let Answer::Text { text, .. } = answer(&a, 0) else {
            panic!()
        };
        assert!(serde_json::from_str::<Value>(&text).unwrap().is_object());
        let e = json!({"type": "STRING", "enum": ["yes", "no"]});
        a.format = Format::Enum(&e);
        let Answer::Text { text, .. } = answer(&a, 0) else {
            panic!()
        };
        assert!(text == "yes" || text == "no");
    }
}
