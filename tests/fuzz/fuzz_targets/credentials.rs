//! Credentials and JWT parsing on any header values: never a panic, and a bearer token is only
//! ever accepted in its strict form. Then the numbers of a token and its configuration: extreme
//! `exp`/`nbf`/`iat` claims (integers at and past the `i64`/`u64` limits, floats, negatives,
//! non-numbers), extreme `leeway`s and clocks never panic; a leeway out of range is a
//! configuration error naming its field; and an accepted token is never expired or premature.
#![no_main]
use std::future::Future;

use edge_gateway::auth::spki::rsa_spki;
use edge_gateway::auth::{Authenticator, Credentials, Identity, Leeway, OidcVerifier};
use edge_gateway::config::AuthConfig;
use edge_gateway::http::{Body, BodyError, FetchFailure, GatewayResponse, Headers, OutboundRequest};
use edge_gateway::platform::{
    AnalyticsUnavailable, Batch, ConversationLease, CounterCharge, Deadline, Platform, RequestRecord,
    SignatureAlgorithm, Spent,
};
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|data: &[u8]| {
    headers(data);
    numbers(data);
});

fn headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (authorization, token) = text.split_once('\u{0}').unwrap_or((&text, ""));
    let headers: Headers = [("authorization", authorization), ("access_token", token)].into_iter().collect();
    let credentials = Credentials::from_request(vec![token.to_string()], &headers);
    if let Some(bearer) = &credentials.bearer {
        assert!(authorization.starts_with("Bearer ") && bearer.split('.').count() == 3);
        let _ = OidcVerifier::key_need(bearer);
    }
}

const NOW: f64 = 1_800_000_000.0;
/// The ends of the timestamps a claim can hold (chrono's `DateTime<Utc>` range).
const EARLIEST: i64 = -8_334_601_315_200;
const LATEST: i64 = 8_210_266_876_799;

/// Reads the fuzz input as a sequence of choices; past its end every choice is 0.
struct Choices<'a>(&'a [u8]);

impl Choices<'_> {
    fn byte(&mut self) -> u8 {
        let (first, rest) = self.0.split_first().map(|(b, r)| (*b, r)).unwrap_or((0, &[]));
        self.0 = rest;
        first
    }

    fn eight(&mut self) -> [u8; 8] {
        std::array::from_fn(|_| self.byte())
    }

    fn leeway(&mut self) -> u64 {
        const TABLE: [u64; 11] = [
            0,
            1,
            60,
            180,
            86_400,
            86_401,
            (i64::MAX / 1000) as u64,
            (i64::MAX / 1000) as u64 + 1,
            i64::MAX as u64,
            i64::MAX as u64 + 1,
            u64::MAX,
        ];
        let choice = usize::from(self.byte());
        TABLE.get(choice).copied().unwrap_or_else(|| u64::from_le_bytes(self.eight()) >> (choice % 64))
    }

    fn now(&mut self) -> f64 {
        const TABLE: [f64; 12] = [
            NOW,
            0.0,
            -1.0,
            1e12,
            -1e13,
            1e300,
            f64::MAX,
            f64::MIN,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            9.223372036854776e18,
        ];
        match usize::from(self.byte()) {
            choice if choice < TABLE.len() => TABLE[choice],
            12..=127 => NOW + f64::from(i16::from_le_bytes([self.byte(), self.byte()])),
            _ => f64::from_bits(u64::from_le_bytes(self.eight())),
        }
    }

    /// A claim's JSON text, if present, and its numeric value when it has one (floats truncated).
    fn claim(&mut self, now: f64) -> Option<(String, Option<i128>)> {
        const LITERALS: [&str; 16] = [
            "9223372036854775807",
            "-9223372036854775808",
            "18446744073709551615",
            "18446744073709551616",
            "1e308",
            "-1e308",
            "1.7976931348623157e308",
            "5e-324",
            "-0",
            "-0.0",
            "0.5",
            "\"1800000000\"",
            "null",
            "true",
            "[]",
            "{}",
        ];
        let near = |base: i64, offset: i16| base.saturating_add(i64::from(offset));
        let small = |c: &mut Self| i16::from_le_bytes([c.byte(), c.byte()]);
        let integer = |value: i64| Some((value.to_string(), Some(i128::from(value))));
        match self.byte() % 9 {
            0 => None,
            1 => {
                let base = if now.is_finite() { now as i64 } else { NOW as i64 };
                integer(near(base, small(self)))
            }
            2 => integer(near(EARLIEST, small(self))),
            3 => integer(near(LATEST, small(self))),
            4 => integer(i64::from_le_bytes(self.eight())),
            5 => {
                let value = u64::from_le_bytes(self.eight());
                Some((value.to_string(), Some(i128::from(value))))
            }
            6 => {
                let value = f64::from_bits(u64::from_le_bytes(self.eight()));
                value.is_finite().then(|| (format!("{value:?}"), Some(value as i128)))
            }
            7 => {
                let value = NOW + f64::from(small(self)) + f64::from(self.byte()) / 256.0;
                Some((format!("{value:?}"), Some(value as i128)))
            }
            _ => {
                let literal = LITERALS[usize::from(self.byte()) % LITERALS.len()];
                let number = literal.parse::<f64>().ok().filter(|_| !literal.starts_with('"'));
                Some((literal.to_string(), number.map(|n| n as i128)))
            }
        }
    }
}

fn numbers(data: &[u8]) {
    let mut choices = Choices(data);
    let (jwt_leeway, oidc_leeway) = (choices.leeway(), choices.leeway());
    let now = choices.now();
    let claims: Vec<(&str, Option<(String, Option<i128>)>)> =
        ["exp", "nbf", "iat"].into_iter().map(|name| (name, choices.claim(now))).collect();
    let mut fields = vec![r#""user": {"username": "a", "role": "admin"}"#.to_string()];
    fields.extend([r#""iss": "https://issuer.example/""#.into(), r#""aud": "api""#.into(), r#""scope": "s""#.into()]);
    fields.extend(claims.iter().filter_map(|(name, claim)| Some(format!(r#""{name}": {}"#, claim.as_ref()?.0))));
    let claims_text = format!("{{{}}}", fields.join(", "));

    // What an accepted token must satisfy (whole seconds, in i128: nothing overflows here).
    let value = |name: &str| claims.iter().find(|(n, _)| *n == name).and_then(|(_, c)| c.clone());
    let now_seconds = i128::from(now as i64);
    let within = |leeway: u64, require_exp: bool| {
        let leeway = i128::from(leeway);
        let exp_ok = match value("exp") {
            Some((_, Some(exp))) => now_seconds <= exp.saturating_add(leeway),
            Some((_, None)) => false,
            None => !require_exp,
        };
        let nbf_ok = match value("nbf") {
            Some((_, Some(nbf))) => now_seconds >= nbf.saturating_sub(leeway),
            Some((_, None)) => false,
            None => true,
        };
        let iat_ok = !matches!(value("iat"), Some((_, None)));
        now.is_finite() && exp_ok && nbf_ok && iat_ok
    };

    let platform = Fake { now };
    let credentials = {
        let token =
            format!("{}.{}.{}", b64url(br#"{"alg":"RS256","kid":"k"}"#), b64url(claims_text.as_bytes()), "c2ln");
        let mut headers = Headers::new();
        headers.set("authorization", format!("Bearer {token}"));
        Credentials::from_request(vec![], &headers)
    };
    assert!(credentials.bearer.is_some());

    let pem = format!(
        "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----",
        b64(&rsa_spki(&MODULUS, &[1, 0, 1]).expect("a valid RSA key"))
    );
    let jwt_only = json!({"jwt": {"algorithm": "RS256", "public_key": pem, "leeway": jwt_leeway}});
    let oidc_only = json!({"oidc": {"issuer": "https://issuer.example/", "audience": "api",
                                    "jwks_uri": "https://issuer.example/jwks", "leeway": oidc_leeway}});
    for (config, leeway, field, require_exp) in
        [(jwt_only, jwt_leeway, "auth.jwt.leeway", false), (oidc_only, oidc_leeway, "auth.oidc.leeway", true)]
    {
        let config: AuthConfig = serde_json::from_value(config).expect("a typed auth section");
        let auth = match Authenticator::from_config(Some(&config)) {
            Ok(auth) => auth.expect("an auth section"),
            Err(error) => {
                assert!(leeway > Leeway::MAX_SECONDS, "{field} = {leeway} refused: {}", error.message);
                assert!(error.message.contains(field), "{}", error.message);
                assert!(!error.message.contains(&pem));
                continue;
            }
        };
        assert!(leeway <= Leeway::MAX_SECONDS, "{field} = {leeway} accepted");
        let identity = match std::pin::pin!(auth.authenticate(&credentials, &platform))
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()))
        {
            std::task::Poll::Ready(identity) => identity,
            std::task::Poll::Pending => panic!("in-memory I/O completes"),
        };
        let accepted = matches!(identity, Identity::Admin | Identity::Client { .. });
        if accepted {
            assert!(within(leeway, require_exp), "{field} = {leeway}, now {now}: accepted {claims_text}");
        }
        // Ordinary numbers decide exactly: accepted if and only if within the leeway.
        let ordinary = |name: &str| match value(name) {
            None => true,
            Some((text, Some(n))) => n.unsigned_abs() < 100_000_000_000 && !text.contains(['.', 'e']) && text != "-0",
            Some(_) => false,
        };
        if now.is_finite() && now.abs() < 1e11 && ["exp", "nbf", "iat"].iter().all(|n| ordinary(n)) {
            assert_eq!(accepted, within(leeway, require_exp), "{field} = {leeway}, now {now}: {claims_text}");
        }
    }
}

const MODULUS: [u8; 256] = [0xC5; 256];

/// A runtime whose every signature verifies and whose issuer serves one RSA key: what remains to
/// decide is the claims.
struct Fake {
    now: f64,
}

/// Everything but the clock, the issuer's key set and the signatures is absent: the credentials'
/// checks use nothing else.
impl Platform for Fake {
    type Stream = Vec<u8>;
    type Writer = ();

    fn now(&self) -> f64 {
        self.now
    }

    async fn fetch(&self, _: OutboundRequest<Vec<u8>>, _: u64) -> Result<GatewayResponse<Vec<u8>>, FetchFailure> {
        let jwks = json!({"keys": [{"kty": "RSA", "kid": "k", "alg": "RS256", "use": "sig",
                                    "n": b64url(&MODULUS), "e": "AQAB"}]});
        Ok(GatewayResponse { status: 200, headers: Headers::new(), body: Body::Bytes(jwks.to_string().into_bytes()) })
    }

    async fn read(&self, body: Body<Vec<u8>>, limit: usize) -> Result<Vec<u8>, BodyError> {
        let bytes = match body {
            Body::Empty => Vec::new(),
            Body::Bytes(bytes) | Body::Stream(bytes) => bytes,
        };
        if bytes.len() > limit {
            return Err(BodyError::TooLarge);
        }
        Ok(bytes)
    }

    async fn read_by(&self, body: Body<Vec<u8>>, limit: usize, _: Deadline) -> Result<Vec<u8>, BodyError> {
        self.read(body, limit).await
    }

    fn limit(&self, stream: Vec<u8>, _: u64) -> Vec<u8> {
        stream
    }

    fn cut_when_idle(&self, stream: Vec<u8>, _: u64) -> Vec<u8> {
        stream
    }

    fn open_body(&self) -> ((), Vec<u8>) {
        ((), Vec::new())
    }

    fn write_body(&self, _: &(), _: &str) {}

    fn end_body(&self, _: ()) {}

    fn tee(&self, stream: Vec<u8>) -> (Vec<u8>, Vec<u8>) {
        (stream.clone(), stream)
    }

    async fn cache_get(&self, _: &str) -> Option<GatewayResponse<Vec<u8>>> {
        None
    }

    async fn cache_put(&self, _: &str, _: GatewayResponse<Vec<u8>>, _: u64) {}

    async fn verify_signature(&self, _: SignatureAlgorithm, _: &[u8], _: &[u8], _: &[u8]) -> bool {
        true
    }

    async fn spend(&self, charges: &[CounterCharge], _: u64) -> Vec<Option<Spent>> {
        vec![None; charges.len()]
    }

    fn give_back(&self, _: Vec<(String, f64)>) {}

    async fn sleep(&self, _: u64) {}

    async fn conversation_begin(&self, _: &str) -> Result<(ConversationLease, Option<String>), String> {
        Err("no conversations".into())
    }

    async fn conversation_commit(&self, _: &ConversationLease, _: &str, _: u64) -> bool {
        false
    }

    fn conversation_abort(&self, _: ConversationLease) {}

    async fn conversation_read(&self, _: &str) -> Result<Option<String>, String> {
        Err("no conversations".into())
    }

    fn record_analytics(&self, _: RequestRecord) {}

    async fn read_analytics(&self, _: i64, _: i64) -> Result<Batch, AnalyticsUnavailable> {
        Err(AnalyticsUnavailable::Off)
    }

    fn log(&self, _: &str) {}
}

fn encode(bytes: &[u8], alphabet: &[u8; 64], pad: bool) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk.iter().enumerate().fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(alphabet[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
        if pad {
            out.push_str(&"=".repeat(3 - chunk.len()));
        }
    }
    out
}

fn b64(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", true)
}

fn b64url(bytes: &[u8]) -> String {
    encode(bytes, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", false)
}
