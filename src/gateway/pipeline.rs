//! The one road every request takes, in named phases sharing one [`RequestContext`] (as Pingora's
//! `ProxyHttp`):
//!
//! 1. **route**: method and path name a [`Route`]; a local route (health, version, preflight, 404,
//!    405, or any route while the configuration is broken) is answered at once, without I/O;
//! 2. **authenticate**: the caller's credentials become an [`Identity`], once;
//! 3. **resolve**: the route's [`Target`] is looked up (the service, or the chat message);
//! 4. **authorize**: one decision from the target's access rule;
//! 5. **limit**: the rate limits that match spend from their budgets (a request refused earlier
//!    spends only from those keyed by the client's address);
//! 6. **handle**: the chat channel answers, or the proxy forwards;
//! 7. **respond**: errors get Rasa's body, answers get the CORS headers;
//! 8. **log**: one line, and the request counted in the isolate's analytics.
//!
//! A streamed chat reply is [`Served`] before its body is complete: phase 7 decorates its head,
//! and phase 8 waits until the body is written.

use serde_json::json;

use super::context::{RequestContext, RequestSummary};
use super::route::{GuardedRoute, LocalRoute, Route};
use super::target::Target;
use super::{analytics, cors, log, Gateway};
use crate::auth::{authorize, Access, Credentials, Identity};
use crate::cache::CacheStatus;
use crate::chat::read_message;
use crate::config::{Exposure, WebhookAuth};
use crate::error::{ErrorKind, GatewayError, Result, VERSION};
use crate::http::{Body, BodyWriting, GatewayRequest, GatewayResponse};
use crate::limits::{LimitedRoute, RequestFacts};
use crate::platform::{Platform, RequestRecord};
use crate::proxy::{self, ProxyCall};

/// Serves one request with the isolate's gateway (or its configuration error), to its end: a
/// streamed reply's body is written by the time this returns.
pub async fn serve<P: Platform>(
    gateway: &Result<Gateway>,
    request: GatewayRequest<P::Stream>,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let Served { response, writing } = serve_streamed(gateway, request, platform).await;
    if let Some(writing) = writing {
        writing.await;
    }
    response
}

/// A request's answer and, for one sent before its body is complete (a streamed chat reply), the
/// work that writes the body and then the request's log line.
pub struct Served<'a, B> {
    pub response: GatewayResponse<B>,
    pub writing: Option<std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>>,
}

/// [`serve`] for a runtime that can send an answer while its body is still being written: the
/// answer as soon as its head is known, and the rest to run after.
pub async fn serve_streamed<'a, P: Platform>(
    gateway: &'a Result<Gateway>,
    request: GatewayRequest<P::Stream>,
    platform: &'a P,
) -> Served<'a, P::Stream> {
    let mut context = RequestContext::new(RequestSummary::of(&request, platform.now()));
    let outcome = match route_phase(gateway, &context) {
        Routed::Answered(outcome) => outcome.map(|response| (response, None)),
        Routed::Guarded(gateway, route) => gateway.process(&mut context, route, request, platform).await,
    };
    match outcome {
        Ok((response, Some(writing))) => {
            let (response, _) = respond(gateway, &context, Ok(response));
            let status = response.status;
            let writing = async move {
                let error = writing.await;
                log(gateway, &context, status, error.as_ref(), platform);
            };
            Served { response, writing: Some(Box::pin(writing)) }
        }
        outcome => Served {
            response: finish(gateway, &context, outcome.map(|(response, _)| response), platform),
            writing: None,
        },
    }
}

/// An answer, and the work that writes the rest of its body when it is sent before it is complete.
type Handled<'a, B> = (GatewayResponse<B>, Option<BodyWriting<'a>>);

/// Where phase 1 leaves a request.
enum Routed<'g, B> {
    /// Answered without I/O (a local route, or the configuration error).
    Answered(Result<GatewayResponse<B>>),
    /// On to the guarded phases.
    Guarded(&'g Gateway, GuardedRoute),
}

/// Phase 1: the route, and the answers that need nothing else.
fn route_phase<'g, B>(gateway: &'g Result<Gateway>, context: &RequestContext) -> Routed<'g, B> {
    match (&context.route, gateway) {
        (Route::Local(local), _) => Routed::Answered(answer_locally(gateway, local, &context.summary)),
        (Route::Guarded(_), Err(config_error)) => Routed::Answered(Err(config_error.clone())),
        (Route::Guarded(route), Ok(gateway)) => Routed::Guarded(gateway, route.clone()),
    }
}

/// The local routes' answers. Health answers even with a broken configuration; every other route
/// then answers the configuration error.
fn answer_locally<B>(
    gateway: &Result<Gateway>,
    route: &LocalRoute,
    summary: &RequestSummary,
) -> Result<GatewayResponse<B>> {
    let ok = |value: serde_json::Value| Ok(GatewayResponse::json(200, &value));
    match (route, gateway) {
        (LocalRoute::Health, _) => ok(json!({"status": "OK"})),
        (_, Err(config_error)) => Err(config_error.clone()),
        (LocalRoute::Version, _) => ok(json!({"version": VERSION})),
        (LocalRoute::WebhookStatus, _) => ok(json!({"status": "ok"})),
        (LocalRoute::Preflight, Ok(gateway)) => Ok(cors::preflight(&gateway.config.cors, summary.origin.as_deref())),
        (LocalRoute::NotFound, _) => Err(GatewayError::not_found("The requested resource could not be found.")),
        (LocalRoute::MethodNotAllowed { allow }, _) => Err(GatewayError::new(
            ErrorKind::MethodNotAllowed,
            format!("Method {} is not allowed here.", summary.method),
        )
        .with_header("allow", *allow)),
    }
}

impl Gateway {
    /// Phases 2 to 6 of a guarded route.
    async fn process<'a, P: Platform>(
        &'a self,
        context: &mut RequestContext,
        route: GuardedRoute,
        mut request: GatewayRequest<P::Stream>,
        platform: &'a P,
    ) -> Result<Handled<'a, P::Stream>> {
        if self.limits.is_empty() {
            let target = self.admit(context, route, &mut request, platform).await?;
            return self.handle(context, target, request, platform).await;
        }
        let limited = route.limited();
        match self.admit(context, route, &mut request, platform).await {
            Ok(target) => {
                self.limit(context, &limited, target.sender(), false, platform).await?;
                self.handle(context, target, request, platform).await
            }
            Err(refusal) => {
                // Guessing keys or names is limited too, by the client's address.
                self.limit(context, &limited, None, true, platform).await?;
                Err(refusal)
            }
        }
    }

    /// Phases 2 to 4: who calls, what they address, and whether they may.
    async fn admit<P: Platform>(
        &self,
        context: &mut RequestContext,
        route: GuardedRoute,
        request: &mut GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<Target<'_>> {
        context.identity = self.authenticate(request, platform).await;
        // Before anything is looked up: an anonymous caller learns nothing of which services exist.
        if context.identity == Identity::Anonymous && !route.admits_anonymous() {
            return Err(GatewayError::not_authenticated());
        }
        if let Identity::Consumer(_) = &context.identity {
            // A consumer learns nothing of the services it may not call: it is refused before the
            // lookup too, by the same decision (a consumer's needs no scope).
            let before_lookup = match &route {
                GuardedRoute::Service { exposure, service, .. } => {
                    Some(Access::Service { exposure: *exposure, name: service, scope: None })
                }
                GuardedRoute::Rasa { conversation_id } => {
                    Some(Access::Rasa { conversation_id: conversation_id.as_deref() })
                }
                GuardedRoute::TelemetryList | GuardedRoute::Webhook | GuardedRoute::Analytics => None,
            };
            if let Some(access) = before_lookup {
                authorize(&context.identity, access)?;
            }
        }
        let target = self.resolve(route, request, platform).await?;
        authorize(&context.identity, target.access())?;
        Ok(target)
    }

    /// Phase 5: spends from the matching limits; the answer carries their headers, or is a 429.
    async fn limit<P: Platform>(
        &self,
        context: &mut RequestContext,
        route: &LimitedRoute,
        sender: Option<&str>,
        refused: bool,
        platform: &P,
    ) -> Result<()> {
        let facts = RequestFacts {
            route,
            identity: &context.identity,
            client_ip: context.summary.client_ip.as_deref(),
            sender,
        };
        let verdict = self.limits.check(&facts, refused, platform).await;
        context.rate_limit_headers = verdict.headers;
        verdict.refusal.map_or(Ok(()), Err)
    }

    /// Phase 2: who is calling. Without an `auth` section, everyone is [`Identity::Open`].
    async fn authenticate<P: Platform>(&self, request: &GatewayRequest<P::Stream>, platform: &P) -> Identity {
        let Some(auth) = &self.auth else { return Identity::Open };
        let query_tokens =
            request.url.query_pairs().filter(|(k, _)| k == "token").map(|(_, v)| v.into_owned()).collect();
        let credentials = Credentials::from_request(query_tokens, &request.headers);
        auth.authenticate(&credentials, platform).await
    }

    /// Phase 3: what the route addresses. The chat message is read here: its sender decides access.
    async fn resolve<P: Platform>(
        &self,
        route: GuardedRoute,
        request: &mut GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<Target<'_>> {
        match route {
            GuardedRoute::Webhook => {
                let message = read_message(std::mem::replace(&mut request.body, Body::Empty), platform).await?;
                let auth_required = self.config.auth.as_ref().is_some_and(|a| a.webhook == WebhookAuth::Required);
                Ok(Target::Chat { message, auth_required })
            }
            GuardedRoute::Service { exposure, service, path } => {
                let upstream =
                    self.exposed(exposure).find(|upstream| upstream.name().eq_ignore_ascii_case(&service)).ok_or_else(
                        || GatewayError::not_found(format!("No {} service named '{service}'.", exposure.as_str())),
                    )?;
                Ok(Target::Service { exposure, upstream, path })
            }
            GuardedRoute::Rasa { conversation_id } => {
                let path = request.url.path().trim_start_matches('/').to_string();
                let Some(upstream) = self.exposed(Exposure::Rasa).next() else {
                    // Without Rasa, the gateway's own conversations answer their trackers.
                    let tracker = matches!(request.method.as_str(), "GET" | "HEAD")
                        && path.splitn(3, '/').nth(2) == Some("tracker");
                    return match conversation_id {
                        Some(conversation_id) if tracker && self.chat.keeps_conversations() => {
                            Ok(Target::Tracker { conversation_id })
                        }
                        _ => Err(GatewayError::not_found("No rasa service is exposed by this gateway.")),
                    };
                };
                Ok(Target::Rasa { upstream, path, conversation_id })
            }
            GuardedRoute::TelemetryList => Ok(Target::TelemetryList),
            GuardedRoute::Analytics => Ok(Target::Analytics),
        }
    }

    /// Phase 6: the answer itself.
    async fn handle<'a, P: Platform>(
        &'a self,
        context: &mut RequestContext,
        target: Target<'_>,
        request: GatewayRequest<P::Stream>,
        platform: &'a P,
    ) -> Result<Handled<'a, P::Stream>> {
        let response = match target {
            Target::Chat { message, .. } => {
                return self.chat.answer(message, request, context.identity.consumer(), platform).await
            }
            Target::Service { upstream, path, .. } | Target::Rasa { upstream, path, .. } => {
                // An open gateway's answers are never shared with authorized callers', nor the
                // reverse; a consumer's are its own (its origin sees its name and may answer by it).
                let consumer = context.identity.consumer();
                let access_class = match (&context.identity, consumer) {
                    (_, Some(name)) => format!("consumer/{}", name.to_lowercase()),
                    (Identity::Open, None) => "open".to_string(),
                    _ => "authorized".to_string(),
                };
                let call = ProxyCall {
                    upstream,
                    path: &path,
                    access_class: &access_class,
                    consumer,
                    cache: &self.cache,
                    in_flight: Some(&self.in_flight),
                };
                let (mut response, status) = proxy::proxy(call, request, platform).await?;
                response.headers.set("x-cache-status", status.as_str());
                context.cache_status = Some(status);
                response
            }
            Target::Tracker { conversation_id } => self.chat.tracker(&conversation_id, platform).await?,
            Target::TelemetryList => {
                // Only what the caller may call, by the same decision as the services' own routes.
                let names: Vec<&str> = self
                    .exposed(Exposure::Telemetry)
                    .filter(|upstream| {
                        let scope = upstream.service.scope.as_deref();
                        let access = Access::Service { exposure: Exposure::Telemetry, name: upstream.name(), scope };
                        authorize(&context.identity, access).is_ok()
                    })
                    .map(|upstream| upstream.name())
                    .collect();
                GatewayResponse::json(200, &json!({ "services": names }))
            }
            Target::Analytics => self.analytics(&request, platform).await?,
        };
        Ok((response, None))
    }
}

/// Phases 7 and 8 of an outcome: the response, then its log line.
fn finish<P: Platform>(
    gateway: &Result<Gateway>,
    context: &RequestContext,
    outcome: Result<GatewayResponse<P::Stream>>,
    platform: &P,
) -> GatewayResponse<P::Stream> {
    let (response, error) = respond(gateway, context, outcome);
    log(gateway, context, response.status, error.as_ref(), platform);
    response
}

/// Phase 7: an error becomes Rasa's error body; every answer gets the CORS headers.
fn respond<B>(
    gateway: &Result<Gateway>,
    context: &RequestContext,
    outcome: Result<GatewayResponse<B>>,
) -> (GatewayResponse<B>, Option<GatewayError>) {
    let (mut response, error) = match outcome {
        Ok(response) => (response, None),
        Err(error) => (GatewayResponse::from(error.clone()), Some(error)),
    };
    for (name, value) in &context.rate_limit_headers {
        response.headers.set(name, value.clone());
    }
    if let Ok(gateway) = gateway {
        cors::decorate(&gateway.config.cors, context.summary.origin.as_deref(), &mut response);
    }
    (response, error)
}

/// Phase 8: one log line per request, and the request counted (in memory, at once: the platform
/// stores the counts in the background).
fn log<P: Platform>(
    gateway: &Result<Gateway>,
    context: &RequestContext,
    status: u16,
    error: Option<&GatewayError>,
    platform: &P,
) {
    let summary = &context.summary;
    let finished_at = platform.now();
    let duration_ms = ((finished_at - summary.started) * 1000.0).max(0.0);
    let cache = context.cache_status.map(CacheStatus::as_str);
    // A broken configuration cannot say whether analytics are on: its answers are counted.
    if gateway.as_ref().map_or(true, Gateway::analytics_enabled) {
        platform.record_analytics(RequestRecord {
            finished_at,
            route: analytics::route_key(gateway, &context.route),
            status,
            cache,
            limited: error.is_some_and(|e| e.kind == ErrorKind::TooManyRequests),
            duration_ms,
        });
    }
    // Health probes (load balancers, uptime monitors) poll every few seconds: their lines would drown
    // the others and fill the log's volume. They are counted in analytics, not logged.
    if context.route == Route::Local(LocalRoute::Health) {
        return;
    }
    let line = log::RequestLog {
        method: &summary.method,
        path: &summary.path,
        status,
        duration_ms,
        client_ip: summary.client_ip.as_deref(),
        cache,
        consumer: context.identity.consumer(),
        error: error.map(|e| e.message.as_str()),
    };
    platform.log(&line.line());
}
