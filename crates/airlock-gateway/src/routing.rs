//! Model routing: which provider serves a requested model, under which name.
//!
//! Rules are tried in order; the first match wins. A rule matches a model name
//! exactly (`fast`) or by prefix (`gemini-*`), and may rename it for the
//! upstream (an alias), spread it over several deployments (providers
//! serving the same model, balanced by `resilience::balance`), set its own
//! timeouts, and name the models to fall back to when its provider fails.
//! Zero-config families are just rules appended after the configured ones.

use std::sync::Arc;
use std::time::Duration;

use airlock_providers::{Provider, ProviderKind, Timeouts};

pub use crate::cache::RouteCache;
use crate::resilience::{Balance, Trigger};

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

/// One provider serving a rule's model.
#[derive(Clone)]
pub struct Deployment {
    pub provider: Arc<Provider>,
    /// The name sent upstream; `None` keeps the rule's (or the requested) name.
    pub upstream_model: Option<String>,
    /// Its share of the rule's requests, relative to the others'.
    pub weight: u32,
}

/// A rule's own limits on a call, over its provider's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RouteTimeouts {
    pub first_byte: Option<Duration>,
    pub idle: Option<Duration>,
    pub total: Option<Duration>,
}

impl RouteTimeouts {
    /// The limits for a call to `provider` on this route.
    fn over(self, provider: &Provider) -> Timeouts {
        let of_provider = provider.timeouts();
        Timeouts {
            first_byte: self.first_byte.unwrap_or(of_provider.first_byte),
            idle: self.idle.unwrap_or(of_provider.idle),
            total: self.total.or(of_provider.total),
            ..*of_provider
        }
    }
}

pub struct RouteRule {
    pub pattern: ModelPattern,
    /// One or more; several are balanced by `balance`.
    pub deployments: Vec<Deployment>,
    pub balance: Balance,
    /// The name sent upstream by deployments that do not name their own.
    pub upstream_model: Option<String>,
    pub timeouts: RouteTimeouts,
    pub fallbacks: Option<Arc<Fallbacks>>,
    /// Whether the response cache keeps its answers, and for how long.
    pub cache: RouteCache,
}

impl RouteRule {
    /// A rule with one provider, its own timeouts and no fallbacks.
    pub fn to(pattern: &str, provider: Arc<Provider>, upstream_model: Option<String>) -> Self {
        RouteRule {
            pattern: ModelPattern::parse(pattern),
            deployments: vec![Deployment {
                provider,
                upstream_model: None,
                weight: 1,
            }],
            balance: Balance::default(),
            upstream_model,
            timeouts: RouteTimeouts::default(),
            fallbacks: None,
            cache: RouteCache::default(),
        }
    }

    /// The first deployment's provider (a rule always has one).
    pub fn provider(&self) -> &Arc<Provider> {
        &self.deployments[0].provider
    }

    /// Where a request for `model` goes through deployment `index`.
    fn route(self: &Arc<Self>, model: &str, index: usize) -> Route {
        let deployment = &self.deployments[index];
        Route {
            provider: deployment.provider.clone(),
            upstream_model: deployment
                .upstream_model
                .as_ref()
                .or(self.upstream_model.as_ref())
                .map_or_else(|| model.to_string(), Clone::clone),
            fallbacks: self.fallbacks.clone(),
            timeouts: self.timeouts.over(&deployment.provider),
            cache: self.cache,
            balanced: (self.deployments.len() > 1).then(|| Balanced {
                rule: self.clone(),
                model: model.to_string(),
            }),
        }
    }
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
    /// The limits on its calls: the route's, else its provider's.
    pub timeouts: Timeouts,
    pub cache: RouteCache,
    /// When its rule balances several deployments: the rule, for a retry
    /// to move to another.
    pub balanced: Option<Balanced>,
}

/// A route's balanced rule and the model it was asked for.
#[derive(Clone)]
pub struct Balanced {
    rule: Arc<RouteRule>,
    model: String,
}

impl Balanced {
    pub fn rule(&self) -> &RouteRule {
        &self.rule
    }

    /// The route through deployment `index` of the rule.
    pub fn through(&self, index: usize) -> Route {
        self.rule.route(&self.model, index)
    }
}

#[derive(Default)]
pub struct RouteTable {
    rules: Vec<Arc<RouteRule>>,
}

impl RouteTable {
    pub fn new(rules: Vec<RouteRule>) -> Self {
        RouteTable {
            rules: rules.into_iter().map(Arc::new).collect(),
        }
    }

    /// The route for `model`, through the deployment `choose` picks when
    /// its rule has several.
    pub fn resolve_with(
        &self,
        model: &str,
        choose: impl FnOnce(&RouteRule) -> usize,
    ) -> Option<Route> {
        let model = model.strip_prefix("models/").unwrap_or(model);
        let rule = self.rules.iter().find(|rule| rule.pattern.matches(model))?;
        let index = match rule.deployments.len() {
            1 => 0,
            _ => choose(rule).min(rule.deployments.len() - 1),
        };
        Some(rule.route(model, index))
    }

    /// The route for `model` through its rule's first deployment.
    pub fn resolve(&self, model: &str) -> Option<Route> {
        self.resolve_with(model, |_| 0)
    }

    /// Exact rules that rename the model: the aliases a client can list.
    pub fn aliases(&self) -> impl Iterator<Item = (&str, &RouteRule)> {
        self.rules.iter().filter_map(|rule| match &rule.pattern {
            ModelPattern::Exact(name)
                if rule.upstream_model.as_deref().is_some_and(|up| up != name) =>
            {
                Some((name.as_str(), rule.as_ref()))
            }
            _ => None,
        })
    }

    pub fn rules(&self) -> impl Iterator<Item = &RouteRule> {
        self.rules.iter().map(AsRef::as_ref)
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

    fn provider(name: &str) -> Arc<Provider> {
        let base = "http://127.0.0.1:1".parse().unwrap();
        let http = HttpClient::new();
        Arc::new(Provider::new(
            name,
            ProviderKind::Gemini,
            base,
            vec![],
            &http,
            Timeouts::waiting(Duration::from_secs(1)),
        ))
    }

    #[test]
    fn first_matching_rule_wins_and_aliases_rename() {
        let a = provider("a");
        let b = provider("b");
        let table = RouteTable::new(vec![
            RouteRule::to("fast", a.clone(), Some("gemini-2.5-flash".into())),
            RouteRule::to("gemini-2.5-pro", b.clone(), None),
            RouteRule::to("gemini-*", a.clone(), None),
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

    #[test]
    fn a_balanced_rule_routes_through_the_chosen_deployment_with_its_names_and_timeouts() {
        let a = provider("a");
        let b = provider("b");
        let mut rule = RouteRule::to("smart", a, Some("gemini-2.5-pro".into()));
        rule.deployments.push(Deployment {
            provider: b,
            upstream_model: Some("gemini-2.5-pro-eu".into()),
            weight: 3,
        });
        rule.timeouts.total = Some(Duration::from_secs(9));
        let table = RouteTable::new(vec![rule]);
        let route = table.resolve_with("smart", |_| 1).unwrap();
        assert_eq!(
            (route.provider.name(), route.upstream_model.as_str()),
            ("b", "gemini-2.5-pro-eu")
        );
        assert_eq!(route.timeouts.total, Some(Duration::from_secs(9)));
        assert_eq!(route.timeouts.first_byte, Duration::from_secs(1));
        let other = route.balanced.as_ref().unwrap().through(0);
        assert_eq!(
            (other.provider.name(), other.upstream_model.as_str()),
            ("a", "gemini-2.5-pro")
        );
        let single = RouteTable::new(vec![RouteRule::to("x", provider("c"), None)]);
        assert!(single.resolve_with("x", |_| 5).unwrap().balanced.is_none());
    }
}
