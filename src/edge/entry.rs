//! The Worker's entry points, called by `entry.mjs`: the synchronous phase (`fetch_now`), the
//! body-first phase (`fetch_read`) and the asynchronous handler (`fetch`). Each loads the
//! isolate's gateway once, turns the runtime's request into the core's and back, and serves it.

use std::rc::Rc;

use wasm_bindgen::JsValue;
use worker::{event, Context, Env};

use super::body_first::{body_first_limit, serve_if_ready};
use super::platform::{body_to_js, headers_from_js, WorkerPlatform};
use super::{runtime, wire};
use crate::error::{ErrorKind, GatewayError, Result};
use crate::gateway::route::{path_of, query_of};
use crate::gateway::{
    answers_immediately, may_stream, serve, serve_immediately, serve_streamed, Gateway, RequestSummary, Served,
};
use crate::http::{Body, GatewayRequest, GatewayResponse};

thread_local! {
    /// The gateway built from this isolate's configuration (or why it could not be built).
    static GATEWAY: std::cell::OnceCell<Rc<Result<Gateway>>> = const { std::cell::OnceCell::new() };
}

/// The synchronous phase, called by `entry.mjs` before `fetch`: answers at once when the route needs
/// no I/O, without the cost of starting an asynchronous handler. Otherwise a number asks the entry
/// module to read the body first (at most that many bytes) and call `fetch_read`; `undefined`
/// hands over to `fetch`.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch_now(request: &web_sys::Request, env: &Env, ctx: worker::worker_sys::Context) -> JsValue {
    let gateway = isolate_gateway(env);
    let url = request.url();
    let path = path_of(&url);
    match test_panic_route(env, path) {
        Some(TestPanic::Now) => panic!("test panic requested"),
        Some(TestPanic::Async) => return JsValue::UNDEFINED,
        None => {}
    }
    let method = request.method();
    if !answers_immediately(&gateway, &method, path) {
        return match body_first_limit(&gateway, &method, path, query_of(&url)) {
            Some(limit) => JsValue::from(limit as f64),
            None => JsValue::UNDEFINED, // the asynchronous handler reads everything itself
        };
    }
    let headers = request.headers();
    let summary = RequestSummary {
        method,
        path: path.to_string(),
        origin: headers.get("origin").ok().flatten(),
        client_ip: headers.get("cf-connecting-ip").ok().flatten(),
        started: js_sys::Date::now() / 1000.0,
    };
    let ctx = Context::new(ctx);
    let platform = WorkerPlatform::new(&ctx, env);
    serve_immediately(&gateway, summary, &platform)
        .map_or(JsValue::UNDEFINED, |response| to_worker_response(response).into())
}

/// The body-first phase (see `body_first`): `body` is the request's whole body, read by the
/// entry module. Answers when that needs no I/O; `None` hands over to `fetch`, which the entry
/// module then gives a copy of the request carrying the same bytes.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn fetch_read(
    request: &web_sys::Request,
    body: Vec<u8>,
    env: &Env,
    ctx: worker::worker_sys::Context,
) -> Option<web_sys::Response> {
    let gateway = isolate_gateway(env);
    let request = request_with_body(request, &request.url(), Body::Bytes(body)).ok()?;
    let ctx = Context::new(ctx);
    serve_if_ready(&gateway, request, &WorkerPlatform::new(&ctx, env)).map(to_worker_response)
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

fn isolate_gateway(env: &Env) -> Rc<Result<Gateway>> {
    GATEWAY.with(|cell| cell.get_or_init(|| Rc::new(load(env))).clone())
}

#[event(fetch)]
async fn fetch(request: web_sys::Request, env: Env, ctx: Context) -> worker::Result<web_sys::Response> {
    let gateway = isolate_gateway(&env);
    let url = request.url();
    if test_panic_route(&env, path_of(&url)) == Some(TestPanic::Async) {
        // Panic after an await, inside the future, as a real bug in an async phase would.
        let _ = wasm_bindgen_futures::JsFuture::from(js_sys::Promise::resolve(&JsValue::NULL)).await;
        panic!("test panic requested");
    }
    let request = match to_gateway_request(&request, &url) {
        Ok(request) => request,
        Err(error) => return Ok(to_worker_response(GatewayResponse::from(error))),
    };
    if may_stream(&request.method, &url) {
        return Ok(serve_while_writing(gateway, request, env, ctx).await);
    }
    let platform = WorkerPlatform::new(&ctx, &env)
        .with_counters(env_binding(&env, COUNTERS_BINDING))
        .with_conversations(env_binding(&env, CONVERSATIONS_BINDING));
    let response = serve(&gateway, request, &platform).await;
    Ok(to_worker_response(response))
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
        let platform = WorkerPlatform::new(&task_ctx, &env)
            .with_counters(env_binding(&env, COUNTERS_BINDING))
            .with_conversations(env_binding(&env, CONVERSATIONS_BINDING));
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
    let raw = binding("GATEWAY_CONFIG").ok_or_else(|| {
        GatewayError::config("GATEWAY_CONFIG is not set").with_details(serde_json::json!({"field": "GATEWAY_CONFIG"}))
    })?;
    let raw = match raw.as_string() {
        Some(text) => serde_json::Value::String(text),
        None => js_sys::JSON::stringify(&raw)
            .ok()
            .and_then(|text| text.as_string())
            .and_then(|text| serde_json::from_str(&text).ok())
            .ok_or_else(|| GatewayError::config("GATEWAY_CONFIG must be a JSON string or an object"))?,
    };
    let loaded = Gateway::load(raw, &lookup).and_then(|gateway| {
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
    });
    match &loaded {
        Ok(gateway) => {
            gateway.warnings().iter().for_each(|w| worker::console_warn!("{}", serde_json::json!({"warning": w})))
        }
        Err(error) => worker::console_error!("{}", serde_json::json!({"config_error": error.message})),
    }
    loaded
}

/// The binding of the rate-limit counters' Durable Object namespace.
const COUNTERS_BINDING: &str = "RATE_LIMITS";
/// The binding of the conversations' Durable Object namespace.
const CONVERSATIONS_BINDING: &str = "CONVERSATIONS";

fn env_binding(env: &Env, name: &str) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(name)).ok().filter(|v| !v.is_undefined())
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

/// `url` is the request's URL, read once by the caller.
fn to_gateway_request(request: &web_sys::Request, url: &str) -> Result<GatewayRequest<web_sys::ReadableStream>> {
    let body = runtime::request_body(request).map_or(Body::Empty, Body::Stream);
    request_with_body(request, url, body)
}

fn request_with_body(
    request: &web_sys::Request,
    url: &str,
    body: Body<web_sys::ReadableStream>,
) -> Result<GatewayRequest<web_sys::ReadableStream>> {
    let url = url::Url::parse(url).map_err(|_| GatewayError::bad_request("Invalid request URL."))?;
    Ok(GatewayRequest { method: request.method(), url, headers: headers_from_js(&request.headers()), body })
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
