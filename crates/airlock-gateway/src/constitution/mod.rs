//! Constitutional checks: a project's constitution (`ProjectSettings::
//! constitution`) compiled into a [`Policy`] when the project is loaded,
//! and each request held to it. Rules on the model are checked before the
//! model is called; rules on the answer's text, and the judge, once the
//! answer is complete (a stream at its end). A violated rule that blocks
//! turns the answer into a refusal in the client's protocol; one that
//! flags is only recorded. Every result goes into the request's receipt,
//! beside the constitution's SHA-256.

mod judge;
pub mod refusal;
mod rules;

use std::sync::Arc;

use airlock_receipts::{CheckResult, ReceiptChecks};
use airlock_store::{Constitution, Project, RuleAction};

use crate::state::AppState;
use crate::tenancy::KeyGrant;
use rules::Rule;

/// A result's words.
const PASS: &str = "pass";
const VIOLATED: &str = "violated";
const UNCHECKED: &str = "unchecked";

/// A constitution, compiled.
#[derive(Debug)]
pub struct Policy {
    sha256: String,
    rules: Vec<Rule>,
    judge: Option<airlock_store::ConstitutionJudge>,
}

impl Policy {
    /// `constitution` compiled, or what is wrong with it.
    pub fn compile(constitution: &Constitution) -> Result<Policy, String> {
        let rules = constitution
            .rules
            .iter()
            .map(Rule::compile)
            .collect::<Result<Vec<_>, _>>()?;
        let mut ids: Vec<&str> = rules.iter().map(|rule| rule.id.as_str()).collect();
        if let Some(judge) = &constitution.judge {
            judge::validate(judge)?;
            ids.extend(judge.principles.iter().map(|p| p.id.as_str()));
        }
        ids.sort_unstable();
        if let Some(pair) = ids.windows(2).find(|pair| pair[0] == pair[1]) {
            return Err(format!(
                "constitution ids must be unique: `{}` is used twice",
                pair[0]
            ));
        }
        Ok(Policy {
            sha256: airlock_receipts::sha256_hex(&constitution.canonical_bytes()),
            rules,
            judge: constitution.judge.clone(),
        })
    }

    /// The policy of `project`, when it declares a constitution.
    pub fn of(project: &Project) -> Option<Arc<Policy>> {
        let constitution = project.settings.constitution.as_ref()?;
        match Policy::compile(constitution) {
            Ok(policy) => Some(Arc::new(policy)),
            Err(problem) => {
                // The admin API refuses such a constitution: only a database
                // edited by hand holds one. Its requests are refused.
                tracing::error!(project = %project.id, %problem, "the project's constitution does not compile; its requests are refused");
                Some(Arc::new(Policy::unusable(constitution)))
            }
        }
    }

    /// A constitution that does not compile: one blocking rule every
    /// request breaks.
    fn unusable(constitution: &Constitution) -> Policy {
        Policy {
            sha256: airlock_receipts::sha256_hex(&constitution.canonical_bytes()),
            rules: vec![Rule::unusable()],
            judge: None,
        }
    }

    /// SHA-256 (hex) of the constitution's canonical bytes.
    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// Whether answers' text is checked (a rule on it, or a judge).
    pub fn checks_answers(&self) -> bool {
        self.judge.is_some() || self.rules.iter().any(|rule| !rule.on_model())
    }

    /// Whether a check of answers' text blocks: then a stream is held
    /// until it is checked, so that nothing it withholds reaches the client.
    pub fn holds_streams(&self) -> bool {
        let judge_blocks = self.judge.as_ref().is_some_and(|judge| {
            judge
                .principles
                .iter()
                .any(|p| p.action == RuleAction::Block)
        });
        judge_blocks
            || self
                .rules
                .iter()
                .any(|rule| !rule.on_model() && rule.action == RuleAction::Block)
    }

    /// The rules on models, for a request naming `model`.
    pub fn check_model(&self, model: &str) -> Checked {
        let results = self
            .rules
            .iter()
            .filter(|rule| rule.on_model())
            .map(|rule| result(&rule.id, rule.allows_model(model), rule.action))
            .collect();
        Checked { results }
    }

    /// The rules on text, and the judge's verdicts, for an answer whose
    /// text is `text`. The judge is asked as `grant`'s project.
    pub async fn check_answer(&self, state: &AppState, grant: &KeyGrant, text: &str) -> Checked {
        let answer = rules::Answer::new(text);
        let mut results: Vec<CheckResult> = self
            .rules
            .iter()
            .filter(|rule| !rule.on_model())
            .map(|rule| result(&rule.id, rule.allows_text(&answer), rule.action))
            .collect();
        if let Some(judge) = &self.judge {
            results.extend(judge::verdicts(state, grant, judge, text).await);
        }
        Checked { results }
    }
}

/// A rule's or principle's id: 1 to 64 letters, digits, `-`, `_`, `.`.
fn check_id(what: &str, id: &str) -> Result<(), String> {
    let valid = !id.is_empty()
        && id.len() <= 64
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if valid {
        Ok(())
    } else {
        Err(format!(
            "{what} id `{id}` must be 1 to 64 letters, digits, `-`, `_` or `.`"
        ))
    }
}

fn result(rule: &str, kept: bool, action: RuleAction) -> CheckResult {
    CheckResult {
        rule: rule.to_string(),
        result: if kept { PASS } else { VIOLATED }.to_string(),
        action: action.name().to_string(),
    }
}

/// The results of a request's checks.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Checked {
    results: Vec<CheckResult>,
}

impl Checked {
    /// The first result that blocks: a violated (or, for the judge,
    /// unchecked) rule whose action is `block`.
    pub fn blocked_by(&self) -> Option<&str> {
        self.results
            .iter()
            .find(|r| r.action == RuleAction::Block.name() && r.result != PASS)
            .map(|r| r.rule.as_str())
    }

    /// What the client reads when a rule blocked the answer.
    pub fn refusal(&self) -> Option<String> {
        self.blocked_by().map(|rule| {
            format!("The answer was withheld: it does not keep the project's rule `{rule}`.")
        })
    }

    /// `blocked`, `flagged` (a rule that only flags was not kept) or
    /// `passed`.
    pub fn verdict(&self) -> &'static str {
        if self.blocked_by().is_some() {
            "blocked"
        } else if self.results.iter().any(|r| r.result != PASS) {
            "flagged"
        } else {
            "passed"
        }
    }

    pub fn is_empty(&self) -> bool {
        self.results.is_empty()
    }

    /// These results and then `more`.
    pub fn extend(&mut self, more: Checked) {
        self.results.extend(more.results);
    }

    /// As the receipt carries them.
    pub fn to_receipt(&self) -> ReceiptChecks {
        ReceiptChecks {
            verdict: self.verdict().to_string(),
            results: self.results.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: serde_json::Value) -> Policy {
        Policy::compile(&serde_json::from_value(json).unwrap()).unwrap()
    }

    fn checked(results: &[(&str, &str, &str)]) -> Checked {
        let results = results
            .iter()
            .map(|(rule, result, action)| CheckResult {
                rule: rule.to_string(),
                result: result.to_string(),
                action: action.to_string(),
            })
            .collect();
        Checked { results }
    }

    #[test]
    fn streams_are_held_only_when_a_check_on_the_text_blocks() {
        let flags = policy(serde_json::json!({"rules": [{"id": "a", "max_chars": 9}]}));
        assert!(flags.checks_answers() && !flags.holds_streams());
        let models = policy(
            serde_json::json!({"rules": [{"id": "m", "allowed_models": ["x"], "action": "block"}]}),
        );
        assert!(!models.checks_answers() && !models.holds_streams());
        let judged = policy(
            serde_json::json!({"judge": {"model": "m", "principles": [{"id": "p", "text": "t", "action": "block"}]}}),
        );
        assert!(judged.checks_answers() && judged.holds_streams());
    }

    #[test]
    fn a_blocking_rule_not_kept_or_not_checked_blocks_and_a_flag_only_flags() {
        let passed = checked(&[("a", "pass", "block"), ("b", "pass", "flag")]);
        assert_eq!((passed.verdict(), passed.refusal()), ("passed", None));
        let flagged = checked(&[("a", "pass", "block"), ("b", "violated", "flag")]);
        assert_eq!(flagged.verdict(), "flagged");
        let unchecked = checked(&[("b", "unchecked", "flag"), ("p", "unchecked", "block")]);
        assert_eq!(unchecked.verdict(), "blocked");
        assert!(unchecked.refusal().unwrap().contains("`p`"));
    }

    #[test]
    fn ids_are_unique_across_rules_and_principles_and_the_digest_is_of_the_canonical_json() {
        let twice = serde_json::json!({"rules": [{"id": "a", "max_chars": 1}], "judge": {"model": "m", "principles": [{"id": "a", "text": "t"}]}});
        let problem = Policy::compile(&serde_json::from_value(twice).unwrap()).unwrap_err();
        assert!(problem.contains("`a` is used twice"), "{problem}");
        let compact = r#"{"text":"Be kind.","rules":[{"id":"a","max_chars":1,"action":"flag"}]}"#;
        let spaced =
            policy(serde_json::json!({"rules": [{"max_chars": 1, "id": "a"}], "text": "Be kind."}));
        assert_eq!(
            spaced.sha256(),
            airlock_receipts::sha256_hex(compact.as_bytes())
        );
    }
}
