//! A project's constitution: the principles its answers are held to, as
//! stored in its settings. Its rules are checked by the gateway; its
//! SHA-256 (of [`Constitution::canonical_bytes`]) is in every receipt of
//! the project's requests.

use serde::{Deserialize, Serialize};

/// The principles a project publishes, the rules machines check them by,
/// and optionally a judge model that reads each answer against them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Constitution {
    /// The principles in prose (a published policy, or the system prompt
    /// the app uses).
    #[serde(default)]
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<ConstitutionRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub judge: Option<ConstitutionJudge>,
}

impl Constitution {
    /// The bytes its digest is taken over: its JSON, fields in this
    /// order, unset ones left out, no whitespace.
    pub fn canonical_bytes(&self) -> Vec<u8> {
        // Strings, numbers and lists always serialise.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

/// One machine-checkable rule: an id, exactly one check, and what a
/// violation does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstitutionRule {
    pub id: String,
    /// Words the answer must not contain (whole words, any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_terms: Option<Vec<String>>,
    /// A regular expression the answer must not match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_pattern: Option<String>,
    /// A phrase the answer must contain (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub required_phrase: Option<String>,
    /// A phrase the answer must not contain (any case).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forbidden_phrase: Option<String>,
    /// The most characters an answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_chars: Option<u64>,
    /// The fewest characters an answer may have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_chars: Option<u64>,
    /// Model patterns (`*` matches any run of characters) of the models
    /// that may answer (the provider's model, after routing); checked
    /// before the model is called.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub allowed_models: Option<Vec<String>>,
    #[serde(default)]
    pub action: RuleAction,
}

/// What a violation does: the answer is refused (`block`), or only
/// recorded (`flag`, the default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RuleAction {
    Block,
    #[default]
    Flag,
}

impl RuleAction {
    pub fn name(self) -> &'static str {
        match self {
            RuleAction::Block => "block",
            RuleAction::Flag => "flag",
        }
    }
}

/// A model, called through Airlock as the project, that reads each answer
/// and says of each principle whether the answer upholds it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConstitutionJudge {
    pub model: String,
    pub principles: Vec<JudgePrinciple>,
}

/// A principle the judge checks: an id, its wording, and what a
/// violation does (a principle the judge could not check counts as
/// violated when it blocks).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JudgePrinciple {
    pub id: String,
    pub text: String,
    #[serde(default)]
    pub action: RuleAction,
}
