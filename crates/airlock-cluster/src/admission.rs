//! Admission of one request against all of its shared limits in one
//! atomic script, and the settling of what it held when it ends.

use std::sync::LazyLock;
use std::time::Duration;

use redis::Script;

use crate::{Cluster, ClusterError};

const COMMON: &str = include_str!("scripts/common.lua");

/// A script with the shared Lua functions prepended.
pub(crate) fn script(body: &str) -> Script {
    Script::new(&format!("{COMMON}\n{body}"))
}

static ADMIT: LazyLock<Script> = LazyLock::new(|| script(include_str!("scripts/admit.lua")));
static SETTLE: LazyLock<Script> = LazyLock::new(|| script(include_str!("scripts/settle.lua")));

/// One limit a request is checked against. `name` identifies the counter
/// (the cluster's prefix is added).
#[derive(Debug, Clone)]
pub enum Check {
    /// At most `max` requests in flight under `name`, across instances.
    Concurrency { name: String, max: u32 },
    /// A token bucket of `capacity` refilled over `period`; takes `cost`.
    Rate {
        name: String,
        capacity: u64,
        period: Duration,
        cost: u64,
    },
    /// Refused once spend plus live reservations reach `limit` (dollars);
    /// reserves `reserve` while the request runs.
    Budget {
        name: String,
        limit: f64,
        reserve: f64,
    },
}

impl Check {
    fn name(&self) -> &str {
        match self {
            Check::Concurrency { name, .. }
            | Check::Rate { name, .. }
            | Check::Budget { name, .. } => name,
        }
    }
}

/// A rate bucket's state after an admission.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateState {
    pub remaining: u64,
    /// Until the bucket is full again.
    pub reset_after: Duration,
}

/// What the script decided.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every check passed and was taken; one state per check, in order
    /// (meaningful for rate checks).
    Admitted(Vec<RateState>),
    /// Check `index` refused; nothing was taken.
    Refused {
        index: usize,
        retry_after: Duration,
        /// The refusing bucket's state, for a rate check.
        state: Option<RateState>,
    },
    /// Budget `index` has no spend in Redis yet: seed it
    /// ([`Cluster::seed_budget`]) and admit again.
    BudgetUnknown { index: usize },
}

/// One thing to settle when a request ends.
#[derive(Debug, Clone)]
pub enum SettleItem {
    /// Charges (`delta > 0`) or refunds a rate bucket after the fact.
    Rate {
        name: String,
        capacity: u64,
        delta: i64,
    },
    /// Adds the real cost to the spend and releases the reservation.
    Budget {
        name: String,
        cost: f64,
        reserve: f64,
    },
    /// The request no longer counts as in flight.
    Concurrency { name: String },
}

impl Cluster {
    /// Checks every limit and takes them all, or none.
    pub async fn admit(&self, checks: &[Check]) -> Result<Outcome, ClusterError> {
        let mut invocation = ADMIT.prepare_invoke();
        invocation
            .arg(&self.prefix)
            .arg(&self.instance)
            .arg(self.lease_ms());
        for check in checks {
            invocation.key(self.key(&[check.name()]));
            match check {
                Check::Concurrency { max, .. } => invocation.arg("c").arg(*max).arg(0).arg(0),
                Check::Rate {
                    capacity,
                    period,
                    cost,
                    ..
                } => invocation
                    .arg("r")
                    .arg(*capacity)
                    .arg(period.as_millis() as u64)
                    .arg(*cost),
                Check::Budget { limit, reserve, .. } => invocation
                    .arg("b")
                    .arg(float(*limit))
                    .arg(float(*reserve))
                    .arg(0),
            };
        }
        let mut connection = self.connection.clone();
        let result = invocation
            .invoke_async::<Vec<i64>>(&mut connection)
            .await
            .map_err(ClusterError::from)
            .and_then(|reply| outcome(&reply, checks.len()));
        self.observe(&result);
        result
    }

    /// Sets a budget's spend so far (read from the database) unless another
    /// instance already has; it lasts `ttl` (past the end of its period).
    pub async fn seed_budget(
        &self,
        name: &str,
        spent: f64,
        ttl: Duration,
    ) -> Result<(), ClusterError> {
        let key = self.key(&[name]);
        let mut connection = self.connection.clone();
        let result = redis::pipe()
            .atomic()
            .cmd("HSETNX")
            .arg(&key)
            .arg("s")
            .arg(float(spent))
            .ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl.as_millis() as u64)
            .ignore()
            .query_async::<()>(&mut connection)
            .await
            .map_err(ClusterError::from);
        self.observe(&result);
        result
    }

    /// Settles `items`; returns, per item, a budget's spend after it (`None`
    /// for other kinds, or a budget no longer tracked).
    pub async fn settle(&self, items: &[SettleItem]) -> Result<Vec<Option<f64>>, ClusterError> {
        if items.is_empty() {
            return Ok(Vec::new());
        }
        let mut invocation = SETTLE.prepare_invoke();
        invocation.arg(&self.prefix).arg(&self.instance);
        for item in items {
            match item {
                SettleItem::Rate {
                    name,
                    capacity,
                    delta,
                } => invocation
                    .key(self.key(&[name]))
                    .arg("r")
                    .arg(*capacity)
                    .arg(*delta),
                SettleItem::Budget {
                    name,
                    cost,
                    reserve,
                } => invocation
                    .key(self.key(&[name]))
                    .arg("b")
                    .arg(float(*cost))
                    .arg(float(*reserve)),
                SettleItem::Concurrency { name } => {
                    invocation.key(self.key(&[name])).arg("c").arg(0).arg(0)
                }
            };
        }
        let mut connection = self.connection.clone();
        let result = invocation
            .invoke_async::<Vec<String>>(&mut connection)
            .await
            .map_err(ClusterError::from)
            .map(|reply| reply.iter().map(|v| v.parse().ok()).collect());
        self.observe(&result);
        result
    }

    fn lease_ms(&self) -> u64 {
        self.lease().as_millis() as u64
    }
}

/// A dollar amount as Redis takes it: plain decimal, never exponent form.
fn float(value: f64) -> String {
    format!("{:.12}", value.max(0.0))
}

fn outcome(reply: &[i64], checks: usize) -> Result<Outcome, ClusterError> {
    let malformed = || ClusterError(format!("unexpected admission reply {reply:?}"));
    let (&status, rest) = reply.split_first().ok_or_else(malformed)?;
    let index = |i: i64| {
        usize::try_from(i - 1)
            .ok()
            .filter(|i| *i < checks)
            .ok_or_else(malformed)
    };
    let state = |pair: &[i64]| RateState {
        remaining: pair[0].max(0) as u64,
        reset_after: Duration::from_millis(pair[1].max(0) as u64),
    };
    match status {
        1 if rest.len() == 2 + 2 * checks => {
            Ok(Outcome::Admitted(rest[2..].chunks(2).map(state).collect()))
        }
        0 if rest.len() >= 2 => Ok(Outcome::Refused {
            index: index(rest[0])?,
            retry_after: Duration::from_millis(rest[1].max(0) as u64),
            state: (rest.len() == 4).then(|| state(&rest[2..4])),
        }),
        2 if !rest.is_empty() => Ok(Outcome::BudgetUnknown {
            index: index(rest[0])?,
        }),
        _ => Err(malformed()),
    }
}
