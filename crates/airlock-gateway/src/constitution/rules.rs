//! A constitution's machine-checkable rules, compiled once when the
//! project is loaded: blocked terms (whole words, any case) and patterns
//! (regular expressions), required and forbidden phrases (any case),
//! length bounds (characters), and the models a request may name.

use airlock_store::{ConstitutionRule, RuleAction};
use regex::{Regex, RegexBuilder};

/// The largest compiled form of a pattern or term list.
const MAX_PATTERN_BYTES: usize = 1 << 20;

/// One rule, ready to check.
#[derive(Debug)]
pub(super) struct Rule {
    pub(super) id: String,
    pub(super) action: RuleAction,
    check: Check,
}

#[derive(Debug)]
enum Check {
    /// Terms or a pattern the answer must not match.
    Blocked(Regex),
    /// A phrase (lower case) the answer must, or must not, contain.
    Required(String),
    Forbidden(String),
    MaxChars(u64),
    MinChars(u64),
    /// Model patterns; checked against the request, not the answer.
    Models(Vec<String>),
    /// A constitution that does not compile: no request keeps it.
    Unusable,
}

impl Rule {
    /// `rule` compiled, or what is wrong with it.
    pub(super) fn compile(rule: &ConstitutionRule) -> Result<Rule, String> {
        let id = &rule.id;
        super::check_id("rule", id)?;
        let mut checks = Vec::new();
        if let Some(terms) = &rule.blocked_terms {
            checks.push(blocked_terms(id, terms)?);
        }
        if let Some(pattern) = &rule.blocked_pattern {
            let regex = RegexBuilder::new(pattern)
                .size_limit(MAX_PATTERN_BYTES)
                .build()
                .map_err(|error| {
                    format!("rule `{id}`: blocked_pattern is not a regular expression: {error}")
                })?;
            checks.push(Check::Blocked(regex));
        }
        if let Some(phrase) = &rule.required_phrase {
            checks.push(Check::Required(phrase_of(id, "required_phrase", phrase)?));
        }
        if let Some(phrase) = &rule.forbidden_phrase {
            checks.push(Check::Forbidden(phrase_of(id, "forbidden_phrase", phrase)?));
        }
        if let Some(max) = rule.max_chars {
            checks.push(Check::MaxChars(max));
        }
        if let Some(min) = rule.min_chars {
            checks.push(Check::MinChars(min));
        }
        if let Some(models) = &rule.allowed_models {
            if models.is_empty() || models.iter().any(|model| model.trim().is_empty()) {
                return Err(format!(
                    "rule `{id}`: allowed_models must name at least one model, none empty"
                ));
            }
            checks.push(Check::Models(models.clone()));
        }
        if checks.len() != 1 {
            return Err(format!(
                "rule `{id}` must have exactly one of blocked_terms, blocked_pattern, required_phrase, forbidden_phrase, max_chars, min_chars, allowed_models"
            ));
        }
        Ok(Rule {
            id: id.clone(),
            action: rule.action,
            check: checks.remove(0),
        })
    }

    /// The rule of a constitution that does not compile: it blocks every
    /// request before its model is called.
    pub(super) fn unusable() -> Rule {
        Rule {
            id: "constitution".into(),
            action: RuleAction::Block,
            check: Check::Unusable,
        }
    }

    /// Whether it reads the request's model (else the answer's text).
    pub(super) fn on_model(&self) -> bool {
        matches!(self.check, Check::Models(_) | Check::Unusable)
    }

    /// Whether `model` keeps the rule.
    pub(super) fn allows_model(&self, model: &str) -> bool {
        match &self.check {
            Check::Models(patterns) => patterns.iter().any(|p| matches_pattern(p, model)),
            Check::Unusable => false,
            _ => true,
        }
    }

    /// Whether `text` keeps the rule.
    pub(super) fn allows_text(&self, text: &Answer) -> bool {
        match &self.check {
            Check::Blocked(regex) => !regex.is_match(text.text),
            Check::Required(phrase) => text.lower().contains(phrase.as_str()),
            Check::Forbidden(phrase) => !text.lower().contains(phrase.as_str()),
            Check::MaxChars(max) => text.chars() <= *max,
            Check::MinChars(min) => text.chars() >= *min,
            Check::Models(_) | Check::Unusable => true,
        }
    }
}

/// An answer's text, with its lower case and length worked out once, when
/// a rule first asks.
pub(super) struct Answer<'a> {
    text: &'a str,
    lower: std::cell::OnceCell<String>,
    chars: std::cell::OnceCell<u64>,
}

impl<'a> Answer<'a> {
    pub(super) fn new(text: &'a str) -> Answer<'a> {
        Answer {
            text,
            lower: std::cell::OnceCell::new(),
            chars: std::cell::OnceCell::new(),
        }
    }

    fn lower(&self) -> &str {
        self.lower.get_or_init(|| self.text.to_lowercase())
    }

    fn chars(&self) -> u64 {
        *self.chars.get_or_init(|| self.text.chars().count() as u64)
    }
}

/// Terms as one case-insensitive regular expression of whole words.
fn blocked_terms(id: &str, terms: &[String]) -> Result<Check, String> {
    if terms.is_empty() || terms.iter().any(|term| term.trim().is_empty()) {
        return Err(format!(
            "rule `{id}`: blocked_terms must list at least one term, none empty"
        ));
    }
    let alternatives: Vec<String> = terms
        .iter()
        .map(|term| regex::escape(term.trim()))
        .collect();
    let pattern = format!(r"(?i)\b(?:{})\b", alternatives.join("|"));
    RegexBuilder::new(&pattern)
        .size_limit(MAX_PATTERN_BYTES)
        .build()
        .map(Check::Blocked)
        .map_err(|error| format!("rule `{id}`: blocked_terms are too many or too long: {error}"))
}

fn phrase_of(id: &str, field: &str, phrase: &str) -> Result<String, String> {
    if phrase.trim().is_empty() {
        return Err(format!("rule `{id}`: {field} must not be empty"));
    }
    Ok(phrase.to_lowercase())
}

/// `*` matches any run of characters; everything else itself.
fn matches_pattern(pattern: &str, model: &str) -> bool {
    let mut pieces = pattern.split('*');
    let first = pieces.next().unwrap_or_default();
    let Some(mut rest) = model.strip_prefix(first) else {
        return false;
    };
    let pieces: Vec<&str> = pieces.collect();
    let Some((last, middle)) = pieces.split_last() else {
        return rest.is_empty();
    };
    for piece in middle {
        match rest.find(piece) {
            Some(at) => rest = &rest[at + piece.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(json: serde_json::Value) -> Result<Rule, String> {
        Rule::compile(&serde_json::from_value(json).unwrap())
    }

    fn allows(rule: &Rule, text: &str) -> bool {
        rule.allows_text(&Answer::new(text))
    }

    #[test]
    fn blocked_terms_match_whole_words_in_any_case() {
        let terms =
            rule(serde_json::json!({"id": "gentle", "blocked_terms": ["kill", "a.b"]})).unwrap();
        assert!(!allows(&terms, "They will KILL the dragon"));
        assert!(allows(&terms, "The skill of the knight"));
        assert!(!allows(&terms, "see a.b now"));
        assert!(allows(&terms, "see axb now"), "terms are not patterns");
    }

    #[test]
    fn patterns_phrases_and_lengths() {
        let pattern =
            rule(serde_json::json!({"id": "ssn", "blocked_pattern": r"\b\d{3}-\d{2}-\d{4}\b"}))
                .unwrap();
        assert!(!allows(&pattern, "mine is 123-45-6789"));
        assert!(allows(&pattern, "mine is 123-456-789"));
        let required =
            rule(serde_json::json!({"id": "end", "required_phrase": "The End"})).unwrap();
        assert!(allows(&required, "...and they slept. the end."));
        assert!(!allows(&required, "...and they slept."));
        let forbidden =
            rule(serde_json::json!({"id": "scary", "forbidden_phrase": "Dark Forest"})).unwrap();
        assert!(!allows(&forbidden, "into the dark forest"));
        let max = rule(serde_json::json!({"id": "short", "max_chars": 3})).unwrap();
        assert!(allows(&max, "héé"), "characters, not bytes");
        assert!(!allows(&max, "four"));
        let min = rule(serde_json::json!({"id": "long", "min_chars": 3})).unwrap();
        assert!(!allows(&min, "hi"));
    }

    #[test]
    fn allowed_models_take_wildcards() {
        let models = rule(serde_json::json!({"id": "m", "allowed_models": ["gemini-2.5-*", "gpt-4o"], "action": "block"})).unwrap();
        assert!(models.on_model());
        assert_eq!(models.action, RuleAction::Block);
        assert!(models.allows_model("gemini-2.5-flash"));
        assert!(models.allows_model("gpt-4o"));
        assert!(!models.allows_model("gpt-4o-mini"));
        assert!(!models.allows_model("gemini-3-pro"));
        assert!(matches_pattern("*", "anything"));
        assert!(matches_pattern("a*b*c", "axxbyyc"));
        assert!(!matches_pattern("a*b*c", "axxbyy"));
        assert!(!matches_pattern("ab*ba", "aba"));
    }

    #[test]
    fn bad_rules_say_what_is_wrong() {
        let problems = [
            (serde_json::json!({"id": "x"}), "exactly one of"),
            (
                serde_json::json!({"id": "x", "max_chars": 1, "min_chars": 0}),
                "exactly one of",
            ),
            (
                serde_json::json!({"id": "bad id", "max_chars": 1}),
                "rule id `bad id`",
            ),
            (
                serde_json::json!({"id": "x", "blocked_pattern": "(unclosed"}),
                "not a regular expression",
            ),
            (
                serde_json::json!({"id": "x", "blocked_terms": []}),
                "at least one term",
            ),
            (
                serde_json::json!({"id": "x", "required_phrase": " "}),
                "must not be empty",
            ),
            (
                serde_json::json!({"id": "x", "allowed_models": [""]}),
                "none empty",
            ),
        ];
        for (json, expected) in problems {
            let problem = rule(json.clone()).unwrap_err();
            assert!(problem.contains(expected), "{json}: {problem}");
        }
    }
}
