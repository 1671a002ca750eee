//! One origin request per cache miss: the first request to miss an entry [leads](Lead) (it
//! fetches), identical ones arriving meanwhile [wait](Wait) for its outcome, each taking a copy.
//! The map holds only requests in flight, never an answer once given: it is a cache of work under
//! way, not a source of truth, and an isolate that loses it loses nothing.
//!
//! Without `Send` (an isolate is single-threaded). A waiting request checks the slot rather than
//! being woken by the leader: a wake would run the waiting request's code inside the leader's
//! request, where the Workers runtime forbids touching another request's I/O, so the waiting
//! happens on each waiting request's own timer.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;
use std::task::Poll;

/// The requests in flight by key, shared by the requests of an isolate.
pub struct InFlight<T> {
    slots: RefCell<HashMap<String, Rc<Slot<T>>>>,
}

impl<T> Default for InFlight<T> {
    fn default() -> Self {
        InFlight { slots: RefCell::new(HashMap::new()) }
    }
}

struct Slot<T> {
    outcome: RefCell<Outcome<T>>,
    waiting: Cell<usize>,
}

enum Outcome<T> {
    Pending,
    Done(T),
    /// The leader ended without an outcome to share: each waiting request goes on its own.
    Abandoned,
}

/// What a request does about its key.
pub enum Turn<'a, T> {
    Lead(Lead<'a, T>),
    Wait(Wait<T>),
}

impl<T: Clone> InFlight<T> {
    /// Leads when nothing is in flight for `key`, else waits for the request that is.
    pub fn join(&self, key: &str) -> Turn<'_, T> {
        if let Some(slot) = self.slots.borrow().get(key) {
            slot.waiting.set(slot.waiting.get() + 1);
            return Turn::Wait(Wait { slot: slot.clone() });
        }
        let slot = Rc::new(Slot { outcome: RefCell::new(Outcome::Pending), waiting: Cell::new(0) });
        self.slots.borrow_mut().insert(key.to_string(), slot.clone());
        Turn::Lead(Lead { in_flight: self, key: key.to_string(), slot })
    }

    /// How many keys are in flight.
    pub fn len(&self) -> usize {
        self.slots.borrow().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The one request that fetches. Dropped without [`finish`](Lead::finish) (an error on the way,
/// an answer that may not be shared), it lets the waiting requests go on their own.
pub struct Lead<'a, T> {
    in_flight: &'a InFlight<T>,
    key: String,
    slot: Rc<Slot<T>>,
}

impl<T> Lead<'_, T> {
    /// How many requests wait for this one now.
    pub fn waiting(&self) -> usize {
        self.slot.waiting.get()
    }

    /// Gives every waiting request a copy of `outcome`.
    pub fn finish(self, outcome: T) {
        *self.slot.outcome.borrow_mut() = Outcome::Done(outcome);
    }
}

impl<T> Drop for Lead<'_, T> {
    fn drop(&mut self) {
        let mut outcome = self.slot.outcome.borrow_mut();
        if matches!(*outcome, Outcome::Pending) {
            *outcome = Outcome::Abandoned;
        }
        // Whoever misses from now on leads again: the answer is in the cache, or was not to keep.
        let mut slots = self.in_flight.slots.borrow_mut();
        if slots.get(&self.key).is_some_and(|slot| Rc::ptr_eq(slot, &self.slot)) {
            slots.remove(&self.key);
        }
    }
}

/// A request waiting for the leader of its key.
pub struct Wait<T> {
    slot: Rc<Slot<T>>,
}

impl<T: Clone> Wait<T> {
    /// `Pending` while the leader works; then a copy of its outcome, or `None` when it had none
    /// to share.
    pub fn check(&self) -> Poll<Option<T>> {
        match &*self.slot.outcome.borrow() {
            Outcome::Pending => Poll::Pending,
            Outcome::Done(outcome) => Poll::Ready(Some(outcome.clone())),
            Outcome::Abandoned => Poll::Ready(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lead(turn: Turn<'_, u32>) -> Lead<'_, u32> {
        match turn {
            Turn::Lead(lead) => lead,
            Turn::Wait(_) => panic!("expected to lead"),
        }
    }

    fn wait(turn: Turn<'_, u32>) -> Wait<u32> {
        match turn {
            Turn::Wait(wait) => wait,
            Turn::Lead(_) => panic!("expected to wait"),
        }
    }

    #[test]
    fn the_first_leads_the_others_wait_and_each_gets_a_copy() {
        let in_flight = InFlight::default();
        let leader = lead(in_flight.join("a"));
        let (first, second) = (wait(in_flight.join("a")), wait(in_flight.join("a")));
        let other_key = lead(in_flight.join("b"));
        assert_eq!(leader.waiting(), 2);
        assert_eq!(other_key.waiting(), 0);
        assert_eq!(first.check(), Poll::Pending);
        leader.finish(7);
        assert_eq!((first.check(), second.check()), (Poll::Ready(Some(7)), Poll::Ready(Some(7))));
        // Finished, the key is free: the next miss leads (the answer is the cache's now).
        assert_eq!(in_flight.len(), 1);
        drop(lead(in_flight.join("a")));
        drop(other_key);
        assert!(in_flight.is_empty(), "the map holds only what is in flight");
    }

    #[test]
    fn a_leader_dropped_without_an_outcome_releases_the_waiting() {
        let in_flight = InFlight::default();
        let leader = lead(in_flight.join("a"));
        let waiting = wait(in_flight.join("a"));
        drop(leader);
        assert_eq!(waiting.check(), Poll::Ready(None));
        assert!(in_flight.is_empty());
        // A waiting request that goes on its own leads nothing: the next one leads afresh.
        let next = lead(in_flight.join("a"));
        assert_eq!(next.waiting(), 0);
    }
}
