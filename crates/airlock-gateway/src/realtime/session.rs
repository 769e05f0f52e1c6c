//! One realtime session's record in the making: traffic, usage, tool calls
//! and transcripts, written once when the session ends (to the session log,
//! and as one request-log record so spend and budgets count it).

use std::sync::Arc;
use std::time::Instant;

use airlock_providers::usage::Usage;
use airlock_store::{SessionRecord, TranscriptEntry};

use crate::clock::now_ms;
use crate::context::RequestContext;
use crate::exchange::{Exchange, Outcome};
use crate::metrics::{ActiveSession, SessionTraffic};
use crate::realtime::ending::Ending;
use crate::realtime::registry::SessionSlot;
use crate::state::AppState;

/// Who spoke a transcript line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Speaker {
    User,
    Model,
}

impl Speaker {
    fn name(self) -> &'static str {
        match self {
            Speaker::User => "user",
            Speaker::Model => "model",
        }
    }
}

pub struct Session {
    surface: &'static str,
    state: AppState,
    exchange: Exchange,
    started: Instant,
    /// The project's name, which server-side tools are registered under.
    project_name: Option<String>,
    record: SessionRecord,
    pub traffic: SessionTraffic,
    tokens_in: Option<u64>,
    tokens_out: Option<u64>,
    /// Whether transcription text is kept (`store_transcripts`).
    keep_transcript: bool,
    /// Whether personal data is redacted from it before it is written (unless
    /// the project keeps `verbatim_transcripts`).
    redact_transcript: bool,
    /// The provider said the session's key is out of quota (told the pool once).
    quota_spent: bool,
    _slot: SessionSlot,
    _active: ActiveSession,
}

impl Session {
    /// `surface` is `gemini_live` or `openai_realtime`; `exchange` is the
    /// session's request-log record, already routed and admitted.
    pub fn new(
        state: &AppState,
        request: &RequestContext,
        surface: &'static str,
        exchange: Exchange,
        slot: SessionSlot,
    ) -> Self {
        let started_at_ms = now_ms();
        let grant = request.principal.grant();
        let record = SessionRecord {
            id: uuid::Uuid::now_v7().to_string(),
            surface: surface.to_string(),
            started_at_ms,
            ended_at_ms: started_at_ms,
            project_id: grant.map(|g| g.project.id.clone()),
            api_key_id: grant.map(|g| g.key.id.clone()),
            end_user: request.end_user.clone(),
            // Filled in when the session ends.
            ..SessionRecord::default()
        };
        Session {
            surface,
            state: state.clone(),
            exchange,
            started: Instant::now(),
            project_name: grant.map(|g| g.project.name.clone()),
            record,
            traffic: SessionTraffic::default(),
            tokens_in: None,
            tokens_out: None,
            keep_transcript: state.config().realtime.policy.store_transcripts,
            redact_transcript: grant.is_none_or(|g| !g.project.settings.verbatim_transcripts),
            quota_spent: false,
            _slot: slot,
            _active: ActiveSession::start(surface),
        }
    }

    /// The session's id (a UUIDv7), as its record and tool webhooks carry it.
    pub fn id(&self) -> &str {
        &self.record.id
    }

    /// Notified when this session's end user's data is being erased.
    pub fn erase_signal(&self) -> Arc<tokio::sync::Notify> {
        self._slot.erase_signal()
    }

    pub fn exchange(&mut self) -> &mut Exchange {
        &mut self.exchange
    }

    pub fn tool_called(&mut self, failed: bool) {
        self.record.tool_calls += 1;
        if failed {
            self.record.tool_failures += 1;
        }
    }

    /// Writes the session record and its request-log record.
    pub fn finish(mut self, ending: &Ending) {
        let lasted = self.started.elapsed();
        crate::metrics::record_session(self.surface, ending.name(), lasted, &self.traffic);
        self.exchange.add_usage(Usage {
            input: self.tokens_in,
            output: self.tokens_out,
            ..Usage::default()
        });
        if self.redact_transcript {
            let redactor = &self.state.config().content_redactor;
            for entry in &mut self.record.transcript {
                entry.text = redactor.redact(&entry.text);
            }
        }
        if *ending == Ending::Erased {
            // What the erasure removes is not written back: the record
            // keeps the session's counts and cost, not whose it was.
            self.record.end_user = None;
            self.record.transcript.clear();
            self.exchange.forget_end_user();
        }
        let record = &mut self.record;
        // The route and the provider key, as the exchange recorded them.
        let routed = self.exchange.record();
        record.model.clone_from(&routed.model);
        record.provider.clone_from(&routed.provider);
        record.upstream_model.clone_from(&routed.upstream_model);
        record.key_id.clone_from(&routed.key_id);
        record.ended_at_ms = record.started_at_ms + lasted.as_millis() as i64;
        record.close_code = ending.code();
        record.close_reason = ending.name().to_string();
        let reason = ending.reason();
        record.close_detail = (!reason.is_empty()).then_some(reason);
        record.frames_in = self.traffic.frames_in as i64;
        record.frames_out = self.traffic.frames_out as i64;
        record.bytes_in = self.traffic.bytes_in as i64;
        record.bytes_out = self.traffic.bytes_out as i64;
        let tokens = |count: Option<u64>| count.map(|c| c as i64);
        record.tokens_in = tokens(self.tokens_in);
        record.tokens_out = tokens(self.tokens_out);
        // The same cost the session's request-log record carries.
        record.cost_usd = self.exchange.cost_usd();
        let config = self.state.config();
        // The session's sockets are closed already: nobody waits for the
        // appends (in a durable log they still go through its WAL).
        drop(config.realtime.session_log.record(std::mem::take(record)));
        let outcome = match ending {
            Ending::ClientClosed { .. } | Ending::UpstreamClosed { .. } => Outcome::Ok,
            Ending::ClientGone => Outcome::ClientDisconnected,
            Ending::UpstreamError { .. } => Outcome::UpstreamDisconnected,
            _ => Outcome::Error,
        };
        drop(self.exchange.finish(101, outcome));
    }
}

/// What a [`Dialect`](super::pump::Dialect) notes of a session while it
/// reads frames: the [`Session`] itself, or a stand-in where frames are
/// read without one (the fuzz targets).
pub trait Notes {
    /// The project's name, which server-side tools are registered under.
    fn project_name(&self) -> Option<&str>;
    /// Adds one turn's (or response's) usage to the session's totals.
    fn add_usage(&mut self, usage: Usage);
    /// Adds transcription text; consecutive pieces of one speaker make one line.
    fn transcribe(&mut self, speaker: Speaker, text: &str);
    /// The provider said the session's key is out of quota (Gemini Live's
    /// close 1011 RESOURCE_EXHAUSTED, OpenAI Realtime's `insufficient_quota`).
    fn quota_spent(&mut self);
}

impl Notes for Session {
    fn project_name(&self) -> Option<&str> {
        self.project_name.as_deref()
    }

    fn add_usage(&mut self, usage: Usage) {
        let add = |total: &mut Option<u64>, more: Option<u64>| {
            if let Some(more) = more {
                *total = Some(total.unwrap_or(0).saturating_add(more));
            }
        };
        add(&mut self.tokens_in, usage.input);
        add(&mut self.tokens_out, usage.output);
    }

    /// Rests the session's key in its provider's pool, as a 429 would, so
    /// the next sessions use another key; once per session.
    fn quota_spent(&mut self) {
        if std::mem::replace(&mut self.quota_spent, true) {
            return;
        }
        let routed = self.exchange.record();
        let (Some(provider), Some(key_id)) = (&routed.provider, &routed.key_id) else {
            return;
        };
        let config = self.state.config();
        if let Some(provider) = config.providers.iter().find(|p| p.name() == provider) {
            provider.quota_spent(key_id);
        }
    }

    fn transcribe(&mut self, speaker: Speaker, text: &str) {
        if !self.keep_transcript || text.is_empty() {
            return;
        }
        let transcript = &mut self.record.transcript;
        match transcript.last_mut() {
            Some(last) if last.role == speaker.name() => last.text.push_str(text),
            _ => transcript.push(TranscriptEntry {
                at_ms: now_ms(),
                role: speaker.name().to_string(),
                text: text.to_string(),
            }),
        }
    }
}
