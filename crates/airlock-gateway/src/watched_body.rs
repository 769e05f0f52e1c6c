//! A body passed through unchanged that tells a [`Watcher`], once, how it
//! ended: read to its end, or dropped before (a client gone, a handler that
//! never read it). The access log and the unread-request check both use it.

use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

/// Told once how a watched body ended.
pub trait Watcher: Send + Unpin + 'static {
    /// `complete`: the body was read to its end.
    fn ended(self, complete: bool);
}

/// `inner`, watched by `watcher`.
pub fn watch(inner: Body, watcher: impl Watcher) -> Body {
    Body::new(WatchedBody {
        inner,
        watcher: Some(watcher),
    })
}

struct WatchedBody<W: Watcher> {
    inner: Body,
    watcher: Option<W>,
}

impl<W: Watcher> WatchedBody<W> {
    fn end(&mut self, complete: bool) {
        if let Some(watcher) = self.watcher.take() {
            watcher.ended(complete);
        }
    }
}

impl<W: Watcher> HttpBody for WatchedBody<W> {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        let ended = match &polled {
            Poll::Ready(None) => true,
            Poll::Ready(Some(Ok(_))) => self.inner.is_end_stream(),
            _ => false,
        };
        if ended {
            self.end(true);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl<W: Watcher> Drop for WatchedBody<W> {
    fn drop(&mut self) {
        // An empty body is complete without ever being polled.
        let complete = self.inner.is_end_stream();
        self.end(complete);
    }
}
