//! One request's record in the making.
//!
//! An [`Exchange`] is opened when a request arrives, annotated as the request
//! is routed and answered, and written to the request log exactly once: when
//! it is finished, or, if the client went away first (its response body was
//! dropped mid-stream), when it is dropped, with what was produced so far.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use airlock_providers::usage::Usage;
use airlock_store::{RequestLog, RequestRecord};

use crate::error::Surface;
use crate::routing::Route;

/// How a request ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    Error,
    ClientDisconnected,
    UpstreamDisconnected,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Error => "error",
            Outcome::ClientDisconnected => "client_disconnected",
            Outcome::UpstreamDisconnected => "upstream_disconnected",
        }
    }
}

/// Status recorded for a request the client abandoned (nginx's convention).
const CLIENT_CLOSED_REQUEST: u16 = 499;

pub struct Exchange {
    log: RequestLog,
    started: Instant,
    record: RequestRecord,
    written: bool,
}

impl Exchange {
    pub fn begin(log: RequestLog, request_id: &str, surface: Surface, operation: &str) -> Self {
        let started_at_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Exchange {
            log,
            started: Instant::now(),
            record: RequestRecord {
                id: request_id.to_string(),
                started_at_ms,
                surface: surface.name().to_string(),
                operation: operation.to_string(),
                model: None,
                provider: None,
                upstream_model: None,
                key_id: None,
                status: 0,
                latency_us: 0,
                ttft_us: None,
                tokens_in: None,
                tokens_out: None,
                streamed: false,
                outcome: String::new(),
            },
            written: false,
        }
    }

    pub fn set_model(&mut self, model: &str) {
        self.record.model = Some(model.to_string());
    }

    pub fn set_route(&mut self, route: &Route) {
        self.record.provider = Some(route.provider.name().to_string());
        self.record.upstream_model = Some(route.upstream_model.clone());
    }

    pub fn set_provider(&mut self, provider: &str) {
        self.record.provider = Some(provider.to_string());
    }

    pub fn set_key(&mut self, key_id: Option<String>) {
        self.record.key_id = key_id;
    }

    pub fn set_streamed(&mut self) {
        self.record.streamed = true;
    }

    /// Marks the first bytes of the answer leaving for the client.
    pub fn first_byte(&mut self) {
        if self.record.ttft_us.is_none() {
            self.record.ttft_us = Some(self.started.elapsed().as_micros() as i64);
        }
    }

    /// Keeps the latest counts the provider reported.
    pub fn add_usage(&mut self, usage: Usage) {
        if let Some(input) = usage.input {
            self.record.tokens_in = Some(input as i64);
        }
        if let Some(output) = usage.output {
            self.record.tokens_out = Some(output as i64);
        }
    }

    pub fn finish(mut self, status: u16, outcome: Outcome) {
        self.write(status, outcome);
    }

    fn write(&mut self, status: u16, outcome: Outcome) {
        if std::mem::replace(&mut self.written, true) {
            return;
        }
        let mut record = self.record.clone();
        record.status = status;
        record.outcome = outcome.name().to_string();
        record.latency_us = self.started.elapsed().as_micros() as i64;
        self.log.record(record);
    }
}

impl Drop for Exchange {
    fn drop(&mut self) {
        self.write(CLIENT_CLOSED_REQUEST, Outcome::ClientDisconnected);
    }
}
