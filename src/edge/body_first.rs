//! The body-first read of a chat message: the entry module reads a webhook's (declared, bounded)
//! body natively, in one call, and hands it to `entry::serve` as bytes, so that a turn whose calls
//! are all in the isolate's memory completes without waiting, and one that needs I/O goes on with
//! those bytes.

use crate::chat::MAX_WEBHOOK_BYTES;
use crate::gateway::route::{route, GuardedRoute, Route};

/// The byte limit under which the entry module should read the body first (a chat message's), or
/// `None` when the request's body, if any, is read here as a stream (a proxied upload). Reading it
/// natively in one call costs less than reading it chunk by chunk from Rust, whatever the turn
/// then needs.
pub fn body_first_limit(method: &str, path: &str) -> Option<usize> {
    (route(method, path) == Route::Guarded(GuardedRoute::Webhook)).then_some(MAX_WEBHOOK_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_chat_messages_are_read_first() {
        assert_eq!(body_first_limit("POST", "/webhooks/rest/webhook"), Some(MAX_WEBHOOK_BYTES));
        assert_eq!(body_first_limit("GET", "/health"), None);
        assert_eq!(body_first_limit("POST", "/models/api/upload"), None);
        assert_eq!(body_first_limit("GET", "/webhooks/rest/webhook"), None);
    }
}
