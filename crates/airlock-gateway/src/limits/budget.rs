//! Spend against budgets, per key and per project, per UTC day or month.
//!
//! Totals live in memory: loaded from the request log the first time a scope
//! and period is checked, then increased as requests finish. A request in
//! flight holds a reservation of its estimated cost until it settles, and
//! a request is refused once its scope's spend plus the reservations reach
//! the budget: concurrent requests overspend by at most what their real
//! costs exceed their estimates. (With Redis, the same rule holds across
//! instances: `airlock_cluster`.)

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
    /// Spent and reserved, per owner and period start.
    totals: Mutex<HashMap<(BudgetOwner, i64), Totals>>,
}

#[derive(Debug, Clone, Copy, Default)]
struct Totals {
    spent: f64,
    reserved: f64,
}

pub(crate) fn period_start(period: BudgetPeriod, now_ms: i64) -> i64 {
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

    /// What the owner spent since `start` (a period's), read from the
    /// request log.
    pub async fn load(&self, owner: &BudgetOwner, start: i64) -> Result<f64, StoreError> {
        let scope = match owner {
            BudgetOwner::Key { id, .. } => SpendScope::Key(id),
            BudgetOwner::Project { id, .. } => SpendScope::Project(id),
        };
        self.store.spent_since(scope, start).await
    }

    /// Reserves `reserve` dollars for a request in the period beginning at
    /// `start` unless the owner's spend plus what is reserved already
    /// reaches `limit`; `Ok(false)` refuses.
    pub async fn reserve(
        &self,
        owner: &BudgetOwner,
        start: i64,
        now_ms: i64,
        limit: f64,
        reserve: f64,
    ) -> Result<bool, StoreError> {
        let slot = (owner.clone(), start);
        let tracked = self
            .totals
            .lock()
            .ok()
            .is_some_and(|t| t.contains_key(&slot));
        if !tracked {
            let loaded = self.load(owner, start).await?;
            let mut totals = self
                .totals
                .lock()
                .map_err(|_| StoreError::Corrupt("spend totals poisoned".into()))?;
            // Periods that have ended are no longer needed.
            totals.retain(|(_, period_start), _| {
                *period_start >= day_start_ms(now_ms) - 31 * 86_400_000
            });
            totals.entry(slot.clone()).or_insert(Totals {
                spent: loaded,
                reserved: 0.0,
            });
        }
        let mut totals = self
            .totals
            .lock()
            .map_err(|_| StoreError::Corrupt("spend totals poisoned".into()))?;
        let totals = totals.entry(slot).or_default();
        if totals.spent + totals.reserved >= limit {
            return Ok(false);
        }
        totals.reserved += reserve;
        Ok(true)
    }

    /// Releases a request's reservation in the period beginning at `start`
    /// and adds its real cost, when that period is tracked; returns the
    /// spend before and after.
    pub fn settle(
        &self,
        owner: &BudgetOwner,
        start: i64,
        cost: f64,
        reserved: f64,
    ) -> Option<(f64, f64)> {
        let mut totals = self.totals.lock().ok()?;
        let totals = totals.get_mut(&(owner.clone(), start))?;
        totals.reserved = (totals.reserved - reserved).max(0.0);
        let before = totals.spent;
        totals.spent += cost;
        Some((before, totals.spent))
    }
}
