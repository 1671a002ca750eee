//! Bindings to `runtime.js`, the JavaScript half of the edge.

use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/src/edge/runtime.js")]
extern "C" {
    /// "<method> <url> <headers>", the headers each name and value preceded by its length (see
    /// `wire::split_head`).
    #[wasm_bindgen(js_name = requestHead)]
    pub fn request_head(request: &web_sys::Request) -> String;
    /// Resolves to the request's whole body, a `Uint8Array` read natively in one call, or a stream
    /// failing as that read did.
    #[wasm_bindgen(js_name = requestBytes)]
    pub fn request_bytes(request: &web_sys::Request) -> js_sys::Promise;
    /// The request's body, its declared length noted for `read_limited`.
    #[wasm_bindgen(js_name = requestBody)]
    pub fn request_body(request: &web_sys::Request) -> Option<web_sys::ReadableStream>;
    /// Headers as `wire::to_js` writes them: `text` and the `ends` of each name and value.
    pub fn respond(status: u16, text: &str, ends: &[u32], body: &JsValue) -> web_sys::Response;
    /// Resolves to the answer, `[status, headers, body]` (see `platform::answer_from_js`); an
    /// answer declaring at most `read_ahead_bytes`, uncompressed, is read with its head (`body`: a
    /// `Uint8Array`, or a stream failing as the read did). Rejects with "timeout", "too_large" (a
    /// limited body passed its limit) or "network: ..." (a string).
    pub fn send(
        method: &str,
        url: &str,
        text: &str,
        ends: &[u32],
        body: &JsValue,
        timeout_ms: f64,
        read_ahead_bytes: f64,
    ) -> js_sys::Promise;
    /// Resolves to a `Uint8Array`; rejects with "too_large", "timeout" (not ended within
    /// `timeout_ms`, which may be infinite) or "broken: ...".
    #[wasm_bindgen(js_name = readLimited)]
    pub fn read_limited(stream: &JsValue, limit: f64, timeout_ms: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = limitStream)]
    pub fn limit_stream(stream: &web_sys::ReadableStream, limit: f64) -> web_sys::ReadableStream;
    #[wasm_bindgen(js_name = cutWhenIdle)]
    pub fn cut_when_idle(stream: &web_sys::ReadableStream, idle_ms: f64) -> web_sys::ReadableStream;
    pub fn tee(stream: &web_sys::ReadableStream) -> js_sys::Array;
    /// `[writer, readable]`: a body written while it is sent.
    #[wasm_bindgen(js_name = openBody)]
    pub fn open_body() -> js_sys::Array;
    #[wasm_bindgen(js_name = writeBody)]
    pub fn write_body(writer: &JsValue, text: &str);
    #[wasm_bindgen(js_name = endBody)]
    pub fn end_body(writer: &JsValue);
    /// Resolves after `ms` milliseconds.
    pub fn sleep(ms: f64) -> js_sys::Promise;
    /// Resolves to the answer, as `send`'s, or null.
    #[wasm_bindgen(js_name = cacheGet)]
    pub fn cache_get(key: &str) -> js_sys::Promise;
    /// Resolves to a boolean.
    #[wasm_bindgen(js_name = verifySignature)]
    pub fn verify_signature(algorithm: &str, spki: &[u8], message: &[u8], signature: &[u8]) -> js_sys::Promise;
    /// Resolves to a `Float64Array` of four numbers per counter (NaN for one that failed).
    #[wasm_bindgen(js_name = spendLimits)]
    pub fn spend_limits(
        namespace: &JsValue,
        names: &str,
        requests: &[u32],
        periods: &[u32],
        timeout_ms: f64,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = giveBack)]
    pub fn give_back(namespace: &JsValue, names: &str, counted_at: &[f64]) -> js_sys::Promise;
    /// Resolves to `[token, record or null]`.
    #[wasm_bindgen(js_name = conversationBegin)]
    pub fn conversation_begin(namespace: &JsValue, id: &str, timeout_ms: f64) -> js_sys::Promise;
    /// Resolves to a boolean: whether the record was stored.
    #[wasm_bindgen(js_name = conversationCommit)]
    pub fn conversation_commit(
        namespace: &JsValue,
        id: &str,
        token: &str,
        record: &str,
        retention_seconds: f64,
    ) -> js_sys::Promise;
    #[wasm_bindgen(js_name = conversationAbort)]
    pub fn conversation_abort(namespace: &JsValue, id: &str, token: &str) -> js_sys::Promise;
    /// Resolves to the record or null.
    #[wasm_bindgen(js_name = conversationRead)]
    pub fn conversation_read(namespace: &JsValue, id: &str) -> js_sys::Promise;
    /// Adds a batch's rows (`Batch::to_json`) to the analytics store, and writes them to the
    /// Analytics Engine dataset `engine` unless it is null.
    #[wasm_bindgen(js_name = recordAnalytics)]
    pub fn record_analytics(store: &JsValue, engine: &JsValue, rows: &str) -> js_sys::Promise;
    /// Resolves to the stored rows of minutes `from..=to`, as `Batch::from_json` reads them.
    #[wasm_bindgen(js_name = readAnalytics)]
    pub fn read_analytics(store: &JsValue, from: f64, to: f64) -> js_sys::Promise;
    #[wasm_bindgen(js_name = cachePut)]
    pub fn cache_put(
        key: &str,
        status: u16,
        text: &str,
        ends: &[u32],
        body: &JsValue,
        ttl_seconds: f64,
    ) -> js_sys::Promise;
}
