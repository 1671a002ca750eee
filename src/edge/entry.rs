//! The Worker's entry point, called by `entry.mjs`: [`prepare`] builds the isolate's gateway while
//! the module is evaluated, and [`serve`], for every request, turns the runtime's request into the
//! core's and runs the pipeline as a task (see `tasks`): an answer that needed no I/O (health, a
//! cached HIT, a refusal) is returned at once, else a promise of it, and the task goes on each time
//! the runtime settles an operation it waits on. Nothing is done twice, and no started request is
//! dropped.

use std::rc::Rc;

use wasm_bindgen::{JsCast, JsValue};
use worker::worker_sys::Context;
use worker::Env;

use super::body_first::reads_body_first;
use super::platform::{body_to_js, env_binding, WorkerPlatform, CONVERSATIONS_BINDING, COUNTERS_BINDING};
use super::{runtime, tasks, wire};
use crate::error::{GatewayError, Result};
use crate::gateway::{serve_streamed, Gateway, Served};
use crate::http::{path_of, Body, GatewayRequest, GatewayResponse, RequestUrl};

/// The Worker variable holding the gateway's configuration.
const CONFIG_BINDING: &str = "GATEWAY_CONFIG";

thread_local! {
    /// The gateway built from this isolate's configuration (or why it could not be built).
    static GATEWAY: std::cell::OnceCell<Rc<Result<Gateway>>> = const { std::cell::OnceCell::new() };
    /// Whether the configuration's error or warnings were logged (on the isolate's first request).
    static REPORTED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Serves `request`: a `Response`, or a promise of one.
#[wasm_bindgen::prelude::wasm_bindgen]
pub fn serve(request: web_sys::Request, env: Env, ctx: Context) -> JsValue {
    let gateway = isolate_gateway(&env);
    let head = runtime::request_head(&request);
    let core = match head_parts(&head) {
        Ok((method, url, headers)) => {
            match test_panic_route(&env, path_of(url)) {
                Some(TestPanic::Now) => panic!("test panic requested"),
                Some(TestPanic::Async) => return tasks::run(panic_after_an_await()),
                None => {}
            }
            core_request(method, url, headers)
        }
        Err(error) => Err(error),
    };
    let mut core = match core {
        Ok(core) => core,
        Err(error) => return to_worker_response(GatewayResponse::from(error)).into(),
    };
    tasks::run(async move {
        core.body = body_of(&request, &core).await;
        let platform = WorkerPlatform::new(&ctx, &env);
        let Served { response, writing } = serve_streamed(&gateway, core, &platform).await;
        let response = JsValue::from(to_worker_response(response));
        let Some(writing) = writing else { return response };
        // A streamed reply: the client gets the answer now, and the task goes on writing its body.
        tasks::answer(response, &ctx);
        writing.await;
        JsValue::NULL
    })
}

/// The request's body: a chat message's read natively first (see `body_first`), else as the
/// runtime streams it. A body whose first read failed is a stream that fails the core's read the
/// same way (the request's own stream is spent by then).
async fn body_of(
    request: &web_sys::Request,
    core: &GatewayRequest<web_sys::ReadableStream>,
) -> Body<web_sys::ReadableStream> {
    if !reads_body_first(&core.method, core.url.path(), &core.headers) {
        return streamed_body(request);
    }
    // `requestBytes` never rejects.
    let read = tasks::awaited(runtime::request_bytes(request)).await.unwrap_or_default();
    match read.dyn_into::<js_sys::Uint8Array>() {
        Ok(bytes) => Body::Bytes(bytes.to_vec()),
        Err(failing) => Body::Stream(failing.unchecked_into()),
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

/// Panics after an await, inside the task, as a real bug after an operation settled would.
async fn panic_after_an_await() -> JsValue {
    let _ = tasks::awaited(js_sys::Promise::resolve(&JsValue::NULL)).await;
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

/// The core's request from the runtime's head (`head_parts`), its body still to come.
fn core_request(method: &str, url: &str, headers: &str) -> Result<GatewayRequest<web_sys::ReadableStream>> {
    let url = RequestUrl::new(url).ok_or_else(|| GatewayError::bad_request("Invalid request URL."))?;
    Ok(GatewayRequest { method: method.to_string(), url, headers: wire::from_js(headers), body: Body::Empty })
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
