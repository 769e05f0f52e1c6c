//! The relay loop: one task per session moves frames both ways as they
//! arrive, lets the protocol's [`Dialect`] read them, runs server-side tools,
//! and enforces the session's limits and the shutdown drain.

use std::sync::Arc;
use std::time::Duration;

use futures_util::{Sink, SinkExt, StreamExt};
use tokio::sync::mpsc;
use tokio::time::{Instant, sleep_until};
use tokio_tungstenite::tungstenite::error::CapacityError;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{Error as WsError, Message};

use airlock_providers::realtime::UpstreamSocket;

use crate::realtime::ending::Ending;
use crate::realtime::policy::{GO_AWAY_NOTICE, RealtimePolicy};
use crate::realtime::session::{Notes, Session};
use crate::realtime::tools::{ServerTools, ToolAnswer, ToolCall};
use crate::realtime::upgrade::ClientSocket;

/// How long one frame may take to be written to either side.
const SEND_TIMEOUT: Duration = Duration::from_secs(10);

/// What to do with a client frame.
pub enum ClientVerdict {
    /// Relay it as it is.
    Forward,
    /// Relay this instead (the frame was rewritten).
    Replace(Message),
    /// Relay nothing (everything in it was handled here).
    Drop,
    /// Relay nothing; answer the client with this (an error event).
    Reply(Message),
    /// End the session.
    Close(Ending),
}

/// What a provider frame asks of the relay, besides relaying it.
#[derive(Default)]
pub struct UpstreamVerdict {
    /// Calls of server-side tools to run.
    pub tool_calls: Vec<ToolCall>,
    /// Frames to send the provider after this one (deferred work).
    pub to_upstream: Vec<Message>,
}

/// Frames that deliver a tool's answer.
#[derive(Default)]
pub struct Delivery {
    pub to_upstream: Vec<Message>,
    pub to_client: Vec<Message>,
}

/// What differs between Gemini Live and OpenAI Realtime.
pub trait Dialect: Send + Sync {
    /// Reads one client frame's JSON.
    fn client_frame(&mut self, data: &[u8], session: &mut dyn Notes) -> ClientVerdict;
    /// Reads one provider frame's JSON (usage, transcripts, tool calls).
    fn upstream_frame(
        &mut self,
        data: &[u8],
        session: &mut dyn Notes,
        tools: &ServerTools,
    ) -> UpstreamVerdict;
    /// The frames that give the model a tool's answer, and show it to the client.
    fn tool_answer(&mut self, answer: &ToolAnswer) -> Delivery;
    /// The protocol's notice that the session will end soon, if it has one.
    fn go_away(&self, time_left: Duration) -> Option<Message>;
    /// An error event the client reads before the close, if the protocol has one.
    fn error_event(&self, ending: &Ending) -> Option<Message>;
    /// Whether the provider's close says the session's key is out of quota
    /// (the protocols that say so in an event note it in `upstream_frame`).
    fn closed_for_quota(&self, code: u16, reason: &str) -> bool;
}

/// What the loop needs besides the sockets.
pub struct Relay<'a> {
    pub policy: &'a RealtimePolicy,
    pub tools: &'a Arc<ServerTools>,
    pub drain: tokio::sync::watch::Receiver<Option<Instant>>,
    /// Notified when the session's end user's data is being erased.
    pub erase: Arc<tokio::sync::Notify>,
}

/// Relays until the session ends, then closes both sockets as the ending
/// requires, and says how it ended.
pub async fn run(
    relay: Relay<'_>,
    client: &mut ClientSocket,
    upstream: &mut UpstreamSocket,
    dialect: &mut dyn Dialect,
    session: &mut Session,
) -> Ending {
    let ending = relay_frames(relay, client, upstream, dialect, session).await;
    close_both(client, upstream, dialect, &ending).await;
    ending
}

async fn relay_frames(
    relay: Relay<'_>,
    client: &mut ClientSocket,
    upstream: &mut UpstreamSocket,
    dialect: &mut dyn Dialect,
    session: &mut Session,
) -> Ending {
    let policy = relay.policy;
    let ends_at = Instant::now() + policy.max_session;
    // The timers live across iterations and are reset only when their
    // deadline moves: a frame costs no timer registration, only a clock read.
    let go_away = sleep_until(ends_at.checked_sub(GO_AWAY_NOTICE).unwrap_or(ends_at));
    let mut go_away_pending = true;
    let mut last_frame = Instant::now();
    let idle = sleep_until(last_frame + policy.idle_timeout);
    let deadline = sleep_until(ends_at);
    tokio::pin!(go_away, idle, deadline);
    let mut drain_until: Option<Instant> = None;
    // The drain begins once; its signal is watched by one future kept across
    // iterations. Whether it can still begin (its sender lives as long as the
    // gateway):
    let mut drain_possible = true;
    let mut drain_signal = relay.drain.clone();
    let drain_began = drain_signal.changed();
    tokio::pin!(drain_began);
    // An erasure's signal, watched by one future kept across iterations
    // (registered once, not per frame).
    let erased = relay.erase.notified();
    tokio::pin!(erased);
    let mut rate = RateBucket::new(policy.max_messages_per_sec);
    let (answers_in, mut answers) = mpsc::channel::<ToolAnswer>(16);
    // Tool calls running: their answers are awaited only while there are some.
    let mut tools_running = 0usize;
    loop {
        tokio::select! {
            message = client.next() => {
                last_frame = Instant::now();
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(WsError::Capacity(CapacityError::MessageTooLong { .. }))) => {
                        return Ending::FrameTooLarge { limit: policy.max_frame_bytes };
                    }
                    Some(Err(_)) | None => return Ending::ClientGone,
                };
                let data = match &message {
                    Message::Text(text) => text.as_bytes(),
                    Message::Binary(bytes) => bytes,
                    Message::Close(frame) => {
                        return Ending::ClientClosed {
                            code: frame.as_ref().map_or(1005, |f| u16::from(f.code)),
                        };
                    }
                    _ => continue,
                };
                session.traffic.frames_in += 1;
                session.traffic.bytes_in += data.len() as u64;
                if !rate.admit(last_frame) {
                    return Ending::MessageRate;
                }
                let outgoing = match dialect.client_frame(data, session) {
                    ClientVerdict::Forward => message,
                    ClientVerdict::Replace(replacement) => replacement,
                    ClientVerdict::Drop => continue,
                    ClientVerdict::Reply(reply) => {
                        if let Err(ending) = send_client(client, reply).await {
                            return ending;
                        }
                        continue;
                    }
                    ClientVerdict::Close(ending) => return ending,
                };
                if let Err(ending) = send_upstream(upstream, outgoing).await {
                    return ending;
                }
            }
            message = upstream.next() => {
                last_frame = Instant::now();
                let message = match message {
                    Some(Ok(message)) => message,
                    Some(Err(_)) | None => {
                        return Ending::UpstreamError { detail: "the provider's connection was lost".into() };
                    }
                };
                let data = match &message {
                    Message::Text(text) => text.as_bytes(),
                    Message::Binary(bytes) => bytes,
                    Message::Close(frame) => {
                        let Some(frame) = frame else {
                            return Ending::UpstreamClosed { code: 1000, reason: String::new() };
                        };
                        let (code, reason) = (u16::from(frame.code), frame.reason.to_string());
                        if dialect.closed_for_quota(code, &reason) {
                            session.quota_spent();
                        }
                        return Ending::UpstreamClosed { code, reason };
                    }
                    _ => continue,
                };
                session.traffic.frames_out += 1;
                session.traffic.bytes_out += data.len() as u64;
                let verdict = dialect.upstream_frame(data, session, relay.tools);
                if let Err(ending) = send_client(client, message).await {
                    return ending;
                }
                for call in verdict.tool_calls {
                    if spawn_tool_call(relay.tools, session, call, answers_in.clone()) {
                        tools_running += 1;
                    }
                }
                for frame in verdict.to_upstream {
                    if let Err(ending) = send_upstream(upstream, frame).await {
                        return ending;
                    }
                }
            }
            Some(answer) = answers.recv(), if tools_running > 0 => {
                tools_running -= 1;
                session.tool_called(answer.failed);
                let delivery = dialect.tool_answer(&answer);
                for frame in delivery.to_upstream {
                    if let Err(ending) = send_upstream(upstream, frame).await {
                        return ending;
                    }
                }
                for frame in delivery.to_client {
                    if let Err(ending) = send_client(client, frame).await {
                        return ending;
                    }
                }
            }
            changed = &mut drain_began, if drain_possible => {
                // Only one change ever comes: the drain's deadline.
                drain_possible = false;
                let until = match changed {
                    Ok(()) => *relay.drain.borrow(),
                    Err(_) => None,
                };
                let Some(until) = until else {
                    continue;
                };
                drain_until = Some(until);
                deadline.as_mut().reset(until.min(ends_at));
                if let Some(notice) = dialect.go_away(until.saturating_duration_since(Instant::now()))
                    && let Err(ending) = send_client(client, notice).await
                {
                    return ending;
                }
            }
            () = &mut go_away, if go_away_pending => {
                go_away_pending = false;
                if let Some(notice) = dialect.go_away(ends_at.saturating_duration_since(Instant::now()))
                    && let Err(ending) = send_client(client, notice).await
                {
                    return ending;
                }
            }
            () = &mut erased => return Ending::Erased,
            () = &mut idle => {
                let due = last_frame + policy.idle_timeout;
                if due <= Instant::now() {
                    return Ending::IdleTimeout;
                }
                idle.as_mut().reset(due);
            }
            () = &mut deadline => {
                return if drain_until.is_some_and(|drain| drain <= ends_at) {
                    Ending::Shutdown
                } else {
                    Ending::MaxDuration
                };
            }
        }
    }
}

/// Runs a server-side tool's webhook off the loop; the answer comes back
/// through `answers`. Whether a call was started.
fn spawn_tool_call(
    tools: &ServerTools,
    session: &Session,
    call: ToolCall,
    answers: mpsc::Sender<ToolAnswer>,
) -> bool {
    let Some(tool) = tools.find(session.project_name(), &call.name).cloned() else {
        return false;
    };
    let session_id = session.id().to_string();
    tokio::spawn(async move {
        let answer = tool.call(&session_id, call).await;
        // The session may have ended meanwhile; the answer then has no reader.
        let _ = answers.send(answer).await;
    });
    true
}

async fn send_client(client: &mut ClientSocket, message: Message) -> Result<(), Ending> {
    match send_within(client, message).await {
        Ok(()) => Ok(()),
        Err(SendFailure::TimedOut) => Err(Ending::ClientTooSlow),
        Err(SendFailure::Broken) => Err(Ending::ClientGone),
    }
}

async fn send_upstream(upstream: &mut UpstreamSocket, message: Message) -> Result<(), Ending> {
    send_within(upstream, message).await.map_err(|failure| {
        let detail = match failure {
            SendFailure::TimedOut => "the provider did not read in time",
            SendFailure::Broken => "the provider's connection was lost",
        };
        Ending::UpstreamError {
            detail: detail.into(),
        }
    })
}

enum SendFailure {
    TimedOut,
    Broken,
}

async fn send_within<S>(sink: &mut S, message: Message) -> Result<(), SendFailure>
where
    S: Sink<Message, Error = WsError> + Unpin,
{
    match tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(SendFailure::Broken),
        Err(_) => Err(SendFailure::TimedOut),
    }
}

/// Ends both connections as `ending` says: the side that closed has its
/// close answered, the other is told why (the provider's own close code and
/// reason reach the client as they are).
async fn close_both(
    client: &mut ClientSocket,
    upstream: &mut UpstreamSocket,
    dialect: &dyn Dialect,
    ending: &Ending,
) {
    let upstream_alive = !matches!(
        ending,
        Ending::UpstreamClosed { .. } | Ending::UpstreamError { .. }
    );
    if upstream_alive {
        let _ =
            tokio::time::timeout(SEND_TIMEOUT, upstream.close(Some(close_frame(1000, "")))).await;
    }
    close_client(client, Some(dialect), ending).await;
}

/// Ends the client's connection as `ending` says: a close the client sent is
/// answered; otherwise the client gets the protocol's error event (if it has
/// one) and a close frame with the ending's code and reason.
pub async fn close_client(
    client: &mut ClientSocket,
    dialect: Option<&dyn Dialect>,
    ending: &Ending,
) {
    match ending {
        // tungstenite queues the answer to a received close; closing the
        // sink flushes it (sending a close of our own would be refused).
        Ending::ClientClosed { .. } => {
            let _ = tokio::time::timeout(SEND_TIMEOUT, SinkExt::close(client)).await;
        }
        Ending::ClientGone | Ending::ClientTooSlow => {}
        _ => {
            if let Some(event) = dialect.and_then(|dialect| dialect.error_event(ending)) {
                let _ = send_within(client, event).await;
            }
            let frame = close_frame(ending.code(), &ending.reason());
            let _ = tokio::time::timeout(SEND_TIMEOUT, client.close(Some(frame))).await;
        }
    }
}

fn close_frame(code: u16, reason: &str) -> CloseFrame {
    CloseFrame {
        code: CloseCode::from(code),
        reason: reason.to_string().into(),
    }
}

/// Client messages per second: a token bucket refilled at the limit, which
/// holds up to two seconds' worth, so frames read in a burst (after the
/// network or the gateway held them back) are not mistaken for a flood.
struct RateBucket {
    limit: Option<u32>,
    tokens: f64,
    updated: Instant,
}

impl RateBucket {
    fn new(limit: Option<u32>) -> Self {
        RateBucket {
            limit,
            tokens: f64::from(limit.unwrap_or(0)) * BURST_SECONDS,
            updated: Instant::now(),
        }
    }

    fn admit(&mut self, now: Instant) -> bool {
        let Some(limit) = self.limit else {
            return true;
        };
        let rate = f64::from(limit);
        let refill = now.saturating_duration_since(self.updated).as_secs_f64() * rate;
        self.tokens = (self.tokens + refill).min(rate * BURST_SECONDS);
        self.updated = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// How many seconds of the message rate a burst may use at once.
const BURST_SECONDS: f64 = 2.0;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_bucket_admits_a_burst_then_the_limit_per_second() {
        let start = Instant::now();
        let mut bucket = RateBucket::new(Some(3));
        bucket.updated = start;
        assert!(
            (0..6).all(|_| bucket.admit(start)),
            "two seconds' worth at once"
        );
        assert!(!bucket.admit(start));
        let later = start + Duration::from_secs(1);
        assert!((0..3).all(|_| bucket.admit(later)));
        assert!(!bucket.admit(later));
        let mut unlimited = RateBucket::new(None);
        assert!((0..10_000).all(|_| unlimited.admit(start)));
    }
}
