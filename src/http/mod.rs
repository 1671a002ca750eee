//! The ground floor: plain HTTP values the whole core works with. The edge converts the runtime's
//! requests and responses to and from these; nothing here knows a route, a service or a runtime.

mod basic_auth;
mod headers;
mod message;
mod outbound;
mod percent;
mod public_text;
mod request_url;

pub use basic_auth::basic_authorization;
pub use headers::{check_header, is_token, is_valid_value, value_scan, Headers, InvalidHeader};
pub use message::{Body, BodyError, BodyWriting, GatewayRequest, GatewayResponse};
pub use outbound::{is_origin_failure_status, is_small_answer, FetchFailure, OutboundRequest, SMALL_ANSWER_BYTES};
pub use percent::percent_decode;
pub use public_text::{public_text, public_url};
pub use request_url::{path_of, query_of, RequestUrl};
