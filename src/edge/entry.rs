//! The Worker's entry point, called by `entry.mjs`: [`prepare`] builds the isolate's gateway while
//! the module is evaluated, and [`serve`], for every request, turns the runtime's request into the
//! core's and runs the pipeline as far as it goes without waiting. An answer that needed no I/O (health, a cached HIT, a refusal, a chat turn
//! whose calls are all in the isolate's memory) is returned at once; otherwise the same run goes on
//! from where it stopped, on the futures executor, and a promise of the answer is returned. Nothing
//! is done twice, and no started request is dropped.

use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use worker::{event, Context, Env};

use super::body_first::body_first_limit;
use super::platform::{body_to_js, env_binding, WorkerPlatform, CONVERSATIONS_BINDING, COUNTERS_BINDING};
use super::{runtime, wire};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::gateway::{may_stream, serve as serve_request, serve_streamed, Gateway, Served};
use crate::http::{path_of, Body, GatewayRequest, GatewayResponse, RequestUrl};
use crate::platform::{start, Started};

/// The Worker variable holding the gateway's configuration.
const CONFIG_BINDING: &str = "GATEWAY_CONFIG";

thread_local! {
    /// The gateway built from this isolate's configuration (or why it could not be built).
    static GATEWAY: std::cell::OnceCell<Rc<Result<Gateway>>> = const { std::cell::OnceCell::new() };
    /// Whether the configuration's error or warnings were logged (on the isolate's first request).
    static REPORTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Serves `request`. `body` is `undefined` on the first call: for a chat message read body-first
/// (see `body_first`) the answer is then a number, the most bytes the entry module should read
/// before calling again with them (a `Uint8Array`, or `null` when it could not read them: the body
/// is then read here, as a stream). Otherwise the answer is a `Response`, or a promise of one.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn serve(request: web_sys::Request, body: JsValue, env: Env, ctx: worker::worker_sys::Context) -> JsValue {
    let gateway = isolate_gateway(&env);
    let head = runtime::request_head(&request);
    let (method, url, headers) = match head_parts(&head) {
        Ok(parts) => parts,
        Err(error) => return to_worker_response(GatewayResponse::from(error)).into(),
    };
    match test_panic_route(&env, path_of(url)) {
        Some(TestPanic::Now) => panic!("test panic requested"),
        Some(TestPanic::Async) => return wasm_bindgen_futures::future_to_promise(panic_after_an_await()).into(),
        None => {}
    }
    if body.is_undefined() {
        if let Some(limit) = body_first_limit(method, path_of(url)) {
            return JsValue::from(limit as f64);
        }
    }
    let body = match body.dyn_into::<js_sys::Uint8Array>() {
        Ok(bytes) => Body::Bytes(bytes.to_vec()),
        Err(_) => streamed_body(&request),
    };
    let request = match request_with_body(method, url, headers, body) {
        Ok(request) => request,
        Err(error) => return to_worker_response(GatewayResponse::from(error)).into(),
    };
    let ctx = Context::new(ctx);
    if may_stream(&request.method, request.url.as_str()) {
        let answer = async move { Ok(serve_while_writing(gateway, request, env, ctx).await.into()) };
        return wasm_bindgen_futures::future_to_promise(answer).into();
    }
    let answer = start(async move {
        let platform = WorkerPlatform::new(&ctx, &env);
        to_worker_response(serve_request(&gateway, request, &platform).await)
    });
    match answer {
        Started::Done(response) => response.into(),
        Started::Waiting(rest) => wasm_bindgen_futures::future_to_promise(async move { Ok(rest.await.into()) }).into(),
    }
}

/// The request's body as the runtime streams it.
fn streamed_body(request: &web_sys::Request) -> Body<web_sys::ReadableStream> {
    runtime::request_body(request).map_or(Body::Empty, Body::Stream)
}

/// Loads this isolate's gateway from `env` ahead of its first request: the entry module calls it when
/// the module is evaluated, so the configuration's parse (and the first compilation of the code it
/// runs) happens while the isolate starts, not while the first client waits. Without the
/// configuration in that `env`, the first request's `env` is used, as before.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn prepare(env: Env) {
    if env_binding(&env, CONFIG_BINDING).is_some() {
        loaded_gateway(&env);
    }
}

/// worker-build's generated default export calls this; `entry.mjs` calls [`serve`] instead, and only
/// that path streams replies and has the test panic routes.
#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let gateway = isolate_gateway(&env);
    let head = runtime::request_head(&request);
    let request = head_parts(&head)
        .and_then(|(method, url, headers)| request_with_body(method, url, headers, streamed_body(&request)));
    let response = match request {
        Ok(request) => serve_request(&gateway, request, &WorkerPlatform::new(&ctx, &env)).await,
        Err(error) => GatewayResponse::from(error),
    };
    Ok(to_worker_response(response))
}

/// Panics after an await, inside the future, as a real bug in an asynchronous phase would.
async fn panic_after_an_await() -> std::result::Result<JsValue, JsValue> {
    let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL)).await;
    panic!("test panic requested");
}

#[derive(PartialEq)]
enum TestPanic {
    Now,
    Async,
}

/// Routes that let the tests prove a panic gives a clean 500 and the next request still works.
/// They exist only when the operator sets GATEWAY_TEST_PANIC_ROUTE, which no deployment should.
fn test_panic_route(env: &Env, path: &str) -> Option<TestPanic> {
    if !path.starts_with("/__test/") || !js_sys::Reflect::has(env, &"GATEWAY_TEST_PANIC_ROUTE".into()).unwrap_or(false)
    {
        return None;
    }
    match path {
        "/__test/panic" => Some(TestPanic::Now),
        "/__test/panic-async" => Some(TestPanic::Async),
        _ => None,
    }
}

/// The isolate's gateway for a request. Its configuration's error or warnings are logged on the
/// isolate's first request, not when it loads: the platform keeps the log lines of requests, and a
/// line written while the module is evaluated may reach no log.
fn isolate_gateway(env: &Env) -> Rc<Result<Gateway>> {
    let gateway = loaded_gateway(env);
    if !REPORTED.replace(true) {
        match gateway.as_ref() {
            Ok(gateway) => {
                gateway.warnings().iter().for_each(|w| worker::console_warn!("{}", serde_json::json!({"warning": w})))
            }
            Err(error) => worker::console_error!("{}", serde_json::json!({"config_error": error.message})),
        }
    }
    gateway
}

fn loaded_gateway(env: &Env) -> Rc<Result<Gateway>> {
    GATEWAY.with(|cell| cell.get_or_init(|| Rc::new(load(env))).clone())
}

/// Serves a request whose answer may go out before its body is complete (a streamed chat reply):
/// in a task of its own, kept alive by `waitUntil`, which hands the answer back as soon as its head
/// is known and goes on writing its body.
async fn serve_while_writing(
    gateway: Rc<Result<Gateway>>,
    request: GatewayRequest<web_sys::ReadableStream>,
    env: Env,
    ctx: Context,
) -> web_sys::Response {
    let (answer, answered) = futures_channel::oneshot::channel();
    let ctx = Rc::new(ctx);
    let task_ctx = ctx.clone();
    ctx.wait_until(async move {
        let platform = WorkerPlatform::new(&task_ctx, &env);
        let Served { response, writing } = serve_streamed(&gateway, request, &platform).await;
        let _ = answer.send(to_worker_response(response));
        if let Some(writing) = writing {
            writing.await;
        }
    });
    // The task ends without answering only when it panicked, which the entry module answers.
    answered.await.unwrap_or_else(|_| {
        let error = GatewayError::new(ErrorKind::Internal, "The gateway failed while handling this request.");
        to_worker_response(GatewayResponse::from(error))
    })
}

fn load(env: &Env) -> Result<Gateway> {
    install_panic_hook();
    let binding = |name: &str| env_binding(env, name);
    let lookup = |name: &str| binding(name).and_then(|v| v.as_string());
    let raw = binding(CONFIG_BINDING).ok_or_else(|| {
        GatewayError::config(format!("{CONFIG_BINDING} is not set"))
            .with_details(serde_json::json!({"field": CONFIG_BINDING}))
    })?;
    let raw = match raw.as_string() {
        Some(text) => serde_json::Value::String(text),
        None => js_sys::JSON::stringify(&raw)
            .ok()
            .and_then(|text| text.as_string())
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| GatewayError::config(format!("{CONFIG_BINDING} must be a JSON string or an object")))?,
    };
    Gateway::load(raw, &lookup).and_then(|gateway| {
        if !gateway.limits().is_empty() && env_binding(env, COUNTERS_BINDING).is_none() {
            return Err(GatewayError::config(format!(
                "limits need the {COUNTERS_BINDING} Durable Object binding (class RateLimitCounter, see wrangler.toml)"
            ))
            .with_details(serde_json::json!({"field": "limits"})));
        }
        if gateway.chat().keeps_conversations() && env_binding(env, CONVERSATIONS_BINDING).is_none() {
            return Err(GatewayError::config(format!(
                "chat.conversations \"on\" needs the {CONVERSATIONS_BINDING} Durable Object binding (class \
                 Conversation, see wrangler.toml), or set it \"off\""
            ))
            .with_details(serde_json::json!({"field": "chat.conversations"})));
        }
        Ok(gateway)
    })
}

/// Logs panics with their message (console_error_panic_hook), then lets the worker crate's own
/// hook mark the instance for re-initialisation, so the next request gets a fresh one.
fn install_panic_hook() {
    let worker_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        console_error_panic_hook::hook(info);
        worker_hook(info);
    }));
}

/// The method, URL and header text of a head from `runtime::request_head`.
fn head_parts(head: &str) -> Result<(&str, &str, &str)> {
    wire::split_head(head).ok_or_else(|| GatewayError::bad_request("Invalid request."))
}

/// The core's request from the runtime's head (`head_parts`) and `body`.
fn request_with_body(
    method: &str,
    url: &str,
    headers: &str,
    body: Body<web_sys::ReadableStream>,
) -> Result<GatewayRequest<web_sys::ReadableStream>> {
    let url = RequestUrl::new(url).ok_or_else(|| GatewayError::bad_request("Invalid request URL."))?;
    Ok(GatewayRequest { method: method.to_string(), url, headers: wire::from_js(headers), body })
}

fn to_worker_response(response: GatewayResponse<web_sys::ReadableStream>) -> web_sys::Response {
    // A header that may not be sent never leaves (the core builds none; this is the last check).
    let (headers, _) = wire::to_js(&response.headers);
    // Text answers (the gateway's JSON, redacted telemetry) go out as a string: the runtime builds a
    // Response from a string for less than from bytes, and the bytes need no copy into a
    // Uint8Array. Only with a Content-Type, which a string body would otherwise set to text/plain.
    let text = match &response.body {
        Body::Bytes(bytes) if response.headers.get("content-type").is_some() => std::str::from_utf8(bytes).ok(),
        _ => None,
    };
    let body = match text {
        Some(text) => JsValue::from_str(text),
        None => body_to_js(response.body),
    };
    runtime::respond(response.status, &headers.text, &headers.ends, &body)
}
