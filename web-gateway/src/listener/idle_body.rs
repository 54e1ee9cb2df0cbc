//! A request body that fails when its sender goes quiet for too long.
//!
//! hyper has a timeout for reading headers but none for a body: a `POST
//! /upload` that stops after 1 KiB would hold its upload slot and its partial
//! file forever. [`IdleBody`] restarts a timer at every frame; when it fires,
//! the body yields an error, the handler's read fails (an upload answers
//! `400` and deletes its temporary file) and the connection is closed.

use std::{
    pin::Pin,
    task::{Context, Poll, ready},
    time::Duration,
};

use axum::body::Body;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

/// The error an idle body ends with.
#[derive(Debug, thiserror::Error)]
#[error("the request body sent nothing for {0:?}")]
pub struct BodyIdle(pub Duration);

/// `inner`, cut after `idle` without a frame.
pub struct IdleBody {
    inner: Body,
    idle: Duration,
    /// Reset at every frame; boxed so the body stays `Unpin`.
    timer: Pin<Box<Sleep>>,
}

impl IdleBody {
    pub fn new(inner: Body, idle: Duration) -> IdleBody {
        IdleBody {
            inner,
            idle,
            timer: Box::pin(tokio::time::sleep(idle)),
        }
    }
}

impl http_body::Body for IdleBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            let deadline = Instant::now() + this.idle;
            this.timer.as_mut().reset(deadline);
            return Poll::Ready(frame);
        }
        ready!(this.timer.as_mut().poll(cx));
        Poll::Ready(Some(Err(axum::Error::new(BodyIdle(this.idle)))))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
