//! The analytics of CONTRACT section 9, as the pipeline sees them: which route a request counts
//! under (the log phase records every request), and `GET /admin/analytics?minutes=N`, the stored
//! minutes read back and rendered with their percentiles.

use serde_json::{json, Map, Value};

use super::route::{GuardedRoute, Route};
use super::Gateway;
use crate::config::Exposure;
use crate::error::{ErrorKind, GatewayError, Result};
use crate::http::{GatewayRequest, GatewayResponse};
use crate::platform::analytics::{minute_of, MinuteStats, CACHE_STATUSES, STATUS_CLASSES};
use crate::platform::{AnalyticsUnavailable, Platform};

/// The most minutes one read may ask for (a day), and how many it gets without asking.
pub const MAX_MINUTES: u32 = 1440;
const DEFAULT_MINUTES: u32 = 60;

/// The route a request counts under: `webhook`, `models/<service>`, `pi/<service>`, `rasa` or
/// `other`. A service counts under its configured name only when it is exposed, so made-up names
/// in URLs cannot grow the number of routes stored.
pub fn route_key(gateway: &Result<Gateway>, route: &Route) -> String {
    let Route::Guarded(guarded) = route else { return "other".into() };
    match (guarded, gateway) {
        (GuardedRoute::Webhook, _) => "webhook".into(),
        (GuardedRoute::Rasa { .. }, _) => "rasa".into(),
        (GuardedRoute::Service { exposure, service, .. }, Ok(gateway)) => {
            let prefix = if *exposure == Exposure::Inference { "models" } else { "pi" };
            gateway
                .exposed(*exposure)
                .find(|upstream| upstream.name().eq_ignore_ascii_case(service))
                .map_or_else(|| "other".into(), |upstream| format!("{prefix}/{}", upstream.name()))
        }
        _ => "other".into(),
    }
}

impl Gateway {
    /// Whether requests are counted (the runtime's storage must be bound too).
    pub fn analytics_enabled(&self) -> bool {
        self.config.analytics.enabled
    }

    /// `GET /admin/analytics?minutes=N`: the last N minutes (the current one included), oldest
    /// first, each with the routes that had requests.
    pub(super) async fn analytics<P: Platform>(
        &self,
        request: &GatewayRequest<P::Stream>,
        platform: &P,
    ) -> Result<GatewayResponse<P::Stream>> {
        let off = || GatewayError::not_found("Analytics are off for this gateway.");
        if !self.analytics_enabled() {
            return Err(off());
        }
        let minutes = minutes_asked(request.query_param("minutes").as_deref())?;
        let to = minute_of(platform.now());
        let from = to - i64::from(minutes) + 1;
        let stored = platform.read_analytics(from, to).await.map_err(|why| match why {
            AnalyticsUnavailable::Off => off(),
            AnalyticsUnavailable::Failed => {
                GatewayError::new(ErrorKind::ServiceUnavailable, "The analytics storage could not be read.")
            }
        })?;
        let minutes: Vec<Value> = (from..=to)
            .map(|minute| {
                let routes: Map<String, Value> =
                    stored.minute(minute).map(|(route, stats)| (route.to_string(), render(stats))).collect();
                json!({ "start": iso_minute(minute), "routes": routes })
            })
            .collect();
        Ok(GatewayResponse::json(200, &json!({ "minutes": minutes })))
    }
}

/// `minutes`: 1 to [`MAX_MINUTES`], [`DEFAULT_MINUTES`] when absent.
fn minutes_asked(value: Option<&str>) -> Result<u32> {
    let Some(value) = value else { return Ok(DEFAULT_MINUTES) };
    match value.parse::<u32>() {
        Ok(minutes @ 1..=MAX_MINUTES) => Ok(minutes),
        _ => Err(GatewayError::new(
            ErrorKind::BadRequest,
            format!("'minutes' must be a whole number from 1 to {MAX_MINUTES}."),
        )
        .with_details(json!({ "parameter": "minutes" }))),
    }
}

fn iso_minute(minute: i64) -> String {
    let time = chrono::DateTime::from_timestamp(minute.saturating_mul(60), 0).unwrap_or_default();
    time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

fn render(stats: &MinuteStats) -> Value {
    let named = |names: [&str; 4], counts: [u32; 4]| -> Map<String, Value> {
        names.iter().zip(counts).map(|(name, count)| (name.to_string(), json!(count))).collect()
    };
    json!({
        "requests": stats.requests,
        "statuses": named(STATUS_CLASSES, stats.statuses),
        "cache": named(CACHE_STATUSES, stats.cache),
        "limited": stats.limited,
        "duration_ms": { "p50": stats.durations.percentile(0.5), "p95": stats.durations.percentile(0.95) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minutes_are_one_to_a_day_and_sixty_by_default() {
        assert_eq!(minutes_asked(None), Ok(60));
        assert_eq!(minutes_asked(Some("1")), Ok(1));
        assert_eq!(minutes_asked(Some("1440")), Ok(1440));
        for bad in ["0", "1441", "-1", "5.5", "", "ten", "99999999999999"] {
            let error = minutes_asked(Some(bad)).unwrap_err();
            assert_eq!((error.kind, error.kind.status()), (ErrorKind::BadRequest, 400), "{bad}");
        }
    }

    #[test]
    fn minutes_start_on_the_minute_in_utc() {
        assert_eq!(iso_minute(29_000_000), "2025-02-19T21:20:00Z");
    }
}
