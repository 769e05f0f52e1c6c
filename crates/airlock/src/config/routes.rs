//! `[[routes]]`: each route's model pattern, its deployments (one
//! provider, or several balanced by weight and latency), its names, its
//! timeouts over its providers', and its fallbacks; and each provider's
//! `timeouts`, checked.

use std::time::Duration;

use airlock_gateway::resilience::{Balance, Trigger};
use airlock_gateway::routing::{
    Fallbacks, ModelPattern, RouteCache, RouteTimeouts, default_patterns,
};
use airlock_providers::{ProviderKind, Timeouts};
use toml::Spanned;

use super::file::{ProviderSection, RouteSection};
use super::{DeploymentSettings, ProviderSettings, ProviderSource, Resolver, RouteSettings};

impl Resolver<'_> {
    pub(super) fn routes(
        &mut self,
        sections: &[RouteSection],
        provider_names: &[&str],
    ) -> Vec<RouteSettings> {
        let mut routes = Vec::new();
        for section in sections {
            let model = section.model.get_ref();
            let star = model.find('*');
            if model.is_empty() || star.is_some_and(|at| at != model.len() - 1) {
                self.problem_at(
                    &section.model,
                    format!("route model `{model}` must be a name or a prefix ending in '*'"),
                );
            }
            if let Some(upstream) = &section.upstream_model {
                self.check_upstream_model(upstream);
            }
            let deployments = self.deployments(section, provider_names);
            let balance = match &section.balance {
                None => Balance::default(),
                Some(name) => Balance::parse(name.get_ref()).unwrap_or_else(|| {
                    let known: Vec<&str> = Balance::ALL.iter().map(|(name, _)| *name).collect();
                    self.problem_at(
                        name,
                        format!(
                            "balance `{}` is not one of {}",
                            name.get_ref(),
                            known.join(", ")
                        ),
                    );
                    Balance::default()
                }),
            };
            routes.push(RouteSettings {
                model: model.clone(),
                deployments,
                balance,
                upstream_model: section.upstream_model.as_ref().map(|u| u.get_ref().clone()),
                timeouts: self.route_timeouts(section),
                fallbacks: self.fallbacks(section),
                cache: self.route_cache(section),
            });
        }
        routes
    }

    /// A route's `cache` and `cache_ttl_secs`.
    fn route_cache(&mut self, section: &RouteSection) -> RouteCache {
        let enabled = section.cache.as_ref().is_some_and(|on| *on.get_ref());
        let ttl = section.cache_ttl_secs.as_ref().map(|secs| {
            if !(1..=super::cache::MAX_TTL_SECS).contains(secs.get_ref()) {
                self.problem_at(
                    secs,
                    format!(
                        "cache_ttl_secs must be between 1 and {} (30 days)",
                        super::cache::MAX_TTL_SECS
                    ),
                );
            }
            Duration::from_secs(*secs.get_ref())
        });
        RouteCache { enabled, ttl }
    }

    fn check_upstream_model(&mut self, upstream: &Spanned<String>) {
        if upstream.get_ref().is_empty() || upstream.get_ref().contains('*') {
            self.problem_at(upstream, "upstream_model must be a model name");
        }
    }

    /// `provider`, or `deployments`: exactly one of them, each provider
    /// defined and named once, weights above zero.
    fn deployments(
        &mut self,
        section: &RouteSection,
        provider_names: &[&str],
    ) -> Vec<DeploymentSettings> {
        let named = |this: &mut Self, provider: &Spanned<String>| {
            let name = provider.get_ref();
            if !provider_names.contains(&name.as_str()) {
                this.problem_at(
                    provider,
                    format!("route names provider `{name}`, which is not defined"),
                );
            }
            name.clone()
        };
        match (&section.provider, section.deployments.as_slice()) {
            (Some(provider), []) => vec![DeploymentSettings {
                provider: named(self, provider),
                upstream_model: None,
                weight: 1,
            }],
            (None, []) => {
                self.problem_at(&section.model, "a route needs a provider or deployments");
                Vec::new()
            }
            (Some(provider), _) => {
                self.problem_at(provider, "a route has a provider or deployments, not both");
                Vec::new()
            }
            (None, sections) => {
                let mut deployments: Vec<DeploymentSettings> = Vec::new();
                for deployment in sections {
                    let provider = named(self, &deployment.provider);
                    if deployments.iter().any(|d| d.provider == provider) {
                        self.problem_at(
                            &deployment.provider,
                            format!(
                                "provider `{provider}` is named twice in the route's deployments"
                            ),
                        );
                    }
                    if let Some(upstream) = &deployment.upstream_model {
                        self.check_upstream_model(upstream);
                    }
                    let weight = deployment.weight.as_ref().map_or(1, |weight| {
                        if *weight.get_ref() == 0 {
                            self.problem_at(
                                weight,
                                "a deployment's weight must be greater than zero",
                            );
                        }
                        *weight.get_ref()
                    });
                    deployments.push(DeploymentSettings {
                        provider,
                        upstream_model: deployment
                            .upstream_model
                            .as_ref()
                            .map(|u| u.get_ref().clone()),
                        weight,
                    });
                }
                deployments
            }
        }
    }

    /// A route's own timeouts (each greater than zero).
    fn route_timeouts(&mut self, section: &RouteSection) -> RouteTimeouts {
        let Some(timeouts) = &section.timeouts else {
            return RouteTimeouts::default();
        };
        let values = timeouts.get_ref();
        let mut secs = |value: Option<u64>, name: &str| {
            value.and_then(|secs| self.positive_timeout(timeouts, name, secs))
        };
        RouteTimeouts {
            first_byte: secs(values.first_byte_secs, "first_byte_secs"),
            idle: secs(values.idle_secs, "idle_secs"),
            total: secs(values.total_secs, "total_secs"),
        }
    }

    /// A provider's timeouts over `defaults` (each greater than zero).
    pub(super) fn provider_timeouts(
        &mut self,
        section: &ProviderSection,
        defaults: Timeouts,
    ) -> Timeouts {
        let Some(timeouts) = &section.timeouts else {
            return defaults;
        };
        let values = timeouts.get_ref();
        let mut secs = |value: Option<u64>, name: &str| {
            value.and_then(|secs| self.positive_timeout(timeouts, name, secs))
        };
        Timeouts {
            connect: secs(values.connect_secs, "connect_secs").unwrap_or(defaults.connect),
            first_byte: secs(values.first_byte_secs, "first_byte_secs")
                .unwrap_or(defaults.first_byte),
            idle: secs(values.idle_secs, "idle_secs").unwrap_or(defaults.idle),
            total: secs(values.total_secs, "total_secs").or(defaults.total),
        }
    }

    fn positive_timeout<T>(&mut self, at: &Spanned<T>, name: &str, secs: u64) -> Option<Duration> {
        if secs == 0 {
            self.problem_at(at, format!("timeouts.{name} must be greater than zero"));
            return None;
        }
        Some(Duration::from_secs(secs))
    }

    /// A route's fallbacks: model names, and triggers by their names.
    fn fallbacks(&mut self, section: &RouteSection) -> Option<Fallbacks> {
        for model in &section.fallbacks {
            let name = model.get_ref();
            if name.is_empty() || name.contains('*') || name == section.model.get_ref() {
                self.problem_at(
                    model,
                    format!("fallback `{name}` must be a model name other than the route's own"),
                );
            }
        }
        let on = match &section.fallback_on {
            None => Trigger::DEFAULT.to_vec(),
            Some(names) => {
                let mut on = Vec::new();
                for name in names.get_ref() {
                    match Trigger::parse(name) {
                        Some(trigger) => on.push(trigger),
                        None => self.problem_at(
                            names,
                            format!(
                                "fallback_on `{name}` is not one of {}",
                                Trigger::ALL.map(|(known, _)| known).join(", ")
                            ),
                        ),
                    }
                }
                if section.fallbacks.is_empty() {
                    self.problem_at(names, "fallback_on needs fallbacks to fall back to");
                }
                on
            }
        };
        (!section.fallbacks.is_empty()).then(|| Fallbacks {
            models: section
                .fallbacks
                .iter()
                .map(|model| model.get_ref().clone())
                .collect(),
            on,
        })
    }

    /// Each fallback is a model some route serves: a configured route's
    /// model, or a family a provider serves by default.
    pub(super) fn check_fallbacks_are_routed(
        &mut self,
        sections: &[RouteSection],
        routes: &[RouteSettings],
        providers: &[ProviderSettings],
        source: ProviderSource,
    ) {
        let default_kinds: Vec<ProviderKind> = if source == ProviderSource::Simulator {
            vec![ProviderKind::Gemini, ProviderKind::Openai]
        } else {
            providers
                .iter()
                .filter(|p| p.default_routes)
                .map(|p| p.kind)
                .collect()
        };
        let routed = |model: &str| {
            routes
                .iter()
                .any(|route| ModelPattern::parse(&route.model).matches(model))
                || default_kinds.iter().any(|kind| {
                    default_patterns(*kind)
                        .iter()
                        .any(|pattern| ModelPattern::parse(pattern).matches(model))
                })
        };
        for section in sections {
            for fallback in &section.fallbacks {
                if !routed(fallback.get_ref()) {
                    self.problem_at(
                        fallback,
                        format!(
                            "fallback `{}` is served by no route or provider",
                            fallback.get_ref()
                        ),
                    );
                }
            }
        }
    }
}
