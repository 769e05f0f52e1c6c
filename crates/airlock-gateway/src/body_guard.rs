//! Request bodies as the server hands them to the router: each is held to
//! the body timeout and minimum rate (one that stalls or trickles is cut)
//! and takes its bytes from the body budget ([`crate::body_budget`]). A
//! body refused either way ends with a [`BodyRefused`] error, which
//! [`crate::body::read_json_bytes`] turns into the answer in the caller's
//! protocol: 408, or 503 with `Retry-After`.
//!
//! A body's clock starts when it first has to be waited for, not when its
//! request arrives: until a handler reads it, no byte of it is asked for,
//! and a body that is there already is read without a timer.

use std::error::Error;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::BoxError;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};
use metrics::counter;
use tokio::time::{Instant, Sleep};

use crate::body_budget::{BodyBudget, Reservation};
use crate::metrics::REQUEST_BODIES_REFUSED;
use crate::server_policy::ServerPolicy;

/// Why a request body was cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum BodyRefused {
    #[error("the request body stalled or arrived below the minimum rate")]
    TooSlow,
    #[error("the gateway holds as many request bodies as it may")]
    OverBudget,
}

impl BodyRefused {
    /// The refusal in an error's chain of sources, if it is one.
    pub(crate) fn find(error: &(dyn Error + 'static)) -> Option<BodyRefused> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(refused) = error.downcast_ref::<BodyRefused>() {
                return Some(*refused);
            }
            current = error.source();
        }
        None
    }

    fn reason(self) -> &'static str {
        match self {
            BodyRefused::TooSlow => "too_slow",
            BodyRefused::OverBudget => "budget",
        }
    }
}

/// What every request body is held to; one per server.
pub(crate) struct BodyGuard {
    budget: Arc<BodyBudget>,
    max_body_bytes: usize,
    timeout: Duration,
    min_rate: u64,
}

impl BodyGuard {
    pub(crate) fn new(policy: &ServerPolicy, max_body_bytes: usize) -> Arc<Self> {
        Arc::new(BodyGuard {
            budget: BodyBudget::new(policy.body_budget(max_body_bytes)),
            max_body_bytes,
            timeout: policy.body_timeout,
            min_rate: policy.body_min_rate,
        })
    }

    /// `body`, guarded, and its share of the budget: the caller holds the
    /// share until the request is answered (the handler keeps the bytes it
    /// read until then); it is given back once the body is dropped too.
    /// A body with nothing to read comes back unguarded, as `Err`.
    pub(crate) fn guard<B>(&self, body: B) -> Result<(GuardedBody<B>, Arc<Reservation>), B>
    where
        B: HttpBody<Data = Bytes>,
    {
        if body.is_end_stream() {
            return Err(body);
        }
        let reservation = Reservation::new(self.budget.clone());
        let guarded = GuardedBody {
            inner: body,
            reservation: reservation.clone(),
            max_upfront: self.max_body_bytes,
            timeout: self.timeout,
            min_rate: self.min_rate,
            received: 0,
            reserved_upfront: false,
            clock: None,
            progressed: false,
        };
        Ok((guarded, reservation))
    }
}

/// A request body held to the guard's limits.
pub(crate) struct GuardedBody<B> {
    inner: B,
    reservation: Arc<Reservation>,
    /// The most of a declared length taken from the budget before reading.
    max_upfront: usize,
    timeout: Duration,
    min_rate: u64,
    received: usize,
    reserved_upfront: bool,
    /// When the body was first waited for, and the deadline of the wait.
    clock: Option<(Instant, Pin<Box<Sleep>>)>,
    /// Data arrived since the deadline was set.
    progressed: bool,
}

impl<B> GuardedBody<B> {
    /// A pause beginning now may last the timeout; the body as a whole has
    /// the timeout plus a second per `min_rate` bytes received.
    fn deadline(&self, started: Instant, now: Instant) -> Instant {
        let pause = now + self.timeout;
        if self.min_rate == 0 {
            return pause;
        }
        let earned = Duration::try_from_secs_f64(self.received as f64 / self.min_rate as f64)
            .unwrap_or(Duration::MAX);
        started
            .checked_add(self.timeout)
            .and_then(|at| at.checked_add(earned))
            .map_or(pause, |at| at.min(pause))
    }

    fn refuse(why: BodyRefused) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        counter!(REQUEST_BODIES_REFUSED, "reason" => why.reason()).increment(1);
        Poll::Ready(Some(Err(Box::new(why))))
    }

    /// Waiting for the body: `true` once the wait has lasted too long.
    fn timed_out(&mut self, cx: &mut Context<'_>) -> bool {
        if self.clock.is_none() || self.progressed {
            // A new pause: its deadline runs from now.
            self.progressed = false;
            let now = Instant::now();
            let started = self.clock.as_ref().map_or(now, |(started, _)| *started);
            let deadline = self.deadline(started, now);
            match &mut self.clock {
                Some((_, sleep)) => sleep.as_mut().reset(deadline),
                None => self.clock = Some((now, Box::pin(tokio::time::sleep_until(deadline)))),
            }
        }
        self.clock
            .as_mut()
            .is_some_and(|(_, sleep)| sleep.as_mut().poll(cx).is_ready())
    }
}

impl<B> HttpBody for GuardedBody<B>
where
    B: HttpBody<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if !this.reserved_upfront {
            // A declared length is taken whole, before any of it is read.
            this.reserved_upfront = true;
            let declared = this.inner.size_hint().exact().unwrap_or(0);
            let upfront = usize::try_from(declared)
                .unwrap_or(usize::MAX)
                .min(this.max_upfront);
            if !this.reservation.grow_to(upfront) {
                return Self::refuse(BodyRefused::OverBudget);
            }
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received = this.received.saturating_add(data.len());
                    if !this.reservation.grow_to(this.received) {
                        return Self::refuse(BodyRefused::OverBudget);
                    }
                    this.progressed = true;
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(error))) => Poll::Ready(Some(Err(error.into()))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending if this.timed_out(cx) => Self::refuse(BodyRefused::TooSlow),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::{BodyExt, Full, StreamBody};

    fn guard(budget: usize, timeout: Duration) -> Arc<BodyGuard> {
        BodyGuard::new(
            &ServerPolicy {
                body_budget_bytes: Some(budget),
                body_timeout: timeout,
                body_min_rate: 1000,
                ..ServerPolicy::default()
            },
            1000,
        )
    }

    #[tokio::test]
    async fn a_body_within_the_budget_is_read_whole() {
        let Ok((body, _share)) = guard(10, Duration::from_secs(5)).guard(Full::from("0123456789"))
        else {
            panic!("a body to guard");
        };
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"0123456789");
    }

    #[tokio::test]
    async fn a_declared_length_over_the_budget_is_refused_before_reading() {
        let Ok((body, _share)) = guard(5, Duration::from_secs(5)).guard(Full::from("0123456789"))
        else {
            panic!("a body to guard");
        };
        let error = body.collect().await.err().unwrap();
        assert_eq!(BodyRefused::find(&*error), Some(BodyRefused::OverBudget));
    }

    #[tokio::test]
    async fn an_empty_body_is_not_guarded() {
        assert!(
            guard(5, Duration::from_secs(5))
                .guard(Full::<Bytes>::default())
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_stalled_body_is_cut() {
        let (sender, mut stalled) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, BoxError>>(1);
        sender
            .send(Ok(Frame::data(Bytes::from("{"))))
            .await
            .unwrap();
        let frames = futures_util::stream::poll_fn(move |cx| stalled.poll_recv(cx));
        let Ok((body, _share)) =
            guard(100, Duration::from_millis(50)).guard(StreamBody::new(frames))
        else {
            panic!("a body to guard");
        };
        let error = body.collect().await.err().unwrap();
        assert_eq!(BodyRefused::find(&*error), Some(BodyRefused::TooSlow));
        drop(sender);
    }
}
