//! Bindings to `runtime.js`, the JavaScript half of the edge.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/edge/runtime.js")]
extern "C" {
    /// All headers as "name:value" lines.
    #[wasm_bindgen(js_name = headerText)]
    pub fn header_text(headers: &web_sys::Headers) -> String;
    /// The request's body, its declared length noted for `read_limited`.
    #[wasm_bindgen(js_name = requestBody)]
    pub fn request_body(request: &web_sys::Request) -> Option<web_sys::ReadableStream>;
    pub fn respond(status: u16, headers: &str, body: &JsValue) -> web_sys::Response;
    /// Rejects with "timeout" or "network: ..." (a string).
    pub fn send(method: &str, url: &str, headers: &str, body: &JsValue, timeout_ms: f64) -> js_sys::Promise;
    /// Resolves to a `Uint8Array`; rejects with "too_large" or "broken: ...".
    #[wasm_bindgen(js_name = readLimited)]
    pub fn read_limited(stream: &JsValue, limit: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = limitStream)]
    pub fn limit_stream(
        stream: &web_sys::ReadableStream,
        limit: f64,
        state: &js_sys::Object,
    ) -> web_sys::ReadableStream;
    pub fn tee(stream: &web_sys::ReadableStream) -> js_sys::Array;
    /// Resolves to a `Response` or null.
    #[wasm_bindgen(js_name = cacheGet)]
    pub fn cache_get(key: &str) -> js_sys::Promise;
    /// Resolves to a boolean.
    #[wasm_bindgen(js_name = verifySignature)]
    pub fn verify_signature(algorithm: &str, spki: &[u8], message: &[u8], signature: &[u8]) -> js_sys::Promise;
    #[wasm_bindgen(js_name = cachePut)]
    pub fn cache_put(key: &str, status: u16, headers: &str, body: &JsValue, ttl_seconds: f64) -> js_sys::Promise;
}
