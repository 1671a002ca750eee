//! Running a future as far as it goes without waiting: the edge serves every request this way, so
//! that an answer needing no I/O leaves at once, without an executor's cost, and one that waits goes
//! on from where it stopped.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

/// Where a future stands after [`start`].
pub enum Started<'a, T> {
    /// It completed without waiting.
    Done(T),
    /// It waits for something: polled again by an executor, it goes on from where it stopped, and
    /// each pending operation then takes that executor's waker.
    Waiting(Pin<Box<dyn Future<Output = T> + 'a>>),
}

/// Polls `future` once, with no waker (none is needed by a future that completes now). Sound for
/// futures whose pending operations take the waker on every poll, as a `JsFuture`, a channel's
/// receiver and the `poll_fn`s of this crate do: one that kept the first waker would never be woken.
pub fn start<'a, T>(future: impl Future<Output = T> + 'a) -> Started<'a, T> {
    let mut future: Pin<Box<dyn Future<Output = T> + 'a>> = Box::pin(future);
    match future.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(output) => Started::Done(output),
        Poll::Pending => Started::Waiting(future),
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::platform::memory::block_on;

    /// Pending on its first poll, ready on the next.
    async fn one_wait() {
        let mut waited = false;
        std::future::poll_fn(|_| if std::mem::replace(&mut waited, true) { Poll::Ready(()) } else { Poll::Pending })
            .await
    }

    #[test]
    fn a_future_that_needs_no_waiting_is_done_at_once() {
        assert!(matches!(start(async { 7 }), Started::Done(7)));
    }

    #[test]
    fn a_waiting_future_goes_on_from_where_it_stopped() {
        let before = Cell::new(0);
        let after = Cell::new(0);
        let started = start(async {
            before.set(before.get() + 1); // a request sent, say
            one_wait().await;
            after.set(after.get() + 1);
            "answered"
        });
        let Started::Waiting(rest) = started else { panic!("it waits") };
        assert_eq!((before.get(), after.get()), (1, 0));
        assert_eq!(block_on(rest), "answered");
        assert_eq!((before.get(), after.get()), (1, 1), "nothing before the wait ran twice");
    }
}
