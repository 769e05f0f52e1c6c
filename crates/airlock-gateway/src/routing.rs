//! Model routing: which provider serves a requested model, under which name.
//!
//! Rules are tried in order; the first match wins. A rule matches a model name
//! exactly (`fast`) or by prefix (`gemini-*`), and may rename it for the
//! upstream (an alias), and name the models to fall back to when its
//! provider fails. Zero-config families are just rules appended after the
//! configured ones.

use std::sync::Arc;

use airlock_providers::{Provider, ProviderKind};

use crate::resilience::Trigger;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelPattern {
    Exact(String),
    Prefix(String),
}

impl ModelPattern {
    /// `gemini-*` is a prefix pattern; anything else is exact.
    pub fn parse(pattern: &str) -> ModelPattern {
        match pattern.strip_suffix('*') {
            Some(prefix) => ModelPattern::Prefix(prefix.to_string()),
            None => ModelPattern::Exact(pattern.to_string()),
        }
    }

    pub fn matches(&self, model: &str) -> bool {
        match self {
            ModelPattern::Exact(name) => name == model,
            ModelPattern::Prefix(prefix) => model.starts_with(prefix.as_str()),
        }
    }
}

pub struct RouteRule {
    pub pattern: ModelPattern,
    pub provider: Arc<Provider>,
    /// The name sent upstream; `None` keeps the requested name.
    pub upstream_model: Option<String>,
    pub fallbacks: Option<Arc<Fallbacks>>,
}

/// The models a route falls back to, in order, and on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fallbacks {
    /// Model names, each routed as a request for it would be.
    pub models: Vec<String>,
    pub on: Vec<Trigger>,
}

/// Where one request goes.
#[derive(Clone)]
pub struct Route {
    pub provider: Arc<Provider>,
    pub upstream_model: String,
    pub fallbacks: Option<Arc<Fallbacks>>,
}

#[derive(Default)]
pub struct RouteTable {
    rules: Vec<RouteRule>,
}

impl RouteTable {
    pub fn new(rules: Vec<RouteRule>) -> Self {
        RouteTable { rules }
    }

    pub fn resolve(&self, model: &str) -> Option<Route> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        self.rules
            .iter()
            .find(|rule| rule.pattern.matches(model))
            .map(|rule| Route {
                provider: rule.provider.clone(),
                upstream_model: rule
                    .upstream_model
                    .clone()
                    .unwrap_or_else(|| model.to_string()),
                fallbacks: rule.fallbacks.clone(),
            })
    }

    /// Exact rules that rename the model: the aliases a client can list.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &RouteRule)> {
        self.rules.iter().filter_map(|rule| match &rule.pattern {
            ModelPattern::Exact(name)
                if rule.upstream_model.as_deref().is_some_and(|up| up != name) =>
            {
                Some((name.as_str(), rule))
            }
            _ => None,
        })
    }

    pub fn rules(&self) -> &[RouteRule] {
        &self.rules
    }
}

/// The model families a provider kind serves when no route names them.
pub fn default_patterns(kind: ProviderKind) -> &'static [&'static str] {
    match kind {
        ProviderKind::Gemini => &[
            "gemini-*",
            "gemma-*",
            "text-embedding-004",
            "embedding-001",
            "imagen-*",
            "veo-*",
        ],
        ProviderKind::Openai => &[
            "gpt-*",
            "chatgpt-*",
            "o1*",
            "o3*",
            "o4*",
            "text-embedding-3-*",
            "text-embedding-ada-*",
            "dall-e-*",
            "whisper-*",
            "tts-*",
            "omni-moderation-*",
        ],
        ProviderKind::OpenaiCompatible => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use airlock_providers::HttpClient;
    use std::time::Duration;

    fn provider(name: &str) -> Arc<Provider> {
        let base = "http://127.0.0.1:1".parse().unwrap();
        let http = HttpClient::new();
        Arc::new(Provider::new(
            name,
            ProviderKind::Gemini,
            base,
            vec![],
            &http,
            Duration::from_secs(1),
        ))
    }

    #[test]
    fn first_matching_rule_wins_and_aliases_rename() {
        let a = provider("a");
        let b = provider("b");
        let table = RouteTable::new(vec![
            RouteRule {
                pattern: ModelPattern::parse("fast"),
                provider: a.clone(),
                upstream_model: Some("gemini-2.5-flash".into()),
                fallbacks: None,
            },
            RouteRule {
                pattern: ModelPattern::parse("gemini-2.5-pro"),
                provider: b.clone(),
                upstream_model: None,
                fallbacks: None,
            },
            RouteRule {
                pattern: ModelPattern::parse("gemini-*"),
                provider: a.clone(),
                upstream_model: None,
                fallbacks: None,
            },
        ]);
        let route = table.resolve("fast").unwrap();
        assert_eq!(
            (route.provider.name(), route.upstream_model.as_str()),
            ("a", "gemini-2.5-flash")
        );
        assert_eq!(
            table.resolve("gemini-2.5-pro").unwrap().provider.name(),
            "b"
        );
        assert_eq!(
            table
                .resolve("models/gemini-2.0-flash")
                .unwrap()
                .upstream_model,
            "gemini-2.0-flash"
        );
        assert!(table.resolve("gpt-4o").is_none());
        assert_eq!(
            table.aliases().map(|(name, _)| name).collect::<Vec<_>>(),
            ["fast"]
        );
    }
}
