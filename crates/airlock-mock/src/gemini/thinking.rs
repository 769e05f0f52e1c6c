//! Thinking: what each model accepts in `generationConfig.thinkingConfig`,
//! Google's 400s for what it does not, and how much a request thinks.
//!
//! Google's thinking guide (ai.google.dev/gemini-api/docs/thinking) is the
//! source of the per-model rules:
//!
//! * Gemini 2.5 models take `thinkingBudget`: 2.5 Pro 128 to 32768 (thinking
//!   cannot be turned off: 0 is refused with "Budget 0 is invalid. This model
//!   only works in thinking mode."), 2.5 Flash 0 to 24576, 2.5 Flash-Lite 0
//!   or 512 to 24576 (it does not think unless asked); -1 is dynamic
//!   thinking everywhere. Another value is "The thinking budget (N) is
//!   invalid.". A `thinkingLevel` is "Thinking level is not supported for this
//!   model.".
//! * Gemini 3 and later take `thinkingLevel`, each model its own set (3 Pro
//!   LOW and HIGH; 3.1 Pro LOW to HIGH; 3 Flash and Flash-Lite MINIMAL to
//!   HIGH; Flash from 3.7 on and Gemini 4 from LOW; 4 Hydrogen up to XHIGH).
//!   Another level is "Thinking level MEDIUM is not supported for this model.
//!   Please retry with other thinking level". `thinkingBudget` is still
//!   accepted for backwards compatibility, 0 only where thinking can be
//!   turned off (not on Pro models). Setting both is refused.
//! * Models that do not think (2.0, TTS, 2.5 Flash Image) ignore the config.
//!
//! The simulator's own rule for how much a request thinks: a base of 16 to
//! 63 tokens drawn from the conversation, times 1 (LOW), 2 (MEDIUM), 4
//! (HIGH) or 8 (XHIGH); MINIMAL and a budget of 0 think nothing; a budget
//! caps the HIGH amount; dynamic thinking (-1, or no budget on Gemini 3)
//! thinks the HIGH amount, except that a 2.5 model left to decide thinks
//! only when asked to show its thoughts (`includeThoughts`; Flash-Lite only
//! once -1 turns dynamic thinking on). Thinking counts against
//! `maxOutputTokens`, and never takes more than half of it.

use rand::Rng;
use serde_json::Value;

use crate::prng::Digest;

/// How a model thinks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thinking {
    /// No thinking: `thinkingConfig` is ignored.
    Off,
    /// Gemini 2.5: `thinkingBudget` only.
    Budget(Budget),
    /// Gemini 3 and later: `thinkingLevel` (budgets accepted too).
    Levels(Levels),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Smallest positive budget.
    pub min: i64,
    pub max: i64,
    /// Whether 0 turns thinking off.
    pub can_disable: bool,
    /// Whether the model thinks when the request says nothing.
    pub by_default: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Levels {
    pub levels: &'static [&'static str],
    pub default: &'static str,
    /// Whether a budget of 0 turns thinking off.
    pub can_disable: bool,
    /// Whether a history missing a function call's thought signature is
    /// refused (Gemini 3 text models; not the image models).
    pub strict_signatures: bool,
}

/// How much the request asked the model to think.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effort {
    None,
    /// The model decides (no budget, or -1).
    Dynamic,
    Budget(u64),
    Level(&'static str),
}

/// The thinking a request gets, once its config is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Plan {
    pub effort: Effort,
    /// `includeThoughts`: answers open with a thought part.
    pub include_thoughts: bool,
    /// Gemini 3 placement of thought signatures (else 2.5's).
    pub gemini3: bool,
}

const ALL_LEVELS: [&str; 5] = ["MINIMAL", "LOW", "MEDIUM", "HIGH", "XHIGH"];

fn multiplier(level: &str) -> u64 {
    match level {
        "LOW" => 1,
        "MEDIUM" => 2,
        "HIGH" => 4,
        "XHIGH" => 8,
        _ => 0,
    }
}

/// Checks `thinkingConfig` (normalised: camelCase, enum names) against the
/// model; the plan, or Google's message for the 400.
pub fn plan(thinking: Thinking, config: Option<&Value>) -> Result<Plan, String> {
    let config = config.unwrap_or(&Value::Null);
    let include_thoughts = config["includeThoughts"].as_bool().unwrap_or(false);
    let level = config["thinkingLevel"]
        .as_str()
        .and_then(|l| ALL_LEVELS.iter().copied().find(|known| *known == l));
    let budget = config["thinkingBudget"].as_i64();
    match thinking {
        Thinking::Off => Ok(Plan {
            effort: Effort::None,
            include_thoughts: false,
            gemini3: false,
        }),
        Thinking::Budget(b) => {
            if level.is_some() {
                return Err("Thinking level is not supported for this model.".into());
            }
            // Left to decide, a 2.5 model thinks only to show its thoughts
            // (and Flash-Lite only once -1 turns dynamic thinking on).
            let dynamic = include_thoughts && (b.by_default || budget == Some(-1));
            let effort = match budget {
                None | Some(-1) if dynamic => Effort::Dynamic,
                None | Some(-1) => Effort::None,
                Some(0) if b.can_disable => Effort::None,
                Some(0) => return Err(budget_zero()),
                Some(n) if (b.min..=b.max).contains(&n) => Effort::Budget(n.unsigned_abs()),
                Some(n) => return Err(format!("The thinking budget ({n}) is invalid.")),
            };
            Ok(Plan {
                effort,
                include_thoughts,
                gemini3: false,
            })
        }
        Thinking::Levels(l) => {
            let effort = match (level, budget) {
                (Some(_), Some(_)) => {
                    return Err(
                        "You can only set one of thinking budget and thinking level.".into(),
                    );
                }
                (Some(level), None) if l.levels.contains(&level) => Effort::Level(level),
                (Some(level), None) => {
                    return Err(format!(
                        "Thinking level {level} is not supported for this model. Please retry with other thinking level"
                    ));
                }
                (None, None) => Effort::Level(l.default),
                (None, Some(-1)) => Effort::Dynamic,
                (None, Some(0)) if l.can_disable => Effort::None,
                (None, Some(0)) => return Err(budget_zero()),
                (None, Some(n)) if n > 0 => Effort::Budget(n.unsigned_abs()),
                (None, Some(n)) => return Err(format!("The thinking budget ({n}) is invalid.")),
            };
            Ok(Plan {
                effort,
                include_thoughts,
                gemini3: true,
            })
        }
    }
}

fn budget_zero() -> String {
    "Budget 0 is invalid. This model only works in thinking mode.".into()
}

impl Plan {
    /// Thinking tokens for one candidate (`digest` decides the base), at
    /// most half of `max_output`.
    pub fn thought_tokens(&self, digest: Digest, max_output: Option<u64>) -> u64 {
        let base: u64 = digest.part("thinking").rng().random_range(16..64);
        let high = base * multiplier("HIGH");
        let tokens = match self.effort {
            Effort::None => 0,
            Effort::Dynamic => high,
            Effort::Budget(n) => high.min(n),
            Effort::Level(level) => base * multiplier(level),
        };
        max_output.map_or(tokens, |max| tokens.min(max / 2))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const PRO_25: Thinking = Thinking::Budget(Budget {
        min: 128,
        max: 32768,
        can_disable: false,
        by_default: true,
    });
    const LITE_25: Thinking = Thinking::Budget(Budget {
        min: 512,
        max: 24576,
        can_disable: true,
        by_default: false,
    });
    const PRO_3: Thinking = Thinking::Levels(Levels {
        levels: &["LOW", "HIGH"],
        default: "HIGH",
        can_disable: false,
        strict_signatures: true,
    });
    const FLASH_3: Thinking = Thinking::Levels(Levels {
        levels: &["MINIMAL", "LOW", "MEDIUM", "HIGH"],
        default: "HIGH",
        can_disable: true,
        strict_signatures: true,
    });

    fn effort(t: Thinking, config: Value) -> Result<Effort, String> {
        plan(t, Some(&config)).map(|p| p.effort)
    }

    #[test]
    fn budgets_of_2_5_models() {
        assert_eq!(
            effort(PRO_25, json!({})),
            Ok(Effort::None),
            "left to decide, it does not think"
        );
        assert_eq!(
            effort(PRO_25, json!({"thinkingBudget": -1})),
            Ok(Effort::None)
        );
        assert_eq!(
            effort(PRO_25, json!({"includeThoughts": true})),
            Ok(Effort::Dynamic)
        );
        assert_eq!(
            effort(
                PRO_25,
                json!({"thinkingBudget": -1, "includeThoughts": true})
            ),
            Ok(Effort::Dynamic)
        );
        assert_eq!(
            effort(PRO_25, json!({"thinkingBudget": 128})),
            Ok(Effort::Budget(128))
        );
        assert_eq!(
            effort(PRO_25, json!({"thinkingBudget": 0})),
            Err("Budget 0 is invalid. This model only works in thinking mode.".into())
        );
        assert_eq!(
            effort(PRO_25, json!({"thinkingBudget": 40000})),
            Err("The thinking budget (40000) is invalid.".into())
        );
        assert_eq!(
            effort(LITE_25, json!({"thinkingBudget": 100})),
            Err("The thinking budget (100) is invalid.".into())
        );
        assert_eq!(
            effort(LITE_25, json!({"thinkingBudget": 0})),
            Ok(Effort::None)
        );
        assert_eq!(
            effort(LITE_25, json!({})),
            Ok(Effort::None),
            "Flash-Lite does not think unless asked"
        );
        assert_eq!(
            effort(LITE_25, json!({"includeThoughts": true})),
            Ok(Effort::None)
        );
        assert_eq!(
            effort(
                LITE_25,
                json!({"includeThoughts": true, "thinkingBudget": -1})
            ),
            Ok(Effort::Dynamic)
        );
        assert_eq!(
            effort(PRO_25, json!({"thinkingLevel": "LOW"})),
            Err("Thinking level is not supported for this model.".into())
        );
        assert_eq!(
            effort(
                PRO_25,
                json!({"thinkingLevel": "THINKING_LEVEL_UNSPECIFIED"})
            ),
            Ok(Effort::None)
        );
    }

    #[test]
    fn levels_of_gemini_3_models() {
        assert_eq!(effort(PRO_3, json!({})), Ok(Effort::Level("HIGH")));
        assert_eq!(
            effort(PRO_3, json!({"thinkingLevel": "LOW"})),
            Ok(Effort::Level("LOW"))
        );
        assert_eq!(
            effort(PRO_3, json!({"thinkingLevel": "MEDIUM"})),
            Err("Thinking level MEDIUM is not supported for this model. Please retry with other thinking level".into())
        );
        assert_eq!(
            effort(FLASH_3, json!({"thinkingLevel": "MINIMAL"})),
            Ok(Effort::Level("MINIMAL"))
        );
        assert_eq!(
            effort(PRO_3, json!({"thinkingBudget": 2048})),
            Ok(Effort::Budget(2048))
        );
        assert_eq!(
            effort(PRO_3, json!({"thinkingBudget": -1})),
            Ok(Effort::Dynamic)
        );
        assert_eq!(
            effort(PRO_3, json!({"thinkingBudget": 0})),
            Err("Budget 0 is invalid. This model only works in thinking mode.".into())
        );
        assert_eq!(
            effort(FLASH_3, json!({"thinkingBudget": 0})),
            Ok(Effort::None)
        );
        assert_eq!(
            effort(FLASH_3, json!({"thinkingBudget": -5})),
            Err("The thinking budget (-5) is invalid.".into())
        );
        assert_eq!(
            effort(
                FLASH_3,
                json!({"thinkingBudget": 100, "thinkingLevel": "LOW"})
            ),
            Err("You can only set one of thinking budget and thinking level.".into())
        );
        let p = plan(FLASH_3, Some(&json!({"includeThoughts": true}))).unwrap();
        assert!(p.include_thoughts && p.gemini3);
    }

    #[test]
    fn models_without_thinking_ignore_the_config() {
        let p = plan(
            Thinking::Off,
            Some(&json!({"thinkingLevel": "HIGH", "includeThoughts": true})),
        )
        .unwrap();
        assert_eq!(p.effort, Effort::None);
        assert!(!p.include_thoughts);
        assert_eq!(plan(PRO_25, None).unwrap().effort, Effort::None);
    }

    #[test]
    fn thought_tokens_follow_the_effort() {
        let d = Digest::new(3).part("conversation");
        let at = |effort| {
            Plan {
                effort,
                include_thoughts: false,
                gemini3: true,
            }
            .thought_tokens(d, None)
        };
        let low = at(Effort::Level("LOW"));
        assert!((16..64).contains(&low));
        assert_eq!(at(Effort::Level("MEDIUM")), 2 * low);
        assert_eq!(at(Effort::Level("HIGH")), 4 * low);
        assert_eq!(at(Effort::Level("XHIGH")), 8 * low);
        assert_eq!(at(Effort::Level("MINIMAL")), 0);
        assert_eq!(at(Effort::None), 0);
        assert_eq!(at(Effort::Dynamic), 4 * low);
        assert_eq!(at(Effort::Budget(10)), 10);
        let p = Plan {
            effort: Effort::Dynamic,
            include_thoughts: false,
            gemini3: false,
        };
        assert_eq!(p.thought_tokens(d, Some(9)), (4 * low).min(4));
    }
}
