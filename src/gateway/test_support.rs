//! What the gateway's tests (and the proxy's, which go through the whole gateway) share: one
//! request served on the in-memory platform.

use super::{serve, Gateway};
use crate::error::Result;
use crate::http::GatewayResponse;
use crate::platform::memory::{block_on, MemoryPlatform, MemoryStream};

/// Serves `method path` with `headers` and `body` to completion.
pub fn send(
    gateway: &Result<Gateway>,
    platform: &MemoryPlatform,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> GatewayResponse<MemoryStream> {
    let request = MemoryPlatform::request(method, &format!("https://gw.example{path}"), headers, body);
    block_on(serve(gateway, request, platform))
}
