//! OpenAI `reasoning_effort` → Gemini `thinkingConfig`.
//!
//! The translator does not know which Gemini model the request is routed to,
//! so it uses `thinkingBudget`: the one knob every thinking Gemini model
//! accepts (Gemini 2.5 only understands budgets, Gemini 3 keeps accepting them
//! for backwards compatibility; `thinkingLevel` would be rejected by 2.5).
//! The budgets are the ones Google's own OpenAI-compatibility layer uses:
//!
//! | reasoning_effort        | thinkingBudget |
//! |-------------------------|----------------|
//! | `none`                  | 0 (thinking off; models that cannot turn it off reject this) |
//! | `minimal`, `low`        | 1024           |
//! | `medium`                | 8192           |
//! | `high`, `xhigh`, `max`  | 24576 (the largest budget every 2.5 model accepts) |

use serde_json::{Value, json};

use super::params::TranslateError;

const EFFORTS: [&str; 7] = ["none", "minimal", "low", "medium", "high", "xhigh", "max"];

pub(crate) fn thinking_config(effort: &str) -> Result<Value, TranslateError> {
    let budget = match effort {
        "none" => 0,
        "minimal" | "low" => 1024,
        "medium" => 8192,
        "high" | "xhigh" | "max" => 24576,
        other => {
            return Err(TranslateError::invalid_value(
                "reasoning_effort",
                other,
                &EFFORTS,
            ));
        }
    };
    Ok(json!({"thinkingBudget": budget}))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn efforts_map_to_budgets() {
        let cases = [
            ("none", 0),
            ("minimal", 1024),
            ("low", 1024),
            ("medium", 8192),
            ("high", 24576),
            ("xhigh", 24576),
            ("max", 24576),
        ];
        for (effort, budget) in cases {
            assert_eq!(
                thinking_config(effort).unwrap(),
                json!({"thinkingBudget": budget})
            );
        }
    }

    #[test]
    fn unknown_effort_is_rejected() {
        let err = thinking_config("extreme").unwrap_err();
        assert_eq!(err.param.as_deref(), Some("reasoning_effort"));
        assert_eq!(
            err.message,
            "Invalid value: 'extreme'. Supported values are: 'none', 'minimal', 'low', 'medium', 'high', 'xhigh', and 'max'."
        );
    }
}
