//! A token's time claims against the clock: the configured leeway for clock skew, and the check
//! of `exp` and `nbf` that every verified token passes (again on every use of a held one).

use jwt_compact::Claims;

use crate::error::{GatewayError, Result};

/// Seconds of clock skew tolerated on `exp` and `nbf`; made only from a checked configuration
/// value, so that adding it to a timestamp stays far inside `i64`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Leeway(i64);

impl Leeway {
    /// The largest leeway accepted: it tolerates clock skew, and a day of skew already makes
    /// `exp` close to meaningless.
    pub const MAX_SECONDS: u64 = 86_400;

    /// The configured `field` (`auth.jwt.leeway`, `auth.oidc.leeway`), or a configuration error
    /// naming it. Negative and fractional values never get here: the field is typed `u64`.
    pub fn from_config(field: &str, seconds: u64) -> Result<Leeway> {
        match i64::try_from(seconds) {
            Ok(checked) if seconds <= Self::MAX_SECONDS => Ok(Leeway(checked)),
            _ => Err(GatewayError::config(format!(
                "{field}: must be a whole number of seconds from 0 to {}",
                Self::MAX_SECONDS
            ))
            .with_details(serde_json::json!({ "field": field }))),
        }
    }

    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// `exp` (required when `require_exp`) and `nbf` against `now`, with `leeway`, in whole seconds
/// and checked arithmetic: no claim value, however extreme, can overflow or panic here, and a sum
/// that does not fit refuses the token. (jwt-compact's own checks compute `nbf - leeway` on a
/// `DateTime`, which panics for an `nbf` near the earliest representable time.) Claims that are
/// no timestamp at all (out of range, strings) were already refused when the claims were read.
pub(super) fn check_times<T>(
    claims: &Claims<T>,
    now: f64,
    leeway: Leeway,
    require_exp: bool,
) -> std::result::Result<(), String> {
    if !now.is_finite() {
        return Err("the clock gives no usable time".into());
    }
    // Saturating and truncating: a finite `now` far outside the timestamp range still compares
    // correctly with every timestamp a claim can hold.
    let now = now as i64;
    match claims.expiration {
        Some(expiration) => {
            let latest = expiration.timestamp().checked_add(leeway.seconds()).ok_or("exp is out of range")?;
            if now > latest {
                return Err("the token has expired".into());
            }
        }
        None if require_exp => return Err("the token has no exp".into()),
        None => {}
    }
    if let Some(not_before) = claims.not_before {
        let earliest = not_before.timestamp().checked_sub(leeway.seconds()).ok_or("nbf is out of range")?;
        if now < earliest {
            return Err("the token is not valid yet".into());
        }
    }
    Ok(())
}
