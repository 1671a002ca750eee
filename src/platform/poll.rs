//! Running a future without an executor, for futures that may complete at once: the body-first
//! phase of the edge, and every native test (whose platform answers from memory).

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

/// The future's output if it completes without waiting.
pub fn poll_once<F: Future>(future: F) -> Option<F::Output> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}
