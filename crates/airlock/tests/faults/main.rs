//! The fault-injection suite: the provider simulator's faults driven
//! against the real `airlock serve` process, with each provider a
//! simulator process of its own (`airlock mock`) so one can fail, be
//! killed and come back on its port while the other answers.
//!
//! Each scenario states its claim in its name and checks it on what a
//! client sees (statuses, error bodies, `x-airlock-served-by`, how long an
//! answer took: every request has a deadline, so a hang fails), on
//! `/metrics`, `/readyz` and the admin API, and on the request log read
//! back from the database. The load scenarios sample the gateway's
//! resident memory and hold it under a bound. Everything runs on
//! 127.0.0.1, bounded in requests and time.
//!
//! - `errors`: error rates of 10, 50 and 100 %, a provider's 4xx, resets;
//! - `rate_limits`: 429 storms with `Retry-After` under and over `max_delay`;
//! - `timeouts`: a first byte slower than `upstream_timeout_secs`;
//! - `streams`: streams that stall or break after they started;
//! - `outage`: the provider's process killed and started again (the breaker);
//! - `database`: the request log's PostgreSQL stopped for seconds under traffic;
//! - `signals`: SIGTERM and SIGKILL under load.

#[path = "../common/mod.rs"]
mod common;
mod harness;
mod memory;
mod metrics;
mod postgres;

mod database;
mod errors;
mod outage;
mod rate_limits;
mod signals;
mod streams;
mod timeouts;
