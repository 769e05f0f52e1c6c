//! Cluster mode's admission: the same limits as on one instance (rates,
//! requests in flight, budgets with reservations), counted in Redis by one
//! atomic script per request so every instance sees one count, and the
//! failure policy for when Redis cannot be reached.

use std::sync::Arc;
use std::time::Duration;

use airlock_cluster::{Check, Cluster, ClusterError, Outcome, RateState, SettleItem};
use airlock_store::BudgetPeriod;

use super::{
    Admission, Ask, Decision, Holds, Limiter, MINUTE, NotAdmitted, Refusal, Reserved, Scope,
    rate_headers, spend_changed, tighter,
};
use tokio::sync::oneshot;

use crate::alerts::BudgetAlerts;

/// What to do with a request while Redis cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhenDown {
    /// Count it on this instance alone (limits then hold per instance),
    /// with `airlock_redis_fallbacks_total{policy="local"}` and a log line.
    Local,
    /// Refuse it: 503 with `Retry-After`.
    Refuse,
}

/// The failure policy: for rate and concurrency limits, and for budgets
/// (a request with a budget follows the stricter of the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FailurePolicy {
    pub limits: WhenDown,
    pub budgets: WhenDown,
}

impl Default for FailurePolicy {
    /// Limits fall back to local counts; budgets are never risked.
    fn default() -> Self {
        FailurePolicy {
            limits: WhenDown::Local,
            budgets: WhenDown::Refuse,
        }
    }
}

pub(super) struct SharedLimits {
    cluster: Arc<Cluster>,
    policy: FailurePolicy,
}

/// What a check stands for, to word its refusal.
#[derive(Clone, Copy)]
enum Meaning {
    Budget(&'static str),
    Concurrency(&'static str),
    Requests(&'static str, u64),
    Tokens(&'static str, u64),
}

/// How long a budget's shared spend is kept: past the end of its period.
fn budget_ttl(period: BudgetPeriod) -> Duration {
    let days = match period {
        BudgetPeriod::Day => 2,
        BudgetPeriod::Month => 33,
    };
    Duration::from_secs(days * 86_400)
}

fn budget_name(reserved: &Reserved) -> String {
    let (scope, id) = reserved.owner.scope_and_id();
    format!("budget:{scope}:{id}:{}", reserved.start)
}

impl SharedLimits {
    pub(super) fn new(cluster: Arc<Cluster>, policy: FailurePolicy) -> Self {
        SharedLimits { cluster, policy }
    }

    /// Admits in Redis; `Err` when Redis could not be asked (the caller
    /// applies [`SharedLimits::when_down`]).
    pub(super) async fn admit(
        &self,
        limiter: &Limiter,
        scopes: &[Scope<'_>],
        ask: Ask,
        budgets: &[Reserved],
    ) -> Result<Result<Admission, NotAdmitted>, ClusterError> {
        let mut checks = Vec::new();
        let mut meanings = Vec::new();
        let mut holds = SharedHolds {
            cluster: self.cluster.clone(),
            token_buckets: Vec::new(),
            in_flight: Vec::new(),
        };
        // Budgets first, as on one instance: a spent budget is named even
        // when a rate limit would refuse too.
        for reserved in budgets {
            checks.push(Check::Budget {
                name: budget_name(reserved),
                limit: reserved.budget.usd,
                reserve: ask.reserve_usd,
            });
            meanings.push(Meaning::Budget(reserved.owner.scope_and_id().0));
        }
        for scope in scopes {
            let (label, id) = (scope.label, &scope.id);
            if let Some(max) = scope.limits.max_concurrent {
                let name = format!("inflight:{label}:{id}");
                holds.in_flight.push(name.clone());
                checks.push(Check::Concurrency { name, max });
                meanings.push(Meaning::Concurrency(label));
            }
            if let Some(rpm) = scope.limits.rpm {
                checks.push(Check::Rate {
                    name: format!("rpm:{label}:{id}"),
                    capacity: rpm,
                    period: MINUTE,
                    cost: 1,
                });
                meanings.push(Meaning::Requests(label, rpm));
            }
            if let Some(tpm) = scope.limits.tpm {
                let name = format!("tpm:{label}:{id}");
                holds.token_buckets.push((name.clone(), tpm));
                checks.push(Check::Rate {
                    name,
                    capacity: tpm,
                    period: MINUTE,
                    cost: ask.tokens,
                });
                meanings.push(Meaning::Tokens(label, tpm));
            }
        }
        let admission =
            |holds: SharedHolds| limiter.admission(Holds::Shared(holds), ask, budgets.to_vec());
        // Nothing to count: no round trip.
        if checks.is_empty() {
            return Ok(Ok(admission(holds)));
        }
        // Each unknown budget is seeded once, then admission runs again.
        for _ in 0..=budgets.len() {
            match self.cluster.admit(&checks).await? {
                Outcome::Admitted(states) => {
                    let mut admitted = admission(holds);
                    admitted.headers = headers(&meanings, &states);
                    return Ok(Ok(admitted));
                }
                Outcome::Refused {
                    index,
                    retry_after,
                    state,
                } => return Ok(Err(refusal(meanings[index], retry_after, state))),
                Outcome::BudgetUnknown { index } => {
                    let reserved = &budgets[index];
                    let spent = match limiter.spend.load(&reserved.owner, reserved.start).await {
                        Ok(spent) => spent,
                        Err(error) => {
                            tracing::error!(%error, "reading spend failed");
                            return Ok(Err(NotAdmitted::SpendUnknown));
                        }
                    };
                    let ttl = budget_ttl(reserved.budget.period);
                    self.cluster
                        .seed_budget(&budget_name(reserved), spent, ttl)
                        .await?;
                }
            }
        }
        tracing::error!("a budget's shared spend stays unknown after seeding it");
        Ok(Err(NotAdmitted::SpendUnknown))
    }

    /// Redis could not be asked: whether the request may be counted here
    /// alone, or is refused.
    pub(super) fn when_down(&self, scopes: &[Scope<'_>]) -> Result<(), NotAdmitted> {
        let budgeted = scopes.iter().any(|scope| scope.budget().is_some());
        let refuse = self.policy.limits == WhenDown::Refuse
            || (budgeted && self.policy.budgets == WhenDown::Refuse);
        let policy = if refuse { "refuse" } else { "local" };
        metrics::counter!("airlock_redis_fallbacks_total", "policy" => policy).increment(1);
        if refuse {
            Err(NotAdmitted::SharedStateUnavailable)
        } else {
            Ok(())
        }
    }
}

/// The refusal a check's verdict stands for.
fn refusal(meaning: Meaning, retry_after: Duration, state: Option<RateState>) -> NotAdmitted {
    let (scope, limit, decision) = match meaning {
        Meaning::Budget(scope) => return NotAdmitted::Budget { scope },
        Meaning::Concurrency(scope) => (scope, "concurrent requests", None),
        Meaning::Requests(scope, capacity) => (scope, "requests", Some((capacity, true))),
        Meaning::Tokens(scope, capacity) => (scope, "tokens", Some((capacity, false))),
    };
    let headers = match (decision, state) {
        (Some((capacity, requests)), Some(state)) => {
            let decision = Decision {
                allowed: false,
                limit: capacity,
                remaining: state.remaining,
                reset_after: state.reset_after,
                retry_after,
            };
            match requests {
                true => rate_headers(Some(&decision), None),
                false => rate_headers(None, Some(&decision)),
            }
        }
        _ => Vec::new(),
    };
    NotAdmitted::Limit(Box::new(Refusal {
        scope,
        limit,
        retry_after,
        headers,
    }))
}

/// OpenAI's rate headers for the tightest request and token buckets.
fn headers(
    meanings: &[Meaning],
    states: &[RateState],
) -> Vec<(http::HeaderName, http::HeaderValue)> {
    let mut requests = None;
    let mut tokens = None;
    for (meaning, state) in meanings.iter().zip(states) {
        let decision = |limit| Decision {
            allowed: true,
            limit,
            remaining: state.remaining,
            reset_after: state.reset_after,
            retry_after: Duration::ZERO,
        };
        match *meaning {
            Meaning::Requests(_, limit) => requests = Some(tighter(requests, decision(limit))),
            Meaning::Tokens(_, limit) => tokens = Some(tighter(tokens, decision(limit))),
            _ => {}
        }
    }
    rate_headers(requests.as_ref(), tokens.as_ref())
}

/// What a request admitted in Redis holds there until it ends.
pub(super) struct SharedHolds {
    cluster: Arc<Cluster>,
    /// Token buckets and their capacities, corrected at settling.
    token_buckets: Vec<(String, u64)>,
    /// Concurrency counters, released when the request ends.
    in_flight: Vec<String>,
}

impl SharedHolds {
    /// Corrects the token buckets by `delta`, adds `cost` to the budgets'
    /// spend and releases their reservations, in the background; what it
    /// gives resolves once done (`None`: nothing to settle).
    pub(super) fn settle(
        &self,
        delta: Option<i64>,
        cost: f64,
        admission: &Admission,
        alerts: Option<BudgetAlerts>,
    ) -> Option<oneshot::Receiver<()>> {
        let mut items: Vec<SettleItem> = match delta {
            Some(delta) if delta != 0 => self
                .token_buckets
                .iter()
                .map(|(name, capacity)| SettleItem::Rate {
                    name: name.clone(),
                    capacity: *capacity,
                    delta,
                })
                .collect(),
            _ => Vec::new(),
        };
        // The request has ended: its places in flight go back now, so the
        // client's next request finds them free.
        items.extend(
            self.in_flight
                .iter()
                .map(|name| SettleItem::Concurrency { name: name.clone() }),
        );
        let first_budget = items.len();
        items.extend(admission.budgets.iter().map(|reserved| SettleItem::Budget {
            name: budget_name(reserved),
            cost,
            reserve: admission.reserve_usd,
        }));
        let budgets = admission.budgets.clone();
        self.send(items, move |afters| {
            if cost <= 0.0 {
                return;
            }
            for (reserved, after) in budgets.iter().zip(&afters[first_budget..]) {
                if let Some(after) = after {
                    spend_changed(alerts.as_ref(), reserved, after - cost, *after);
                }
            }
        })
    }

    /// The admission is dropped without having been settled (the request
    /// never finished): its places in flight and reservations go back.
    pub(super) fn release_unsettled(&self, budgets: &[Reserved], reserve_usd: f64) {
        let mut items: Vec<SettleItem> = self
            .in_flight
            .iter()
            .map(|name| SettleItem::Concurrency { name: name.clone() })
            .collect();
        if reserve_usd > 0.0 {
            items.extend(budgets.iter().map(|reserved| SettleItem::Budget {
                name: budget_name(reserved),
                cost: 0.0,
                reserve: reserve_usd,
            }));
        }
        let _ = self.send(items, |_| {});
    }

    /// Settles `items` in a task of its own (what drops an admission never
    /// waits), then hands the budgets' new spend to `then`; what it gives
    /// resolves once done.
    fn send(
        &self,
        items: Vec<SettleItem>,
        then: impl FnOnce(Vec<Option<f64>>) + Send + 'static,
    ) -> Option<oneshot::Receiver<()>> {
        if items.is_empty() {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        let cluster = self.cluster.clone();
        let (done, settled) = oneshot::channel();
        runtime.spawn(async move {
            match cluster.settle(&items).await {
                Ok(afters) => then(afters),
                // Counts left behind are this instance's: they go when its
                // heartbeat stops, or are corrected by the next settling.
                Err(error) => tracing::warn!(%error, "settling shared limits failed"),
            }
            let _ = done.send(());
        });
        Some(settled)
    }
}
