//! The loop both realtime protocols run. A protocol is a [`Handler`]: it
//! reads each client message synchronously and answers by filling an
//! [`Outbox`]. The loop sends, paces a model turn's content by the latency
//! profile, drops the connection for the disconnect fault, fires the
//! session's expiry and closes when asked.
//!
//! Pacing: a turn's first content message waits `first_token`, each further
//! one `per_chunk`; everything else goes out as soon as the messages before
//! it have. Messages already due are always sent before the next client
//! message is read, so a turn without latency is never interrupted.

use std::collections::VecDeque;
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use tokio::time::{Instant, sleep_until};

use crate::config::Latency;
use crate::delivery::Plan;
use crate::socket::{self, Incoming};

/// A realtime protocol's session logic.
pub trait Handler {
    /// A client message (the bytes of a text or binary frame).
    fn on_message(&mut self, message: &[u8], out: &mut Outbox);
    /// A client message over [`socket::MAX_MESSAGE_BYTES`].
    fn on_oversized(&mut self, out: &mut Outbox);
    /// The deadline set with [`Outbox::expire_in`] has passed.
    fn on_expiry(&mut self, out: &mut Outbox);
}

#[derive(Debug)]
struct Queued {
    frame: Message,
    wait: Duration,
    /// Counts towards the disconnect fault.
    content: bool,
}

/// What the session sends next.
#[derive(Debug)]
pub struct Outbox {
    /// Sent before anything else, at once.
    urgent: Vec<Message>,
    /// The current model turn, in order, paced.
    turn: VecDeque<Queued>,
    /// When the front of `turn` is due.
    due: Option<Instant>,
    first_content: bool,
    latency: Latency,
    drop_after: Option<usize>,
    content_sent: usize,
    expiry: Option<Instant>,
    close: Option<(u16, String)>,
}

impl Outbox {
    pub fn new(plan: &Plan) -> Self {
        Self {
            urgent: Vec::new(),
            turn: VecDeque::new(),
            due: None,
            first_content: true,
            latency: plan.latency,
            drop_after: plan.disconnect_after,
            content_sent: 0,
            expiry: None,
            close: None,
        }
    }

    /// Sends `frame` at once, ahead of a turn in progress.
    pub fn now(&mut self, frame: Message) {
        self.urgent.push(frame);
    }

    /// The next content message starts a new turn (it waits `first_token`).
    pub fn start_turn(&mut self) {
        self.first_content = true;
    }

    /// A model content message, paced.
    pub fn content(&mut self, frame: Message) {
        let wait = if std::mem::replace(&mut self.first_content, false) {
            self.latency.first_token
        } else {
            self.latency.per_chunk
        };
        self.push(frame, wait, true);
    }

    /// A model content message sent right after the previous one (a
    /// transcript with its audio).
    pub fn content_along(&mut self, frame: Message) {
        self.push(frame, Duration::ZERO, true);
    }

    /// A turn message sent right after the previous one, not paced and not
    /// counted as content.
    pub fn then(&mut self, frame: Message) {
        self.push(frame, Duration::ZERO, false);
    }

    fn push(&mut self, frame: Message, wait: Duration, content: bool) {
        if self.turn.is_empty() {
            self.due = Some(Instant::now() + wait);
        }
        self.turn.push_back(Queued {
            frame,
            wait,
            content,
        });
    }

    /// Whether a model turn is still being delivered.
    pub fn busy(&self) -> bool {
        !self.turn.is_empty()
    }

    /// Drops what is left of the turn in progress.
    pub fn cancel_turn(&mut self) {
        self.turn.clear();
        self.due = None;
    }

    /// Calls [`Handler::on_expiry`] once `after` has passed.
    pub fn expire_in(&mut self, after: Duration) {
        self.expiry = Some(Instant::now() + after);
    }

    /// Closes the socket with this code and reason once the urgent messages
    /// are out; the rest of a turn is dropped.
    pub fn close(&mut self, code: u16, reason: impl Into<String>) {
        self.close.get_or_insert((code, reason.into()));
    }

    fn pop(&mut self) -> Option<Queued> {
        let item = self.turn.pop_front()?;
        self.due = self.turn.front().map(|next| Instant::now() + next.wait);
        Some(item)
    }
}

/// Runs a session until the client leaves, the handler closes it, or the
/// disconnect fault drops it.
pub async fn run(mut ws: WebSocket, handler: &mut impl Handler, mut out: Outbox) {
    loop {
        for frame in out.urgent.drain(..) {
            if ws.send(frame).await.is_err() {
                return;
            }
        }
        if let Some((code, reason)) = out.close.take() {
            socket::close(ws, code, &reason).await;
            return;
        }
        let due = out.due;
        let expiry = out.expiry;
        tokio::select! {
            biased;
            () = sleep_until(due.unwrap_or_else(Instant::now)), if due.is_some() => {
                let Some(item) = out.pop() else { continue };
                if item.content {
                    if out.drop_after == Some(out.content_sent) {
                        // The fault: no close frame, the TCP connection just ends.
                        return;
                    }
                    out.content_sent += 1;
                }
                if ws.send(item.frame).await.is_err() {
                    return;
                }
            }
            () = sleep_until(expiry.unwrap_or_else(Instant::now)), if expiry.is_some() => {
                out.expiry = None;
                handler.on_expiry(&mut out);
            }
            incoming = socket::next(&mut ws) => match incoming {
                Incoming::Data(bytes) => handler.on_message(&bytes, &mut out),
                Incoming::TooLarge => handler.on_oversized(&mut out),
                Incoming::Gone => return,
            },
        }
    }
}
