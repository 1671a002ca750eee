//! The request pipeline, once for every route: route → (configuration loaded?) → authenticate →
//! authorize → handle (dialog or proxy) → CORS → log.

mod chat;
mod cors;
mod log;
mod ready;
pub mod route;

use serde_json::{json, Value};

use crate::auth::{authorize, Access, Authenticator, Credentials, Identity};
use crate::cache::TieredCache;
use crate::config::{Config, Exposure, ServiceConfig};
use crate::dialog::Dialog;
use crate::error::{GatewayError, Result, VERSION};
use crate::proxy::{self, CacheStatus, ProxyCall};
use crate::http::{GatewayRequest, GatewayResponse};
use crate::platform::Platform;
use route::Route;

pub use chat::parse_message;
pub use ready::{body_first_limit, serve_if_ready};

/// Everything built from the configuration, once per isolate.
pub struct Gateway {
    pub config: Config,
    auth: Option<Authenticator>,
    dialog: Dialog,
    /// The isolate's cache tiers (memory in front of the Cache API).
    cache: std::sync::Arc<TieredCache>,
}

impl Gateway {
    pub fn from_config(config: Config) -> Result<Gateway> {
        let auth = Authenticator::from_config(config.auth.as_ref())?;
        let dialog = Dialog::compile(&config)?;
        Ok(Gateway { config, auth, dialog, cache: Default::default() })
    }

    /// Parses and builds a gateway from `GATEWAY_CONFIG` (text or already-parsed JSON).
    pub fn load(raw: Value, lookup: &dyn Fn(&str) -> Option<String>) -> Result<Gateway> {
        let config = match raw {
            Value::String(text) => Config::parse_str(&text, lookup)?,
            other => Config::parse(other, lookup)?,
        };
        Gateway::from_config(config)
    }

    /// The startup warning of an open gateway (CONTRACT: logged once per start).
    pub fn warnings(&self) -> Vec<&'static str> {
        if self.auth.is_none() {
            vec!["no 'auth' section: every route of this gateway is open"]
        } else {
            vec![]
        }
    }

    fn service(&self, name: &str) -> Result<&ServiceConfig> {
        self.config
            .extensions
            .rest
            .service(name)
            .ok_or_else(|| GatewayError::not_found(format!("Unknown service '{name}'.")))
    }

    fn exposed(&self, name: &str, exposure: Exposure) -> Result<&ServiceConfig> {
        self.config
            .extensions
            .rest
            .service(name)
            .filter(|s| s.expose == Some(exposure))
            .ok_or_else(|| GatewayError::not_found(format!("No {} service named '{name}'.", exposure.as_str())))
    }

    fn timeout_ms(&self, service: &ServiceConfig) -> u64 {
        let seconds = service
            .timeout
            .or(self.config.extensions.rest.timeout)
            .map(|t| t.seconds())
            .filter(|s| *s > 0.0)
            .unwrap_or(crate::config::services::DEFAULT_TIMEOUT_SECONDS);
        (seconds * 1000.0).ceil() as u64
    }

    fn max_body_bytes(&self, service: &ServiceConfig) -> u64 {
        service.max_body_bytes.unwrap_or_else(|| self.config.max_body_bytes())
    }

    async fn identify<P: Platform>(&self, request: &GatewayRequest<P::Stream>, platform: &P) -> Identity {
        let Some(auth) = &self.auth else { return Identity::Open };
        let query_tokens =
            request.url.query_pairs().filter(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).collect();
        let credentials = Credentials::from_request(query_tokens, &request.headers);
        auth.authenticate(&credentials, platform).await
    }

    /// Handles a routed request; the answer and its cache status.
    async fn handle<P: Platform>(
        &self,
        route: Route,
        request: GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<(GatewayResponse<P::Stream>, Option<CacheStatus>)> {
        let ok = |value: Value| Ok((GatewayResponse::json(200, &value), None));
        match route {
            Route::Webhook => {
                let identity = self.identify(&request, platform).await;
                Ok((self.webhook(request, &identity, platform).await?, None))
            }
            Route::Service { exposure, service, path } => {
                let identity = self.identify(&request, platform).await;
                let service = self.exposed(&service, exposure)?;
                let accepts_oidc = exposure == Exposure::Inference;
                authorize(&identity, Access::Service { scope: service.scope.as_deref(), accepts_oidc })?;
                self.proxy(service, &path, &identity, request, platform).await
            }
            Route::TelemetryList => {
                let identity = self.identify(&request, platform).await;
                authorize(&identity, Access::Service { scope: None, accepts_oidc: false })?;
                let names: Vec<&str> = self
                    .config
                    .extensions
                    .rest
                    .services
                    .iter()
                    .filter(|s| s.expose == Some(Exposure::Telemetry))
                    .map(|s| s.name.as_str())
                    .collect();
                ok(json!({ "services": names }))
            }
            Route::Rasa { conversation_id } => {
                let identity = self.identify(&request, platform).await;
                authorize(&identity, Access::Rasa { conversation_id: conversation_id.as_deref() })?;
                let service = self
                    .config
                    .extensions
                    .rest
                    .services
                    .iter()
                    .find(|s| s.expose == Some(Exposure::Rasa))
                    .ok_or_else(|| GatewayError::not_found("No rasa service is exposed by this gateway."))?;
                let path = request.url.path().trim_start_matches('/').to_string();
                self.proxy(service, &path, &identity, request, platform).await
            }
            // Answered by `immediate` before any I/O.
            Route::Health
            | Route::Version
            | Route::WebhookStatus
            | Route::Preflight
            | Route::NotFound
            | Route::MethodNotAllowed => Err(GatewayError::not_found("The requested resource could not be found.")),
        }
    }

    async fn proxy<P: Platform>(
        &self,
        service: &ServiceConfig,
        path: &str,
        identity: &Identity,
        request: GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<(GatewayResponse<P::Stream>, Option<CacheStatus>)> {
        let access_class = if *identity == Identity::Open { "open" } else { "authorized" };
        let call = ProxyCall {
            service,
            path,
            timeout_ms: self.timeout_ms(service),
            max_body_bytes: self.max_body_bytes(service),
            access_class,
            cache: &self.cache,
        };
        let (mut response, status) = proxy::proxy(call, request, platform).await?;
        response.headers.set("x-cache-status", status.as_str());
        Ok((response, Some(status)))
    }
}

/// What the log line and the CORS headers need from the request, taken before it is consumed.
pub struct RequestSummary {
    pub method: String,
    pub path: String,
    pub origin: Option<String>,
    pub client_ip: Option<String>,
    pub started: f64,
}

impl RequestSummary {
    pub fn of<B>(request: &GatewayRequest<B>, started: f64) -> Self {
        RequestSummary {
            method: request.method.clone(),
            path: request.url.path().to_string(),
            origin: request.headers.get("origin").map(str::to_string),
            client_ip: request.client_ip().map(str::to_string),
            started,
        }
    }
}

/// The answers that need no I/O: health (even with a broken configuration), configuration errors,
/// version, the channel status, preflights, 404 and 405. `None` when the route needs the network.
fn immediate<B>(
    gateway: &Result<Gateway>,
    route: &Route,
    summary: &RequestSummary,
) -> Option<Result<GatewayResponse<B>>> {
    let ok = |value: Value| Some(Ok(GatewayResponse::json(200, &value)));
    match (route, gateway) {
        (Route::Health, _) => ok(json!({"status": "OK"})),
        (_, Err(config_error)) => Some(Err(config_error.clone())),
        (Route::Version, _) => ok(json!({"version": VERSION})),
        (Route::WebhookStatus, _) => ok(json!({"status": "ok"})),
        (Route::Preflight, Ok(gateway)) => Some(Ok(cors::preflight(&gateway.config.cors, summary.origin.as_deref()))),
        (Route::NotFound, _) => Some(Err(GatewayError::not_found("The requested resource could not be found."))),
        (Route::MethodNotAllowed, _) => Some(Err(GatewayError::new(
            crate::error::ErrorKind::MethodNotAllowed,
            format!("Method {} is not allowed here.", summary.method),
        ))),
        (route, Ok(_)) => {
            debug_assert!(route.needs_io());
            None
        }
    }
}

/// True when the request can be answered without I/O (by [`serve_immediately`]).
pub fn answers_immediately(gateway: &Result<Gateway>, method: &str, path: &str) -> bool {
    gateway.is_err() || !route::route(method, path).needs_io()
}

/// The synchronous phase: answers at once when the route needs no I/O (the edge calls this before
/// starting anything asynchronous, which costs more than such an answer itself).
pub fn serve_immediately<P: Platform>(
    gateway: &Result<Gateway>,
    summary: &RequestSummary,
    platform: &P,
) -> Option<GatewayResponse<P::Stream>> {
    let route = route::route(&summary.method, &summary.path);
    let outcome = immediate(gateway, &route, summary)?;
    Some(finish(gateway, summary, outcome.map(|response| (response, None)), platform))
}

/// Serves one request with the isolate's gateway (or its configuration error).
pub async fn serve<P: Platform>(
    gateway: &Result<Gateway>,
    request: GatewayRequest<P::Stream>,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let summary = RequestSummary::of(&request, platform.now());
    let route = route::route(&request.method, request.url.path());
    let outcome = match (immediate(gateway, &route, &summary), gateway) {
        (Some(answer), _) => answer.map(|response| (response, None)),
        (None, Ok(gateway)) => gateway.handle(route, request, platform).await,
        (None, Err(config_error)) => Err(config_error.clone()),
    };
    finish(gateway, &summary, outcome, platform)
}

/// The last phases of every request: the error body, CORS headers, the log line.
fn finish<P: Platform>(
    gateway: &Result<Gateway>,
    summary: &RequestSummary,
    outcome: Result<(GatewayResponse<P::Stream>, Option<CacheStatus>)>,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let (mut response, cache, error) = match outcome {
        Ok((response, cache)) => (response, cache, None),
        Err(error) => (GatewayResponse::from(error.clone()), None, Some(error)),
    };
    if let Ok(gateway) = gateway {
        cors::decorate(&gateway.config.cors, summary.origin.as_deref(), &mut response);
    }
    let line = log::RequestLog {
        method: &summary.method,
        path: &summary.path,
        status: response.status,
        duration_ms: ((platform.now() - summary.started) * 1000.0).max(0.0),
        client_ip: summary.client_ip.as_deref(),
        cache: cache.map(CacheStatus::as_str),
        error: error.as_ref().map(|e| e.message.as_str()),
    };
    platform.log(&line.line());
    response
}

