//! Spend against budgets, per key and per project, per UTC day or month.
//!
//! Totals live in memory: loaded from the request log the first time a scope
//! and period is checked, then increased as requests finish. A request is
//! refused once its scope has spent its budget, so concurrent requests
//! overspend by at most what those already in flight cost.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::alerts::AlertScope;
use airlock_store::{BudgetPeriod, SpendScope, Store, StoreError, day_start_ms, month_start_ms};

/// Whose budget: a key or a project (with the names alerts show).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum BudgetOwner {
    Key { id: String, project_name: String },
    Project { id: String, name: String },
}

impl BudgetOwner {
    /// `key` or `project`, and the id.
    pub fn scope_and_id(&self) -> (&'static str, &str) {
        match self {
            BudgetOwner::Key { id, .. } => ("key", id),
            BudgetOwner::Project { id, .. } => ("project", id),
        }
    }

    pub fn alert_scope(&self) -> AlertScope<'_> {
        match self {
            BudgetOwner::Key { id, project_name } => AlertScope::Key { id, project_name },
            BudgetOwner::Project { id, name } => AlertScope::Project { id, name },
        }
    }
}

pub struct SpendTracker {
    store: Store,
    totals: Mutex<HashMap<(BudgetOwner, i64), f64>>,
}

fn period_start(period: BudgetPeriod, now_ms: i64) -> i64 {
    match period {
        BudgetPeriod::Day => day_start_ms(now_ms),
        BudgetPeriod::Month => month_start_ms(now_ms),
    }
}

impl SpendTracker {
    pub fn new(store: Store) -> Self {
        SpendTracker {
            store,
            totals: Mutex::default(),
        }
    }

    /// What the owner has spent in the period containing `now_ms`.
    pub async fn spent(
        &self,
        owner: &BudgetOwner,
        period: BudgetPeriod,
        now_ms: i64,
    ) -> Result<f64, StoreError> {
        let start = period_start(period, now_ms);
        let slot = (owner.clone(), start);
        if let Some(total) = self.totals.lock().ok().and_then(|t| t.get(&slot).copied()) {
            return Ok(total);
        }
        let scope = match owner {
            BudgetOwner::Key { id, .. } => SpendScope::Key(id),
            BudgetOwner::Project { id, .. } => SpendScope::Project(id),
        };
        let loaded = self.store.spent_since(scope, start).await?;
        let mut totals = self
            .totals
            .lock()
            .map_err(|_| StoreError::Corrupt("spend totals poisoned".into()))?;
        // Periods that have ended are no longer needed.
        totals
            .retain(|(_, period_start), _| *period_start >= day_start_ms(now_ms) - 31 * 86_400_000);
        Ok(*totals.entry(slot).or_insert(loaded))
    }

    /// Adds a finished request's cost to the owner's current period, when
    /// that period is tracked; returns the period's start and its totals
    /// before and after.
    pub fn add(
        &self,
        owner: &BudgetOwner,
        period: BudgetPeriod,
        now_ms: i64,
        cost: f64,
    ) -> Option<(i64, f64, f64)> {
        let start = period_start(period, now_ms);
        let mut totals = self.totals.lock().ok()?;
        let total = totals.get_mut(&(owner.clone(), start))?;
        let before = *total;
        *total += cost;
        Some((start, before, *total))
    }
}
