//! What a routed request turns out to address once the gateway looks: an exposed service, the chat
//! channel with the message read, or the list of telemetry services. A target knows its access
//! rule, so that authorization is one decision for every route.

use crate::auth::Access;
use crate::chat::ChatMessage;
use crate::config::Exposure;
use crate::proxy::Upstream;

pub enum Target<'g> {
    /// The chat webhook; the message is read first because its `sender` decides access.
    Chat { message: ChatMessage, auth_required: bool },
    /// `/models/{service}/…` and `/pi/{service}/…`; `path` is below the service, percent-encoded.
    Service { exposure: Exposure, upstream: &'g Upstream, path: String },
    /// Rasa's routes, proxied with their path unchanged.
    Rasa { upstream: &'g Upstream, path: String, conversation_id: Option<String> },
    /// `GET /conversations/{id}/tracker` answered from the gateway's own conversation (no rasa
    /// service exposed).
    Tracker { conversation_id: String },
    /// `GET /pi/`: the telemetry services' names.
    TelemetryList,
    /// `GET /admin/analytics`.
    Analytics,
}

impl Target<'_> {
    /// The route's access rule (CONTRACT section 3).
    pub fn access(&self) -> Access<'_> {
        match self {
            Target::Chat { message, auth_required } => {
                Access::Webhook { sender: &message.sender, required: *auth_required }
            }
            Target::Service { exposure, upstream, .. } => {
                Access::Service { exposure: *exposure, name: upstream.name(), scope: upstream.service.scope.as_deref() }
            }
            Target::Rasa { conversation_id, .. } => Access::Rasa { conversation_id: conversation_id.as_deref() },
            Target::Tracker { conversation_id } => Access::Rasa { conversation_id: Some(conversation_id) },
            Target::TelemetryList => Access::TelemetryList,
            Target::Analytics => Access::Admin,
        }
    }

    /// Whose conversation the request belongs to: the key of `sender` rate limits.
    pub fn sender(&self) -> Option<&str> {
        match self {
            Target::Chat { message, .. } => Some(&message.sender),
            Target::Rasa { conversation_id, .. } => conversation_id.as_deref(),
            Target::Tracker { conversation_id } => Some(conversation_id),
            Target::Service { .. } | Target::TelemetryList | Target::Analytics => None,
        }
    }
}
