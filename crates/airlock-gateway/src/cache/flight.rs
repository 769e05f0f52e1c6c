//! Single flight: identical requests in flight at once make one upstream
//! call. The first to arrive leads; the others follow, waiting for its
//! answer (a complete one as a whole, a stream chunk by chunk as it is
//! produced). A failed call's error reaches every follower; a leader that
//! goes away before it answered leaves its followers to try again.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError, Weak};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use tokio::sync::watch;

use super::answer::Tokens;
use super::key::CacheKey;

/// The flights in the air, by key.
#[derive(Default)]
pub(crate) struct Flights {
    flying: Mutex<HashMap<CacheKey, Weak<Flight>>>,
}

/// One upstream call and what it has produced so far.
pub(crate) struct Flight {
    progress: watch::Sender<Progress>,
}

/// What a flight has produced so far.
#[derive(Default)]
struct Progress {
    head: Option<Head>,
    chunks: Vec<Bytes>,
    end: Option<End>,
}

/// The status and type of a flight's answer, known before its body.
#[derive(Clone, Debug)]
pub(crate) struct Head {
    pub status: StatusCode,
    pub content_type: HeaderValue,
    /// Whether the body comes as a stream's chunks.
    pub streamed: bool,
}

/// How a flight ended.
#[derive(Clone, Debug)]
enum End {
    /// With what the answer took and cost.
    Answered(Tokens, Option<f64>),
    /// The call failed: its error answer, in the callers' protocol.
    Failed(Failure),
    /// The leader went away before it answered.
    Abandoned,
}

/// A failed call's error answer, as its leader's client got it.
#[derive(Clone, Debug)]
pub struct Failure {
    pub status: StatusCode,
    /// Its content type, and `Retry-After` when it said one.
    pub headers: HeaderMap,
    pub body: Bytes,
}

/// How a request joined a flight.
pub(crate) enum Joined {
    Leader(Leader),
    Follower(Follower),
}

impl Flights {
    /// Joins the flight of `key` in the air, or starts one led by the
    /// caller.
    pub(crate) fn join(self: &Arc<Self>, key: CacheKey) -> Joined {
        let mut flying = self.flying.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(flight) = flying.get(&key).and_then(Weak::upgrade)
            && flight.progress.borrow().end.is_none()
        {
            let progress = flight.progress.subscribe();
            return Joined::Follower(Follower { progress, read: 0 });
        }
        let flight = Arc::new(Flight {
            progress: watch::Sender::new(Progress::default()),
        });
        flying.insert(key, Arc::downgrade(&flight));
        Joined::Leader(Leader {
            flights: self.clone(),
            key,
            flight,
            ended: false,
        })
    }

    /// How many flights are in the air (for tests and metrics).
    #[cfg(test)]
    fn len(&self) -> usize {
        let flying = self.flying.lock().unwrap_or_else(PoisonError::into_inner);
        flying.values().filter(|f| f.strong_count() > 0).count()
    }

    fn land(&self, key: &CacheKey, flight: &Arc<Flight>) {
        let mut flying = self.flying.lock().unwrap_or_else(PoisonError::into_inner);
        if flying
            .get(key)
            .is_some_and(|f| std::ptr::eq(f.as_ptr(), Arc::as_ptr(flight)))
        {
            flying.remove(key);
        }
    }
}

/// The request that makes the call. Dropped before it ends the flight,
/// it abandons it.
pub(crate) struct Leader {
    flights: Arc<Flights>,
    key: CacheKey,
    flight: Arc<Flight>,
    ended: bool,
}

impl Leader {
    /// The answer's status and type, before its body.
    pub(crate) fn head(&self, head: Head) {
        self.flight.progress.send_modify(|p| p.head = Some(head));
    }

    /// The next bytes of the answer.
    pub(crate) fn chunk(&self, chunk: Bytes) {
        self.flight.progress.send_modify(|p| p.chunks.push(chunk));
    }

    /// The answer is complete; it took `tokens` and cost `cost_usd`.
    pub(crate) fn answered(mut self, tokens: Tokens, cost_usd: Option<f64>) {
        self.end(End::Answered(tokens, cost_usd));
    }

    /// A complete answer at once: its head, its body, and the end.
    pub(crate) fn complete(
        mut self,
        head: Head,
        body: Bytes,
        tokens: Tokens,
        cost_usd: Option<f64>,
    ) {
        self.ended = true;
        self.flights.land(&self.key, &self.flight);
        self.flight.progress.send_modify(|p| {
            p.head = Some(head);
            p.chunks.push(body);
            p.end = Some(End::Answered(tokens, cost_usd));
        });
    }

    /// The call failed with this error answer.
    pub(crate) fn failed(mut self, failure: Failure) {
        self.end(End::Failed(failure));
    }

    /// A follower of this flight, reading it from its start.
    pub(crate) fn follower(&self) -> Follower {
        Follower {
            progress: self.flight.progress.subscribe(),
            read: 0,
        }
    }

    fn end(&mut self, end: End) {
        self.ended = true;
        self.flights.land(&self.key, &self.flight);
        self.flight.progress.send_modify(|p| p.end = Some(end));
    }
}

impl Drop for Leader {
    fn drop(&mut self) {
        if !self.ended {
            self.end(End::Abandoned);
        }
    }
}

/// A request waiting for another's call.
pub struct Follower {
    progress: watch::Receiver<Progress>,
    /// Chunks already given out.
    read: usize,
}

/// What a follower learns first.
pub(crate) enum Opening {
    /// The answer's head: its body follows through [`Follower::next`].
    Head(Head),
    Failed(Failure),
    /// The leader left before answering: make the call again.
    Abandoned,
}

impl Follower {
    /// Waits for the answer's head, or for how the flight ended without one.
    pub(crate) async fn opening(&mut self) -> Opening {
        let progress = self
            .progress
            .wait_for(|p| p.head.is_some() || p.end.is_some())
            .await;
        let Ok(progress) = progress else {
            return Opening::Abandoned;
        };
        match (&progress.head, &progress.end) {
            (_, Some(End::Failed(failure))) if progress.chunks.is_empty() => {
                Opening::Failed(failure.clone())
            }
            (Some(head), _) => Opening::Head(head.clone()),
            _ => Opening::Abandoned,
        }
    }

    /// The answer's next chunks, as they are produced; `None` at its end
    /// (answered, failed or abandoned: what was produced is all there is).
    pub(crate) async fn next(&mut self) -> Option<Vec<Bytes>> {
        let read = self.read;
        let progress = self
            .progress
            .wait_for(|p| p.chunks.len() > read || p.end.is_some())
            .await
            .ok()?;
        if progress.chunks.len() == read {
            return None;
        }
        let chunks = progress.chunks[read..].to_vec();
        drop(progress);
        self.read += chunks.len();
        Some(chunks)
    }

    /// Whether the flight was answered to its end (once [`Follower::next`]
    /// has said `None`).
    pub(crate) fn answered(&self) -> bool {
        matches!(self.progress.borrow().end, Some(End::Answered(..)))
    }

    /// What an answered flight's answer took and cost.
    pub(crate) fn summary(&self) -> (Tokens, Option<f64>) {
        match self.progress.borrow().end {
            Some(End::Answered(tokens, cost_usd)) => (tokens, cost_usd),
            _ => (Tokens::default(), None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey::from_hex(&format!("{n:02x}").repeat(32)).expect("64 hex digits")
    }

    fn head() -> Head {
        Head {
            status: StatusCode::OK,
            content_type: HeaderValue::from_static("text/event-stream"),
            streamed: true,
        }
    }

    fn leader(joined: Joined) -> Leader {
        match joined {
            Joined::Leader(leader) => leader,
            Joined::Follower(_) => panic!("expected to lead"),
        }
    }

    fn follower(joined: Joined) -> Follower {
        match joined {
            Joined::Follower(follower) => follower,
            Joined::Leader(_) => panic!("expected to follow"),
        }
    }

    #[tokio::test]
    async fn followers_get_the_chunks_as_the_leader_produces_them() {
        let flights = Arc::new(Flights::default());
        let lead = leader(flights.join(key(1)));
        let mut follow = follower(flights.join(key(1)));
        let other = leader(flights.join(key(2)));
        lead.head(head());
        assert!(matches!(follow.opening().await, Opening::Head(h) if h.streamed));
        lead.chunk(Bytes::from_static(b"one"));
        assert_eq!(
            follow.next().await.unwrap(),
            vec![Bytes::from_static(b"one")]
        );
        let waiting = tokio::spawn(async move {
            let next = follow.next().await;
            (next, follow)
        });
        tokio::task::yield_now().await;
        assert!(
            !waiting.is_finished(),
            "a follower waits for the next chunk"
        );
        lead.chunk(Bytes::from_static(b"two"));
        let (next, mut follow) = waiting.await.unwrap();
        assert_eq!(next.unwrap(), vec![Bytes::from_static(b"two")]);
        let tokens = Tokens {
            input: Some(3),
            output: Some(5),
            cached_input: None,
        };
        lead.answered(tokens, Some(0.5));
        assert!(follow.next().await.is_none());
        assert!(follow.answered());
        assert_eq!(follow.summary(), (tokens, Some(0.5)));
        assert_eq!(flights.len(), 1, "only the other key's flight is left");
        drop(other);
        assert_eq!(flights.len(), 0);
    }

    #[tokio::test]
    async fn a_late_follower_reads_the_flight_from_its_start() {
        let flights = Arc::new(Flights::default());
        let lead = leader(flights.join(key(1)));
        lead.head(head());
        lead.chunk(Bytes::from_static(b"one"));
        lead.chunk(Bytes::from_static(b"two"));
        let mut late = follower(flights.join(key(1)));
        assert!(matches!(late.opening().await, Opening::Head(_)));
        assert_eq!(late.next().await.unwrap().len(), 2);
    }

    #[tokio::test]
    async fn a_failure_reaches_every_follower_and_the_next_request_leads_anew() {
        let flights = Arc::new(Flights::default());
        let lead = leader(flights.join(key(1)));
        let mut followers: Vec<Follower> = (0..3).map(|_| follower(flights.join(key(1)))).collect();
        lead.failed(Failure {
            status: StatusCode::TOO_MANY_REQUESTS,
            headers: HeaderMap::new(),
            body: Bytes::from_static(b"{\"error\":{}}"),
        });
        for follow in &mut followers {
            match follow.opening().await {
                Opening::Failed(failure) => assert_eq!(failure.status, 429),
                _ => panic!("expected the leader's failure"),
            }
        }
        assert!(matches!(flights.join(key(1)), Joined::Leader(_)));
    }

    #[tokio::test]
    async fn a_leader_dropped_before_answering_abandons_its_followers() {
        let flights = Arc::new(Flights::default());
        let lead = leader(flights.join(key(1)));
        let mut follow = follower(flights.join(key(1)));
        drop(lead);
        assert!(matches!(follow.opening().await, Opening::Abandoned));
        assert!(matches!(flights.join(key(1)), Joined::Leader(_)));
    }
}
