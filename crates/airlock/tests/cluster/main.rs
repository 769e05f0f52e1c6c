//! Cluster mode with real components: three `airlock serve` processes on
//! one PostgreSQL database (a fresh one per test on
//! `AIRLOCK_TEST_POSTGRES_URL`) and one Redis (`AIRLOCK_TEST_REDIS_URL`,
//! the machine's, under a key prefix per test), a client spreading its
//! requests across them, and every promise checked as on one machine:
//! limits, budgets, revocations, tokens and bans hold across instances, a
//! killed instance's places in flight come back, and the failure policy
//! applies while a Redis the test started itself is stopped.

#[path = "../common/mod.rs"]
mod common;
mod harness;

mod failure;
mod promises;
