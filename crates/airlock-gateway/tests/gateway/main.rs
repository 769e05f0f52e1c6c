//! The gateway's integration tests, one binary with a module per area: the
//! simulator and the gateway run in-process on 127.0.0.1:0 (`common`).
//! One binary links the dependency tree once, where a binary per file
//! linked it once each. `tests/metrics.rs` is apart: it reads process-wide
//! gauges that the tests here would move.

mod common;

mod abandoned_streams;
mod access;
mod admin;
mod bad_input;
mod balancing;
mod batches;
mod browser_keys;
mod budget_alerts;
mod cache;
mod constitution;
mod content_log;
mod conversations;
mod dashboard;
mod durable_log;
mod end_user_jwt;
mod end_users;
mod exports;
mod files;
mod gemini_surface;
mod grounding;
mod hardening;
mod health;
mod interactions;
mod key_pool;
mod media;
mod media_translated;
mod openai_surface;
mod postgres;
mod pregenerate;
mod realtime;
mod receipts;
mod resilience;
mod responses;
mod retention;
mod timeouts;
mod tokens;
mod trace_context;
mod user_data;
mod workers;
