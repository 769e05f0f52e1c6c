//! Rate limits, concurrency limits and budgets, checked in memory before a
//! request goes upstream and settled when it ends.
//!
//! A project's key is held to its own limits and to its project's: requests
//! per minute, tokens per minute (an estimate taken up front, corrected by
//! the real usage afterwards), requests in flight, and a daily or monthly
//! budget. A refusal names what was exceeded and when to retry.

mod bans;
mod buckets;
mod budget;
mod queue;

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use airlock_store::{Budget, BudgetPeriod, Limits, Store};

use crate::alerts::BudgetAlerts;
use http::{HeaderName, HeaderValue};

use crate::tenancy::KeyGrant;
pub use bans::{BanPolicy, Bans};
use buckets::{Buckets, Decision, InFlight, InFlightGuard};
pub use budget::BudgetOwner;
use budget::SpendTracker;
pub use queue::{QueueRefusal, Queues};

const MINUTE: Duration = Duration::from_secs(60);

/// What a refused request exceeded.
#[derive(Debug, Clone)]
pub struct Refusal {
    /// `key` or `project`.
    pub scope: &'static str,
    /// `requests`, `tokens` or `concurrent requests`.
    pub limit: &'static str,
    pub retry_after: Duration,
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

/// Why a request was not admitted.
#[derive(Debug)]
pub enum NotAdmitted {
    /// Over a rate or concurrency limit.
    Limit(Box<Refusal>),
    /// A budget is spent for its period.
    Budget { scope: &'static str },
    /// The spend so far could not be read.
    SpendUnknown,
}

/// An admitted request's hold on its limits, released or settled at its end.
pub struct Admission {
    token_buckets: Vec<(String, u64)>,
    estimate: u64,
    /// The budgets this request counts against.
    budgets: Vec<(BudgetOwner, Budget)>,
    _in_flight: Vec<InFlightGuard>,
    /// OpenAI's `x-ratelimit-*` headers for the tightest limits.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub struct Limiter {
    buckets: Buckets,
    in_flight: Arc<InFlight>,
    spend: SpendTracker,
    /// Where budget threshold alerts go, when configured.
    alerts: Option<BudgetAlerts>,
    queues: Queues,
}

/// One party a request is counted against: a key, its project, an end
/// user or a client address, with that party's limits.
pub struct Scope<'a> {
    /// `key`, `project`, `end user` or `ip`: named in refusals.
    pub label: &'static str,
    /// Unique among scopes of the same label.
    pub id: String,
    pub limits: &'a Limits,
    /// Whose spend a budget counts; `None` where budgets do not apply.
    pub owner: Option<BudgetOwner>,
}

impl<'a> Scope<'a> {
    /// The scopes of a request made with `grant`: its key and project, and
    /// the end user and client address within the project.
    pub fn for_request(
        grant: &'a KeyGrant,
        end_user: Option<&str>,
        client_ip: Option<IpAddr>,
    ) -> Vec<Scope<'a>> {
        let project = &grant.project;
        let mut scopes = vec![
            Scope {
                label: "key",
                id: grant.key.id.clone(),
                limits: &grant.key.settings.limits,
                owner: Some(BudgetOwner::Key {
                    id: grant.key.id.clone(),
                    project_name: project.name.clone(),
                }),
            },
            Scope {
                label: "project",
                id: project.id.clone(),
                limits: &project.settings.limits,
                owner: Some(BudgetOwner::Project {
                    id: project.id.clone(),
                    name: project.name.clone(),
                }),
            },
        ];
        if let Some(user) = end_user
            && !project.settings.end_user_limits.is_unlimited()
        {
            scopes.push(Scope {
                label: "end user",
                id: format!("{}:{user}", project.id),
                limits: &project.settings.end_user_limits,
                owner: None,
            });
        }
        if let Some(ip) = client_ip
            && !project.settings.ip_limits.is_unlimited()
        {
            scopes.push(Scope {
                label: "ip",
                id: format!("{}:{ip}", project.id),
                limits: &project.settings.ip_limits,
                owner: None,
            });
        }
        scopes
    }
}

impl Limiter {
    pub fn new(store: Store, alerts: Option<BudgetAlerts>) -> Self {
        Limiter {
            buckets: Buckets::default(),
            in_flight: Arc::default(),
            spend: SpendTracker::new(store),
            alerts,
            queues: Queues::default(),
        }
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// Admits a request counted against `scopes` and estimated at `estimate`
    /// tokens, or says why not.
    pub async fn admit(
        &self,
        scopes: &[Scope<'_>],
        estimate: u64,
        now_ms: i64,
    ) -> Result<Admission, NotAdmitted> {
        for scope in scopes {
            if let (Some(budget), Some(owner)) = (&scope.limits.budget, &scope.owner) {
                let spent = self
                    .spend
                    .spent(owner, budget.period, now_ms)
                    .await
                    .map_err(|error| {
                        tracing::error!(%error, "reading spend failed");
                        NotAdmitted::SpendUnknown
                    })?;
                if spent >= budget.usd {
                    return Err(NotAdmitted::Budget { scope: scope.label });
                }
            }
        }
        let mut admission = Admission {
            token_buckets: Vec::new(),
            estimate,
            budgets: scopes
                .iter()
                .filter_map(|s| Some((s.owner.clone()?, s.limits.budget.clone()?)))
                .collect(),
            _in_flight: Vec::new(),
            headers: Vec::new(),
        };
        let now = Instant::now();
        let mut requests: Option<Decision> = None;
        let mut tokens: Option<Decision> = None;
        let mut taken_requests: Vec<(String, u64)> = Vec::new();
        let refuse = |admission: &Admission, taken_requests: &[(String, u64)], refusal: Refusal| {
            for (name, capacity) in taken_requests {
                self.buckets.adjust(name, *capacity, -1);
            }
            for (name, capacity) in &admission.token_buckets {
                self.buckets.adjust(name, *capacity, -(estimate as i64));
            }
            Err(NotAdmitted::Limit(Box::new(refusal)))
        };
        for scope in scopes {
            if let Some(max) = scope.limits.max_concurrent {
                match self
                    .in_flight
                    .try_acquire(&format!("{}:{}", scope.label, scope.id), max)
                {
                    Some(guard) => admission._in_flight.push(guard),
                    None => {
                        let refusal = Refusal {
                            scope: scope.label,
                            limit: "concurrent requests",
                            retry_after: Duration::from_secs(1),
                            headers: Vec::new(),
                        };
                        return refuse(&admission, &taken_requests, refusal);
                    }
                }
            }
            if let Some(rpm) = scope.limits.rpm {
                let name = format!("rpm:{}:{}", scope.label, scope.id);
                let decision = self.buckets.take(&name, rpm, MINUTE, 1, now);
                if !decision.allowed {
                    let headers = rate_headers(Some(&decision), tokens.as_ref());
                    let refusal = Refusal {
                        scope: scope.label,
                        limit: "requests",
                        retry_after: decision.retry_after,
                        headers,
                    };
                    return refuse(&admission, &taken_requests, refusal);
                }
                taken_requests.push((name, rpm));
                requests = Some(tighter(requests, decision));
            }
            if let Some(tpm) = scope.limits.tpm {
                let name = format!("tpm:{}:{}", scope.label, scope.id);
                let decision = self.buckets.take(&name, tpm, MINUTE, estimate, now);
                if !decision.allowed {
                    let headers = rate_headers(requests.as_ref(), Some(&decision));
                    let refusal = Refusal {
                        scope: scope.label,
                        limit: "tokens",
                        retry_after: decision.retry_after,
                        headers,
                    };
                    return refuse(&admission, &taken_requests, refusal);
                }
                admission.token_buckets.push((name, tpm));
                tokens = Some(tighter(tokens, decision));
            }
        }
        admission.headers = rate_headers(requests.as_ref(), tokens.as_ref());
        Ok(admission)
    }

    /// Corrects the token estimate with the real count and adds the cost to
    /// the owners' spend.
    pub fn settle(
        &self,
        admission: &Admission,
        actual_tokens: Option<u64>,
        cost_usd: Option<f64>,
        now_ms: i64,
    ) {
        if let Some(actual) = actual_tokens {
            let delta = actual as i64 - admission.estimate as i64;
            for (name, capacity) in &admission.token_buckets {
                self.buckets.adjust(name, *capacity, delta);
            }
        }
        let Some(cost) = cost_usd.filter(|c| *c > 0.0) else {
            return;
        };
        for (owner, budget) in &admission.budgets {
            let Some((start, before, after)) = self.spend.add(owner, budget.period, now_ms, cost)
            else {
                continue;
            };
            if budget.usd > 0.0 {
                let (scope, id) = owner.scope_and_id();
                crate::metrics::record_budget_used(scope, id, after / budget.usd);
            }
            if let Some(alerts) = &self.alerts {
                let period = match budget.period {
                    BudgetPeriod::Day => "day",
                    BudgetPeriod::Month => "month",
                };
                alerts.spend_changed(
                    owner.alert_scope(),
                    budget.usd,
                    period,
                    start,
                    before,
                    after,
                );
            }
        }
    }
}

fn tighter(current: Option<Decision>, next: Decision) -> Decision {
    match current {
        Some(current) if current.remaining <= next.remaining => current,
        _ => next,
    }
}

/// OpenAI's duration format for resets: `6m0s`, `1s`, `250ms`.
fn openai_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis < 1000 {
        return format!("{millis}ms");
    }
    let seconds = duration.as_secs_f64().ceil() as u64;
    if seconds < 60 {
        format!("{seconds}s")
    } else {
        format!("{}m{}s", seconds / 60, seconds % 60)
    }
}

fn rate_headers(
    requests: Option<&Decision>,
    tokens: Option<&Decision>,
) -> Vec<(HeaderName, HeaderValue)> {
    let mut headers = Vec::new();
    for (kind, decision) in [("requests", requests), ("tokens", tokens)] {
        let Some(decision) = decision else { continue };
        let values = [
            ("limit", decision.limit.to_string()),
            ("remaining", decision.remaining.to_string()),
            ("reset", openai_duration(decision.reset_after)),
        ];
        for (what, value) in values {
            if let (Ok(name), Ok(value)) = (
                HeaderName::try_from(format!("x-ratelimit-{what}-{kind}")),
                HeaderValue::try_from(value),
            ) {
                headers.push((name, value));
            }
        }
    }
    headers
}

/// The up-front token estimate: the prompt's bytes at four a token, plus
/// the output the request allows (or 256 when it sets no maximum).
pub fn estimate_tokens(body_len: usize, max_output: Option<u64>) -> u64 {
    (body_len as u64).div_ceil(4) + max_output.unwrap_or(256)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_resets_like_openai() {
        assert_eq!(openai_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(openai_duration(Duration::from_millis(1200)), "2s");
        assert_eq!(openai_duration(Duration::from_secs(360)), "6m0s");
    }

    #[test]
    fn estimates_prompt_and_output() {
        assert_eq!(estimate_tokens(400, Some(50)), 150);
        assert_eq!(estimate_tokens(1, None), 257);
    }
}
