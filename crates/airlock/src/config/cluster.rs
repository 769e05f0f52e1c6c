//! `[cluster]` (with `--redis-url`): many instances sharing their limits,
//! bans, ephemeral tokens and change events in one Redis, and what to do
//! while it cannot be reached.

use std::time::Duration;

use airlock_cluster::ClusterSettings;
use airlock_gateway::limits::{FailurePolicy, WhenDown};
use toml::Spanned;

use super::file::ClusterSection;
use super::{Overrides, Resolver};

/// Cluster mode, resolved.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    pub settings: ClusterSettings,
    pub policy: FailurePolicy,
}

const DEFAULT_PREFIX: &str = "airlock";
const DEFAULT_LEASE_SECS: u64 = 30;
const DEFAULT_TIMEOUT_MS: u64 = 250;

impl Resolver<'_> {
    /// `None` without a Redis URL: one instance, counting in memory.
    pub(super) fn cluster(
        &mut self,
        section: &ClusterSection,
        overrides: &Overrides,
    ) -> Option<ClusterConfig> {
        let url = match (&overrides.redis_url, &section.redis_url) {
            (Some(url), _) => Some(url.clone()),
            (None, Some(field))
                if field.get_ref().starts_with("env:") || field.get_ref().starts_with("file:") =>
            {
                self.secret(field, "cluster.redis_url")
            }
            (None, Some(field)) => Some(field.get_ref().clone()),
            (None, None) => None,
        };
        let Some(url) = url else {
            let set = [
                section.key_prefix.as_ref().map(Spanned::span),
                section.lease_secs.as_ref().map(Spanned::span),
                section.timeout_ms.as_ref().map(Spanned::span),
                section.limits_when_redis_down.as_ref().map(Spanned::span),
                section.budgets_when_redis_down.as_ref().map(Spanned::span),
            ];
            if set.iter().any(Option::is_some) {
                self.problem("[cluster] settings need cluster.redis_url (or --redis-url)");
            }
            return None;
        };
        if let Err(error) = airlock_cluster::check_url(&url) {
            let message = format!("cluster.redis_url: {error}");
            match (&overrides.redis_url, &section.redis_url) {
                (None, Some(field)) => self.problem_at(field, message),
                _ => self.problem(message),
            }
        }
        let key_prefix = match &section.key_prefix {
            None => DEFAULT_PREFIX.to_string(),
            Some(prefix) => {
                let text = prefix.get_ref();
                if text.is_empty() || text.contains(char::is_whitespace) {
                    self.problem_at(
                        prefix,
                        "cluster.key_prefix must be non-empty, without spaces",
                    );
                }
                text.clone()
            }
        };
        let mut whole = |value: &Option<Spanned<u64>>, name: &str, default: u64| match value {
            None => default,
            Some(value) if *value.get_ref() == 0 => {
                self.problem_at(value, format!("{name} must be a whole number from 1"));
                default
            }
            Some(value) => *value.get_ref(),
        };
        let lease_secs = whole(
            &section.lease_secs,
            "cluster.lease_secs",
            DEFAULT_LEASE_SECS,
        );
        let timeout_ms = whole(
            &section.timeout_ms,
            "cluster.timeout_ms",
            DEFAULT_TIMEOUT_MS,
        );
        let defaults = FailurePolicy::default();
        let policy = FailurePolicy {
            limits: self.when_down(
                &section.limits_when_redis_down,
                "cluster.limits_when_redis_down",
                defaults.limits,
            ),
            budgets: self.when_down(
                &section.budgets_when_redis_down,
                "cluster.budgets_when_redis_down",
                defaults.budgets,
            ),
        };
        Some(ClusterConfig {
            settings: ClusterSettings {
                url,
                key_prefix,
                lease: Duration::from_secs(lease_secs),
                timeout: Duration::from_millis(timeout_ms),
            },
            policy,
        })
    }

    fn when_down(
        &mut self,
        value: &Option<Spanned<String>>,
        name: &str,
        default: WhenDown,
    ) -> WhenDown {
        match value.as_ref().map(|v| (v, v.get_ref().as_str())) {
            None => default,
            Some((_, "local")) => WhenDown::Local,
            Some((_, "refuse")) => WhenDown::Refuse,
            Some((value, other)) => {
                self.problem_at(
                    value,
                    format!("{name} must be \"local\" or \"refuse\", not \"{other}\""),
                );
                default
            }
        }
    }
}
