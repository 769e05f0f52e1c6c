//! Rate limits, concurrency limits and budgets, checked before a request
//! goes upstream and settled when it ends: in memory, or in cluster mode in
//! Redis across instances (`shared.rs`), with the same rules.
//!
//! A project's key is held to its own limits and to its project's: requests
//! per minute, tokens per minute (an estimate taken up front, corrected by
//! the real usage afterwards), requests in flight, and a daily or monthly
//! budget (its estimated price reserved while it runs). A refusal names
//! what was exceeded and when to retry.

mod bans;
mod buckets;
mod budget;
mod queue;
mod shared;

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use airlock_cluster::Cluster;
use airlock_store::{Budget, BudgetPeriod, Limits, Store};

use crate::alerts::BudgetAlerts;
use http::{HeaderName, HeaderValue};

use crate::tenancy::KeyGrant;
pub use bans::{BanPolicy, Bans};
use buckets::{Buckets, Decision, InFlight, InFlightGuard};
pub use budget::BudgetOwner;
use budget::SpendTracker;
pub use queue::{QueueRefusal, Queues};
pub use shared::{FailurePolicy, WhenDown};
use shared::{SharedHolds, SharedLimits};

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
    /// The shared limits (Redis) are unreachable and the failure policy
    /// refuses.
    SharedStateUnavailable,
}

/// A budget a request counts against, and the period it reserved in.
#[derive(Clone)]
struct Reserved {
    owner: BudgetOwner,
    budget: Budget,
    /// The period's start (ms): settled there even if the request ends in
    /// the next one.
    start: i64,
}

/// What an admission holds, where its limits are counted.
enum Holds {
    /// This instance's counters.
    Local {
        token_buckets: Vec<(String, u64)>,
        _in_flight: Vec<InFlightGuard>,
    },
    /// The cluster's (Redis).
    Shared(SharedHolds),
}

/// An admitted request's hold on its limits, released or settled at its end.
pub struct Admission {
    holds: Holds,
    estimate: u64,
    /// The dollars reserved against each budget while it runs.
    reserve_usd: f64,
    budgets: Vec<Reserved>,
    /// Set by the settling; an admission dropped unsettled (a request that
    /// never finished) releases its reservations.
    settled: AtomicBool,
    spend: Arc<SpendTracker>,
    /// OpenAI's `x-ratelimit-*` headers for the tightest limits.
    pub headers: Vec<(HeaderName, HeaderValue)>,
}

pub struct Limiter {
    buckets: Buckets,
    in_flight: Arc<InFlight>,
    spend: Arc<SpendTracker>,
    /// Where budget threshold alerts go, when configured.
    alerts: Option<BudgetAlerts>,
    queues: Queues,
    /// Cluster mode: the limits counted in Redis, across instances.
    shared: Option<SharedLimits>,
}

impl Limiter {
    /// The budget alerts tried since this process started, newest first.
    pub fn sent_alerts(&self) -> Vec<serde_json::Value> {
        self.alerts
            .as_ref()
            .map(BudgetAlerts::recent)
            .unwrap_or_default()
    }
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

    /// The scope's budget and whose it is, when it has one.
    fn budget(&self) -> Option<(&BudgetOwner, &Budget)> {
        Some((self.owner.as_ref()?, self.limits.budget.as_ref()?))
    }
}

/// What one request asks of its limits.
#[derive(Debug, Clone, Copy)]
pub struct Ask {
    /// Tokens, estimated up front ([`estimate_tokens`]).
    pub tokens: u64,
    /// Dollars reserved against budgets while it runs: the estimate's
    /// price (0 for an unpriced model).
    pub reserve_usd: f64,
}

impl Limiter {
    pub fn new(store: Store, alerts: Option<BudgetAlerts>) -> Self {
        Limiter {
            buckets: Buckets::default(),
            in_flight: Arc::default(),
            spend: Arc::new(SpendTracker::new(store)),
            alerts,
            queues: Queues::default(),
            shared: None,
        }
    }

    /// Counts rates, requests in flight and budgets in Redis, across every
    /// instance sharing it; `policy` says what to do while it is down.
    pub fn shared(mut self, cluster: Arc<Cluster>, policy: FailurePolicy) -> Self {
        self.shared = Some(SharedLimits::new(cluster, policy));
        self
    }

    pub fn queues(&self) -> &Queues {
        &self.queues
    }

    /// Admits a request counted against `scopes`, or says why not.
    pub async fn admit(
        &self,
        scopes: &[Scope<'_>],
        ask: Ask,
        now_ms: i64,
    ) -> Result<Admission, NotAdmitted> {
        let budgets: Vec<Reserved> = scopes
            .iter()
            .filter_map(|scope| {
                let (owner, budget) = scope.budget()?;
                Some(Reserved {
                    owner: owner.clone(),
                    budget: budget.clone(),
                    start: budget::period_start(budget.period, now_ms),
                })
            })
            .collect();
        if let Some(shared) = &self.shared {
            match shared.admit(self, scopes, ask, &budgets).await {
                Ok(admitted) => return admitted,
                // Logged where it failed; the policy decides.
                Err(_) => shared.when_down(scopes)?,
            }
        }
        self.admit_locally(scopes, ask, budgets, now_ms).await
    }

    /// Admission on this instance's own counters.
    async fn admit_locally(
        &self,
        scopes: &[Scope<'_>],
        ask: Ask,
        budgets: Vec<Reserved>,
        now_ms: i64,
    ) -> Result<Admission, NotAdmitted> {
        let mut admission = self.admission(
            Holds::Local {
                token_buckets: Vec::new(),
                _in_flight: Vec::new(),
            },
            ask,
            Vec::new(),
        );
        for reserved in &budgets {
            let admitted = self
                .spend
                .reserve(
                    &reserved.owner,
                    reserved.start,
                    now_ms,
                    reserved.budget.usd,
                    ask.reserve_usd,
                )
                .await
                .map_err(|error| {
                    tracing::error!(%error, "reading spend failed");
                    NotAdmitted::SpendUnknown
                })?;
            if !admitted {
                // Dropping the admission releases what it reserved so far.
                let scope = reserved.owner.scope_and_id().0;
                return Err(NotAdmitted::Budget { scope });
            }
            admission.budgets.push(reserved.clone());
        }
        // Refused past here, the admission is dropped and releases its
        // reservations.
        let mut token_buckets: Vec<(String, u64)> = Vec::new();
        let mut in_flight: Vec<InFlightGuard> = Vec::new();
        let now = Instant::now();
        let mut requests: Option<Decision> = None;
        let mut tokens: Option<Decision> = None;
        let mut taken_requests: Vec<(String, u64)> = Vec::new();
        let estimate = ask.tokens;
        let refuse = |token_buckets: &[(String, u64)],
                      taken_requests: &[(String, u64)],
                      refusal: Refusal| {
            for (name, capacity) in taken_requests {
                self.buckets.adjust(name, *capacity, -1);
            }
            for (name, capacity) in token_buckets {
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
                    Some(guard) => in_flight.push(guard),
                    None => {
                        let refusal = Refusal {
                            scope: scope.label,
                            limit: "concurrent requests",
                            retry_after: Duration::from_secs(1),
                            headers: Vec::new(),
                        };
                        return refuse(&token_buckets, &taken_requests, refusal);
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
                    return refuse(&token_buckets, &taken_requests, refusal);
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
                    return refuse(&token_buckets, &taken_requests, refusal);
                }
                token_buckets.push((name, tpm));
                tokens = Some(tighter(tokens, decision));
            }
        }
        admission.holds = Holds::Local {
            token_buckets,
            _in_flight: in_flight,
        };
        admission.headers = rate_headers(requests.as_ref(), tokens.as_ref());
        Ok(admission)
    }

    fn admission(&self, holds: Holds, ask: Ask, budgets: Vec<Reserved>) -> Admission {
        Admission {
            holds,
            estimate: ask.tokens,
            reserve_usd: ask.reserve_usd,
            budgets,
            settled: AtomicBool::new(false),
            spend: self.spend.clone(),
            headers: Vec::new(),
        }
    }

    /// Corrects the token estimate with the real count, releases the
    /// reservations and adds the cost to the owners' spend (once). Counted
    /// in Redis, this happens in the background: what it gives resolves
    /// once it has.
    pub fn settle(
        &self,
        admission: &Admission,
        actual_tokens: Option<u64>,
        cost_usd: Option<f64>,
    ) -> Option<tokio::sync::oneshot::Receiver<()>> {
        if admission.settled.swap(true, Ordering::AcqRel) {
            return None;
        }
        let delta = actual_tokens.map(|actual| actual as i64 - admission.estimate as i64);
        let cost = cost_usd.filter(|c| *c > 0.0).unwrap_or(0.0);
        match &admission.holds {
            Holds::Local { token_buckets, .. } => {
                if let Some(delta) = delta {
                    for (name, capacity) in token_buckets {
                        self.buckets.adjust(name, *capacity, delta);
                    }
                }
                for reserved in &admission.budgets {
                    let settled = self.spend.settle(
                        &reserved.owner,
                        reserved.start,
                        cost,
                        admission.reserve_usd,
                    );
                    if let Some((before, after)) = settled
                        && cost > 0.0
                    {
                        spend_changed(self.alerts.as_ref(), reserved, before, after);
                    }
                }
                None
            }
            Holds::Shared(holds) => holds.settle(delta, cost, admission, self.alerts.clone()),
        }
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        let unsettled = !self.settled.load(Ordering::Acquire);
        match &self.holds {
            Holds::Local { .. } => {
                if unsettled {
                    for reserved in &self.budgets {
                        self.spend
                            .settle(&reserved.owner, reserved.start, 0.0, self.reserve_usd);
                    }
                }
            }
            Holds::Shared(holds) => {
                if unsettled {
                    holds.release_unsettled(&self.budgets, self.reserve_usd);
                }
            }
        }
    }
}

/// A budget's spend moved from `before` to `after`: its gauge, and an alert
/// when a threshold was crossed.
fn spend_changed(alerts: Option<&BudgetAlerts>, reserved: &Reserved, before: f64, after: f64) {
    let budget = &reserved.budget;
    if budget.usd > 0.0 {
        let (scope, id) = reserved.owner.scope_and_id();
        crate::metrics::record_budget_used(scope, id, after / budget.usd);
    }
    if let Some(alerts) = alerts {
        let period = match budget.period {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
        };
        alerts.spend_changed(
            reserved.owner.alert_scope(),
            budget.usd,
            period,
            reserved.start,
            before,
            after,
        );
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
