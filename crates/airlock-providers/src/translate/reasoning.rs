//! OpenAI `reasoning_effort` → Gemini `thinkingConfig`, by model family, as
//! Google's OpenAI-compatibility layer maps it
//! (ai.google.dev/gemini-api/docs/openai, "Thinking"):
//!
//! | reasoning_effort      | Gemini 3 and later (`thinkingLevel`) | Gemini 2.5 and unknown names (`thinkingBudget`) |
//! |-----------------------|--------------------------------------|-------------------------------------------------|
//! | `none`                | MINIMAL (LOW where MINIMAL is not offered: thinking cannot be turned off) | 0 (thinking off; 2.5 Pro refuses it, as at Google) |
//! | `minimal`             | MINIMAL (or LOW, likewise)           | 1024                                            |
//! | `low`                 | LOW                                  | 1024                                            |
//! | `medium`              | MEDIUM                               | 8192                                            |
//! | `high`, `xhigh`, `max`| HIGH                                 | 24576 (the largest budget every 2.5 model accepts) |
//!
//! Gemini 3 and later are `gemini-3*`, `gemini-4*` and the `gemini-*-latest`
//! aliases, which point at Gemini 3 models. MINIMAL is not offered by Pro
//! models, Gemini 4, Flash from 3.7 on and `gemini-flash-latest`. A level a
//! model does not offer (MEDIUM on 3 Pro Preview) is left for Gemini to
//! refuse, as Google's own layer does. A name the translator cannot place
//! (an alias) gets a budget, which Gemini 3 still accepts for backwards
//! compatibility.

use serde_json::{Value, json};

use super::params::TranslateError;

const EFFORTS: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

/// How a Gemini model is told how much to think.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    /// `thinkingLevel`; `minimal`: whether MINIMAL is offered.
    Levels { minimal: bool },
    /// `thinkingBudget`.
    Budgets,
}

/// `major.minor` of a `gemini-X.Y-…` name.
fn version(name: &str) -> Option<(u32, u32)> {
    let number = name.strip_prefix("gemini-")?.split('-').next()?;
    let (major, minor) = number.split_once('.').unwrap_or((number, "0"));
    Some((major.parse().ok()?, minor.parse().ok()?))
}

fn family(model: &str) -> Family {
    let name = model.strip_prefix("models/").unwrap_or(model);
    let latest = matches!(
        name,
        "gemini-flash-latest" | "gemini-flash-lite-latest" | "gemini-pro-latest"
    );
    let Some(v) = version(name)
        .filter(|v| v.0 >= 3)
        .or(latest.then_some((3, 0)))
    else {
        return Family::Budgets;
    };
    let pro = name.contains("-pro");
    let lite = name.contains("-lite");
    let late_flash =
        name == "gemini-flash-latest" || (v >= (3, 7) && name.contains("-flash") && !lite);
    Family::Levels {
        minimal: !(pro || v.0 >= 4 || late_flash),
    }
}

/// The `thinkingConfig` for `effort` on `model` (the Gemini model name).
pub(crate) fn thinking_config(effort: &str, model: &str) -> Result<Value, TranslateError> {
    if !EFFORTS.contains(&effort) {
        return Err(TranslateError::invalid_value(
            "reasoning_effort",
            effort,
            &EFFORTS,
        ));
    }
    Ok(match family(model) {
        Family::Levels { minimal } => {
            let level = match effort {
                "none" | "minimal" if minimal => "MINIMAL",
                "none" | "minimal" | "low" => "LOW",
                "medium" => "MEDIUM",
                _ => "HIGH",
            };
            json!({"thinkingLevel": level})
        }
        Family::Budgets => {
            let budget = match effort {
                "none" => 0,
                "minimal" | "low" => 1024,
                "medium" => 8192,
                _ => 24576,
            };
            json!({"thinkingBudget": budget})
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gemini_2_5_and_unknown_names_get_budgets() {
        let cases = [
            ("none", 0),
            ("minimal", 1024),
            ("low", 1024),
            ("medium", 8192),
            ("high", 24576),
            ("xhigh", 24576),
            ("max", 24576),
        ];
        for model in ["gemini-2.5-flash", "models/gemini-2.5-pro", "my-alias", ""] {
            for (effort, budget) in cases {
                assert_eq!(
                    thinking_config(effort, model).unwrap(),
                    json!({"thinkingBudget": budget}),
                    "{model} {effort}"
                );
            }
        }
    }

    #[test]
    fn gemini_3_and_later_get_levels() {
        let level = |effort: &str, model: &str| {
            thinking_config(effort, model).unwrap()["thinkingLevel"].clone()
        };
        for model in [
            "gemini-3-flash-preview",
            "gemini-3.1-flash-lite",
            "gemini-3.5-flash",
            "gemini-flash-lite-latest",
            "models/gemini-3.6-flash",
        ] {
            assert_eq!(level("none", model), "MINIMAL", "{model}");
            assert_eq!(level("minimal", model), "MINIMAL", "{model}");
        }
        for model in [
            "gemini-3-pro-preview",
            "gemini-3.1-pro-preview",
            "gemini-pro-latest",
            "gemini-3.7-flash",
            "gemini-3.8-flash",
            "gemini-flash-latest",
            "gemini-4-argon",
        ] {
            assert_eq!(level("none", model), "LOW", "{model}");
            assert_eq!(level("minimal", model), "LOW", "{model}");
        }
        let model = "gemini-3-pro-preview";
        assert_eq!(level("low", model), "LOW");
        assert_eq!(
            level("medium", model),
            "MEDIUM",
            "left for Gemini to refuse, as Google's layer does"
        );
        for effort in ["high", "xhigh", "max"] {
            assert_eq!(level(effort, model), "HIGH");
        }
    }

    #[test]
    fn versions_are_read_from_names() {
        assert_eq!(version("gemini-3.1-pro-preview"), Some((3, 1)));
        assert_eq!(version("gemini-3-pro-preview"), Some((3, 0)));
        assert_eq!(version("gemini-embedding-001"), None);
        assert_eq!(family("gemini-2.0-flash"), Family::Budgets);
        assert_eq!(
            family("gemini-3.8-flash-lite-tts"),
            Family::Levels { minimal: true }
        );
    }

    #[test]
    fn unknown_effort_is_rejected() {
        let err = thinking_config("extreme", "gemini-3-pro-preview").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning_effort"));
        assert_eq!(
            err.message,
            "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'."
        );
    }
}
