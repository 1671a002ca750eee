//! The attack table: tokens minted here with independent crypto (hmac, rsa, p256; never
//! jwt-compact), each with the status Rasa's rules give it.

use std::sync::OnceLock;

use base64ct::{Base64, Base64UrlUnpadded, Encoding};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};

use super::*;
use crate::config::{AuthConfig, Exposure};
use crate::http::Headers;
use crate::platform::memory::{block_on, MemoryPlatform, STALLS};

const SECRET: &str = "rasa-jwt-secret";
const TOKEN: &str = "shared-token";

struct Keys {
    rsa: rsa::RsaPrivateKey,
    rsa_pem: String,
    other_rsa: rsa::RsaPrivateKey,
    ec: p256::ecdsa::SigningKey,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        use rsa::pkcs8::EncodePublicKey;
        let mut rng = rand::thread_rng();
        let rsa = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let rsa_pem = rsa.to_public_key().to_public_key_pem(rsa::pkcs8::LineEnding::LF).unwrap();
        let other_rsa = rsa::RsaPrivateKey::new(&mut rng, 2048).unwrap();
        let ec = p256::ecdsa::SigningKey::random(&mut rng);
        Keys { rsa, rsa_pem, other_rsa, ec }
    })
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

macro_rules! hmac_sign {
    ($digest:ty, $secret:expr, $input:expr) => {{
        let mut mac = <Hmac<$digest> as Mac>::new_from_slice($secret).unwrap();
        mac.update($input.as_bytes());
        mac.finalize().into_bytes().to_vec()
    }};
}

/// A signed token. `alg` picks the signature: HS256/HS384/HS512 with `secret`, RS256, ES256, none.
pub fn mint(header: Value, claims: Value, secret: &[u8], rsa_key: Option<&rsa::RsaPrivateKey>) -> String {
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.to_string().as_bytes()));
    let signature = match header["alg"].as_str().unwrap_or("none") {
        "HS256" => hmac_sign!(sha2::Sha256, secret, &signing_input),
        "HS384" => hmac_sign!(sha2::Sha384, secret, &signing_input),
        "HS512" => hmac_sign!(sha2::Sha512, secret, &signing_input),
        "RS256" => {
            use rsa::signature::{SignatureEncoding, Signer};
            let key = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(rsa_key.unwrap_or(&keys().rsa).clone());
            key.sign(signing_input.as_bytes()).to_vec()
        }
        "ES256" => {
            use p256::ecdsa::signature::Signer;
            let signature: p256::ecdsa::Signature = keys().ec.sign(signing_input.as_bytes());
            signature.to_bytes().to_vec()
        }
        _ => Vec::new(),
    };
    format!("{signing_input}.{}", b64(&signature))
}

fn hs256(claims: Value) -> String {
    mint(json!({"alg": "HS256", "typ": "JWT"}), claims, SECRET.as_bytes(), None)
}

fn user(name: &str, role: &str) -> Value {
    json!({"user": {"username": name, "role": role}, "exp": NOW + 600.0})
}

const NOW: f64 = 1_800_000_000.0;
const ISSUER: &str = "https://issuer.example/";
const AUDIENCE: &str = "catsdogs-api";

fn jwks() -> Value {
    use rsa::traits::PublicKeyParts;
    let public = keys().rsa.to_public_key();
    let point = keys().ec.verifying_key().to_encoded_point(false);
    json!({"keys": [
        {"kty": "RSA", "kid": "rsa-1", "use": "sig", "alg": "RS256", "n": b64(&public.n().to_bytes_be()), "e": b64(&public.e().to_bytes_be())},
        {"kty": "EC", "kid": "ec-1", "crv": "P-256", "x": b64(point.x().unwrap()), "y": b64(point.y().unwrap())},
    ]})
}

fn access_token(alg: &str, kid: &str, claims: Value) -> String {
    mint(json!({"alg": alg, "kid": kid, "typ": "at+jwt"}), claims, b"", None)
}

fn access_claims(extra: Value) -> Value {
    let mut claims = json!({"iss": ISSUER, "aud": [AUDIENCE, "other"], "sub": "client-7", "exp": NOW + 300.0,
                            "scope": "openid get::prediction"});
    for (key, value) in extra.as_object().unwrap() {
        if value.is_null() {
            claims.as_object_mut().unwrap().remove(key);
        } else {
            claims[key] = value.clone();
        }
    }
    claims
}

fn authenticator(algorithm: &str) -> Authenticator {
    let jwt = match algorithm {
        "RS256" => json!({"algorithm": "RS256", "public_key": keys().rsa_pem}),
        other => json!({"algorithm": other, "secret": SECRET}),
    };
    let config: AuthConfig = serde_json::from_value(json!({
        "token": TOKEN, "jwt": jwt,
        "oidc": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": "https://issuer.example/jwks.json"}
    }))
    .unwrap();
    Authenticator::from_config(Some(&config)).unwrap().unwrap()
}

fn platform() -> MemoryPlatform {
    let platform = MemoryPlatform::answering_json(jwks());
    platform.clock.set(NOW);
    platform
}

/// The status a request gets on a route: 200 when authorized.
fn status(
    auth: &Authenticator,
    platform: &MemoryPlatform,
    query_tokens: &[&str],
    headers: &[(&str, &str)],
    access: Access,
) -> u16 {
    let headers: Headers = headers.iter().copied().collect();
    let credentials = Credentials::from_request(query_tokens.iter().map(|t| t.to_string()).collect(), &headers);
    let identity = block_on(auth.authenticate(&credentials, platform));
    match authorize(&identity, access) {
        Ok(()) => 200,
        Err(error) => error.status(),
    }
}

fn bearer(token: &str) -> String {
    format!("Bearer {token}")
}

const STATUS: Access = Access::Rasa { conversation_id: None };
const TRACKER_OF_TESTUSER: Access = Access::Rasa { conversation_id: Some("testuser") };
const TRACKER_OF_TESTADMIN: Access = Access::Rasa { conversation_id: Some("testadmin") };
const MODEL: Access =
    Access::Service { exposure: Exposure::Inference, name: "catsdogs", scope: Some("get::prediction") };
const PI: Access = Access::Service { exposure: Exposure::Telemetry, name: "livingroom", scope: None };

#[test]
fn attack_table() {
    let auth = authenticator("HS256");
    let platform = platform();
    let expired = hs256(json!({"user": {"username": "a", "role": "admin"}, "exp": NOW - 181.0}));
    let within_leeway = hs256(json!({"user": {"username": "a", "role": "admin"}, "exp": NOW - 100.0}));
    let future_nbf = hs256(json!({"user": {"username": "a", "role": "admin"}, "nbf": NOW + 600.0}));
    let admin = hs256(user("testadmin", "admin"));
    let testuser = hs256(user("testuser", "user"));
    let top_level_role = hs256(json!({"username": "x", "role": "admin"}));
    let none_alg = mint(json!({"alg": "none"}), user("x", "admin"), b"", None);
    let hs384 = mint(json!({"alg": "HS384"}), user("x", "admin"), SECRET.as_bytes(), None);
    let wrong_secret = mint(json!({"alg": "HS256"}), user("x", "admin"), b"guess", None);
    let tampered = {
        let parts: Vec<&str> = admin.split('.').collect();
        let payload = b64(user("x", "admin").to_string().replace("testadmin", "x").as_bytes());
        format!("{}.{}.{}", parts[0], payload, parts[2])
    };
    let truncated = admin[..admin.len() - 5].to_string();
    let oidc = access_token("RS256", "rsa-1", access_claims(json!({})));
    let oidc_es = access_token("ES256", "ec-1", access_claims(json!({})));
    let oidc_scp_array =
        access_token("RS256", "rsa-1", access_claims(json!({"scope": null, "scp": ["get::prediction"]})));
    let oidc_no_scope = access_token("RS256", "rsa-1", access_claims(json!({"scope": "openid"})));
    let oidc_wrong_iss = access_token("RS256", "rsa-1", access_claims(json!({"iss": "https://evil.example/"})));
    let oidc_wrong_aud = access_token("RS256", "rsa-1", access_claims(json!({"aud": "someone-else"})));
    let oidc_no_exp = access_token("RS256", "rsa-1", access_claims(json!({"exp": null})));
    let oidc_expired = access_token("RS256", "rsa-1", access_claims(json!({"exp": NOW - 3600.0})));
    let oidc_wrong_kid = access_token("RS256", "ec-1", access_claims(json!({})));
    let oidc_other_key =
        mint(json!({"alg": "RS256", "kid": "rsa-1"}), access_claims(json!({})), b"", Some(&keys().other_rsa));
    let oidc_as_hs256 =
        mint(json!({"alg": "HS256", "kid": "rsa-1"}), access_claims(json!({})), keys().rsa_pem.as_bytes(), None);
    let huge = format!("Bearer {}.{}.{}", "a".repeat(4000), "b".repeat(4000), "c".repeat(3000));

    // (case, query tokens, headers, route's access, expected status)
    type Case<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, String)>, Access<'a>, u16);
    let cases: Vec<Case> = vec![
        ("token in query", vec![TOKEN], vec![], STATUS, 200),
        ("token in access_token header", vec![], vec![("access_token", TOKEN.into())], STATUS, 200),
        ("wrong token", vec!["nope"], vec![], STATUS, 401),
        ("token prefix", vec!["shared"], vec![], STATUS, 401),
        ("same token in query and header", vec![TOKEN], vec![("access_token", TOKEN.into())], STATUS, 200),
        ("different tokens in query and header", vec![TOKEN], vec![("access_token", "x".into())], STATUS, 401),
        ("token twice, one wrong", vec![TOKEN, "x"], vec![], STATUS, 401),
        ("no credentials", vec![], vec![], STATUS, 401),
        ("admin jwt", vec![], vec![("authorization", bearer(&admin))], STATUS, 200),
        ("user jwt on /status", vec![], vec![("authorization", bearer(&testuser))], STATUS, 403),
        ("user jwt on own tracker", vec![], vec![("authorization", bearer(&testuser))], TRACKER_OF_TESTUSER, 200),
        ("user jwt on another tracker", vec![], vec![("authorization", bearer(&testuser))], TRACKER_OF_TESTADMIN, 403),
        ("admin token on any tracker", vec![TOKEN], vec![], TRACKER_OF_TESTADMIN, 200),
        ("top-level role does not count", vec![], vec![("authorization", bearer(&top_level_role))], STATUS, 403),
        ("alg none", vec![], vec![("authorization", bearer(&none_alg))], STATUS, 401),
        ("alg other than pinned", vec![], vec![("authorization", bearer(&hs384))], STATUS, 401),
        ("wrong secret", vec![], vec![("authorization", bearer(&wrong_secret))], STATUS, 401),
        ("tampered payload", vec![], vec![("authorization", bearer(&tampered))], STATUS, 401),
        ("truncated signature", vec![], vec![("authorization", bearer(&truncated))], STATUS, 401),
        ("expired beyond leeway", vec![], vec![("authorization", bearer(&expired))], STATUS, 401),
        ("expired within leeway", vec![], vec![("authorization", bearer(&within_leeway))], STATUS, 200),
        ("nbf in the future", vec![], vec![("authorization", bearer(&future_nbf))], STATUS, 401),
        ("lower-case scheme", vec![], vec![("authorization", format!("bearer {admin}"))], STATUS, 401),
        ("Token scheme", vec![], vec![("authorization", format!("Token {admin}"))], STATUS, 401),
        ("two words", vec![], vec![("authorization", format!("Bearer {admin} x"))], STATUS, 401),
        ("empty bearer", vec![], vec![("authorization", "Bearer ".into())], STATUS, 401),
        ("10 KB bearer", vec![], vec![("authorization", huge)], STATUS, 401),
        (
            "duplicate authorization headers",
            vec![],
            vec![("authorization", bearer(&admin)), ("authorization", bearer(&admin))],
            STATUS,
            401,
        ),
        ("bad bearer but valid token", vec![TOKEN], vec![("authorization", "garbage".into())], STATUS, 200),
        ("oidc RS256 with scope", vec![], vec![("authorization", bearer(&oidc))], MODEL, 200),
        ("oidc ES256 with scope", vec![], vec![("authorization", bearer(&oidc_es))], MODEL, 200),
        ("oidc scp array", vec![], vec![("authorization", bearer(&oidc_scp_array))], MODEL, 200),
        ("oidc without the scope", vec![], vec![("authorization", bearer(&oidc_no_scope))], MODEL, 403),
        ("oidc on a Rasa route", vec![], vec![("authorization", bearer(&oidc))], STATUS, 403),
        ("oidc on a Pi", vec![], vec![("authorization", bearer(&oidc))], PI, 403),
        ("oidc wrong issuer", vec![], vec![("authorization", bearer(&oidc_wrong_iss))], MODEL, 401),
        ("oidc wrong audience", vec![], vec![("authorization", bearer(&oidc_wrong_aud))], MODEL, 401),
        ("oidc without exp", vec![], vec![("authorization", bearer(&oidc_no_exp))], MODEL, 401),
        ("oidc expired", vec![], vec![("authorization", bearer(&oidc_expired))], MODEL, 401),
        ("oidc kid of another key type", vec![], vec![("authorization", bearer(&oidc_wrong_kid))], MODEL, 401),
        ("oidc signed by an unknown key", vec![], vec![("authorization", bearer(&oidc_other_key))], MODEL, 401),
        (
            "oidc HS256 with the public key as secret",
            vec![],
            vec![("authorization", bearer(&oidc_as_hs256))],
            MODEL,
            401,
        ),
    ];
    assert!(cases.len() >= 30);
    for (name, query, headers, access, expected) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(status(&auth, &platform, &query, &headers, access), expected, "{name}");
    }
}

#[test]
fn rs256_is_pinned_against_hs256_signed_with_the_public_key() {
    let auth = authenticator("RS256");
    let platform = platform();
    let genuine = mint(json!({"alg": "RS256"}), user("x", "admin"), b"", None);
    let confused = mint(json!({"alg": "HS256"}), user("x", "admin"), keys().rsa_pem.as_bytes(), None);
    let auth_header = |t: &str| vec![("authorization", bearer(t))];
    for (token, expected) in [(genuine, 200), (confused, 401)] {
        let headers = auth_header(&token);
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(status(&auth, &platform, &[], &headers, STATUS), expected);
    }
}

#[test]
fn a_public_webhook_answers_every_identity_as_an_anonymous_one() {
    let identities = [
        Identity::Anonymous,
        Identity::Admin,
        Identity::User { username: "u1".into(), role: "user".into() },
        Identity::User { username: "u2".into(), role: "user".into() },
        Identity::User { username: "u1".into(), role: "guest".into() },
        Identity::User { username: "".into(), role: "".into() },
        Identity::Client { subject: "client-7".into(), scopes: vec![] },
        Identity::Client { subject: "client-7".into(), scopes: vec!["get::prediction".into()] },
    ];
    for identity in &identities {
        for sender in ["u1", "", "someone else"] {
            assert!(authorize(identity, Access::Webhook { sender, required: false }).is_ok(), "{identity:?} {sender}");
        }
    }
}

#[test]
fn a_required_webhook_follows_rasas_rules_with_the_sender_as_conversation_id() {
    let required =
        |identity: &Identity, sender: &str| match authorize(identity, Access::Webhook { sender, required: true }) {
            Ok(()) => 200,
            Err(error) => error.status(),
        };
    let user = Identity::User { username: "u1".into(), role: "user".into() };
    assert_eq!(required(&Identity::Anonymous, "u1"), 401);
    assert_eq!(required(&Identity::Admin, "anyone"), 200);
    assert_eq!(required(&Identity::Open, "anyone"), 200);
    assert_eq!(required(&user, "u1"), 200);
    assert_eq!(required(&user, "u2"), 403);
    assert_eq!(required(&Identity::User { username: "u1".into(), role: "guest".into() }, "u1"), 403);
    assert_eq!(required(&Identity::Client { subject: "u1".into(), scopes: vec![] }, "u1"), 403);
    assert!(authorize(&Identity::Open, Access::Rasa { conversation_id: None }).is_ok());
}

/// Real tokens through the authenticator: on a public webhook a valid OIDC token, a JWT of an
/// unknown role, a `user` JWT of another sender and an invalid token all get what anonymous gets.
#[test]
fn public_webhook_with_real_credentials() {
    let auth = authenticator("HS256");
    let platform = platform();
    let oidc = access_token("RS256", "rsa-1", access_claims(json!({})));
    let oidc_without_scope = access_token("RS256", "rsa-1", access_claims(json!({"scope": "openid"})));
    let guest = hs256(user("g", "guest"));
    let no_user_claim = hs256(json!({"exp": NOW + 600.0}));
    let other_user = hs256(user("testuser", "user"));
    let invalid = mint(json!({"alg": "HS256"}), user("x", "admin"), b"guess", None);
    let public = Access::Webhook { sender: "visitor-1", required: false };
    let required = Access::Webhook { sender: "visitor-1", required: true };
    for (name, token, when_required) in [
        ("oidc", &oidc, 403),
        ("oidc without scope", &oidc_without_scope, 403),
        ("guest role", &guest, 403),
        ("no user claim", &no_user_claim, 403),
        ("user of another sender", &other_user, 403),
        ("invalid", &invalid, 401),
    ] {
        let headers = [("authorization", bearer(token))];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(status(&auth, &platform, &[], &headers, public), 200, "{name} on a public webhook");
        assert_eq!(status(&auth, &platform, &[], &headers, required), when_required, "{name} on a required webhook");
    }
    assert_eq!(status(&auth, &platform, &["wrong"], &[], public), 200, "a wrong shared token");
    assert_eq!(status(&auth, &platform, &[], &[], public), 200, "anonymous");
}

#[test]
fn a_missing_scope_gets_rasas_exact_403_body() {
    let client = Identity::Client { subject: "c".into(), scopes: vec!["openid".into(), "get::other".into()] };
    let error = authorize(&client, MODEL).unwrap_err();
    let body = error.body();
    assert_eq!(error.status(), 403);
    assert_eq!(body["message"], "User has insufficient permissions.");
    assert_eq!(body["reason"], "NotAuthorized");
    assert_eq!(body["code"], 403);
    assert_eq!(body["details"]["required_scope"], "get::prediction");
    // Every other 403 of an OIDC client has the same message.
    let unscoped_model = Access::Service { exposure: Exposure::Inference, name: "other", scope: None };
    for access in [STATUS, PI, unscoped_model, Access::TelemetryList] {
        assert_eq!(authorize(&client, access).unwrap_err().body()["message"], "User has insufficient permissions.");
    }
}

#[test]
fn the_jwks_is_fetched_once_and_cached() {
    let auth = authenticator("HS256");
    let platform = platform();
    let oidc = access_token("RS256", "rsa-1", access_claims(json!({})));
    let headers = [("authorization", bearer(&oidc))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    for _ in 0..3 {
        assert_eq!(status(&auth, &platform, &[], &headers, MODEL), 200);
    }
    assert_eq!(platform.sent().len(), 1);
    assert_eq!(platform.sent()[0].url, "https://issuer.example/jwks.json");
}

#[test]
fn unknown_kids_refetch_at_most_once_a_minute() {
    let auth = authenticator("HS256");
    let platform = platform();
    let good = access_token("RS256", "rsa-1", access_claims(json!({})));
    let unknown = |n: usize| access_token("RS256", &format!("random-{n}"), access_claims(json!({})));
    let check = |token: &str| {
        let headers = [("authorization", bearer(token))];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        status(&auth, &platform, &[], &headers, MODEL)
    };
    assert_eq!(check(&good), 200);
    for n in 0..20 {
        assert_eq!(check(&unknown(n)), 401);
    }
    assert_eq!(platform.sent().len(), 1, "a flood of unknown kids refetched the JWKS");
    platform.advance(61.0);
    assert_eq!(check(&unknown(99)), 401);
    assert_eq!(platform.sent().len(), 2, "after a minute an unknown kid may refetch (key rotation)");
}

/// A key that cannot verify anything fails the configuration, naming the field and without
/// echoing the key; before, anything containing the RSA OID's bytes passed and failed every request.
#[test]
fn a_public_key_that_does_not_parse_fails_the_configuration() {
    let oid = [0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
    let junk = Base64::encode_string(&[&b"junk"[..], &oid, &[0x05, 0x00]].concat());
    let junk_pem = format!("-----BEGIN PUBLIC KEY-----\n{junk}\n-----END PUBLIC KEY-----\n");
    let truncated = keys().rsa_pem.replace("AQAB\n", "\n");
    for (algorithm, pem) in [("RS256", junk_pem.as_str()), ("RS256", &truncated), ("ES256", &keys().rsa_pem)] {
        let config: AuthConfig =
            serde_json::from_value(json!({"jwt": {"algorithm": algorithm, "public_key": pem}})).unwrap();
        let error = Authenticator::from_config(Some(&config)).err().expect(algorithm);
        assert_eq!(error.kind, crate::error::ErrorKind::ConfigError);
        assert!(error.message.starts_with("auth.jwt.public_key: "), "{}", error.message);
        assert_eq!(*error.details, json!({"field": "auth.jwt.public_key"}));
        let body = pem.lines().filter(|line| !line.starts_with("-----")).collect::<String>();
        assert!(!body.as_bytes().windows(8).any(|w| error.message.contains(std::str::from_utf8(w).unwrap())));
    }
    let config: AuthConfig =
        serde_json::from_value(json!({"jwt": {"algorithm": "RS256", "public_key": keys().rsa_pem}})).unwrap();
    assert!(Authenticator::from_config(Some(&config)).is_ok());
}

/// A token whose claims are `claims`, written as is (numbers JSON values cannot hold: `1e400`,
/// integers past `u64`).
fn mint_text(header: Value, claims: &str, secret: &[u8]) -> String {
    let signing_input = format!("{}.{}", b64(header.to_string().as_bytes()), b64(claims.as_bytes()));
    let signature = match header["alg"].as_str() {
        Some("HS256") => hmac_sign!(sha2::Sha256, secret, &signing_input),
        _ => {
            use rsa::signature::{SignatureEncoding, Signer};
            let key = rsa::pkcs1v15::SigningKey::<rsa::sha2::Sha256>::new(keys().rsa.clone());
            key.sign(signing_input.as_bytes()).to_vec()
        }
    };
    format!("{signing_input}.{}", b64(&signature))
}

fn auth_config(jwt_leeway: Value, oidc_leeway: Value) -> Value {
    json!({
        "token": TOKEN,
        "jwt": {"algorithm": "HS256", "secret": SECRET, "leeway": jwt_leeway},
        "oidc": {"issuer": ISSUER, "audience": AUDIENCE, "jwks_uri": "https://issuer.example/jwks.json",
                 "leeway": oidc_leeway}
    })
}

/// The configuration error for `auth`, or `None` when it is accepted.
fn auth_config_error(auth: Value) -> Option<crate::error::GatewayError> {
    let config = crate::config::Config::parse(json!({ "auth": auth }), &|_| None);
    config.and_then(|config| Authenticator::from_config(config.auth.as_ref())).err()
}

#[test]
fn extreme_leeways_are_configuration_errors_naming_the_field() {
    let extremes = [
        json!(Leeway::MAX_SECONDS + 1),
        json!(i64::MAX / 1000 + 1),
        json!(i64::MAX),
        json!(i64::MAX as u64 + 1),
        json!(u64::MAX),
        json!(-1),
        json!(i64::MIN),
        json!(1.5),
        json!(1e20),
        json!(-1e308),
        json!(f64::MAX),
        json!("180"),
    ];
    for (field, jwt_side) in [("auth.jwt.leeway", true), ("auth.oidc.leeway", false)] {
        for extreme in &extremes {
            let config = if jwt_side {
                auth_config(extreme.clone(), json!(60))
            } else {
                auth_config(json!(180), extreme.clone())
            };
            let error = auth_config_error(config).unwrap_or_else(|| panic!("{field} = {extreme} was accepted"));
            assert_eq!(error.status(), 500, "{field} = {extreme}");
            assert!(error.message.contains(field), "{field} = {extreme}: {}", error.message);
        }
    }
    for fine in [json!(0), json!(180), json!(Leeway::MAX_SECONDS)] {
        assert!(auth_config_error(auth_config(fine.clone(), fine.clone())).is_none(), "{fine}");
    }
    let error = Leeway::from_config("auth.jwt.leeway", u64::MAX).unwrap_err();
    assert_eq!(*error.details, json!({"field": "auth.jwt.leeway"}));
}

/// The timestamps at the ends of what a claim can hold.
fn earliest_timestamp() -> i64 {
    chrono::DateTime::<chrono::Utc>::MIN_UTC.timestamp()
}

fn latest_timestamp() -> i64 {
    chrono::DateTime::<chrono::Utc>::MAX_UTC.timestamp()
}

#[test]
fn extreme_numeric_claims_never_panic_and_refuse_what_they_should() {
    let now = NOW as i64;
    let (earliest, latest) = (earliest_timestamp(), latest_timestamp());
    // (claims after the user claim, expected status with leeway 0 and with the largest leeway)
    let cases: Vec<(String, u16, u16)> = vec![
        (format!(r#""exp": {}"#, now + 60), 200, 200),
        (format!(r#""exp": {latest}"#), 200, 200),
        (format!(r#""exp": {earliest}"#), 401, 401),
        (format!(r#""nbf": {earliest}"#), 200, 200),
        (format!(r#""nbf": {latest}"#), 401, 401),
        (format!(r#""nbf": {earliest}, "exp": {latest}"#), 200, 200),
        (format!(r#""nbf": {latest}, "exp": {earliest}"#), 401, 401),
        (format!(r#""iat": {earliest}"#), 200, 200),
        (format!(r#""iat": {latest}"#), 200, 200),
        (format!(r#""exp": {}"#, now - 100), 401, 200),
        (format!(r#""nbf": {}"#, now + 100), 401, 200),
        (format!(r#""exp": {}"#, now - Leeway::MAX_SECONDS as i64 - 1), 401, 401),
        (format!(r#""nbf": {}"#, now + Leeway::MAX_SECONDS as i64 + 1), 401, 401),
        (format!(r#""exp": {}.75"#, now + 1), 200, 200),
        (format!(r#""exp": {}.5"#, now - 1), 401, 200),
        // Not timestamps at all: the claims are malformed, the token refused.
        (format!(r#""exp": {}"#, latest + 1), 401, 401),
        (format!(r#""nbf": {}"#, earliest - 1), 401, 401),
        (format!(r#""exp": {}"#, i64::MAX), 401, 401),
        (format!(r#""exp": {}"#, i64::MIN), 401, 401),
        (format!(r#""nbf": {}"#, i64::MIN), 401, 401),
        (format!(r#""iat": {}"#, i64::MAX), 401, 401),
        (format!(r#""iat": {}"#, i64::MIN), 401, 401),
        (format!(r#""exp": {}"#, u64::MAX), 401, 401),
        (r#""exp": 18446744073709551616"#.into(), 401, 401),
        (r#""exp": 1e308"#.into(), 401, 401),
        (r#""nbf": -1e308"#.into(), 401, 401),
        (r#""iat": 1.7976931348623157e308"#.into(), 401, 401),
        (r#""exp": 1e400"#.into(), 401, 401),
        (r#""exp": -1"#.into(), 401, 401),
        (r#""exp": -0.0"#.into(), 401, 401),
        (r#""nbf": -1"#.into(), 200, 200),
        (r#""exp": "1800000600""#.into(), 401, 401),
        (r#""nbf": true"#.into(), 401, 401),
        (r#""exp": null"#.into(), 401, 401),
    ];
    let user = r#""user": {"username": "a", "role": "admin"}"#;
    for (leeway_index, leeway) in [0, Leeway::MAX_SECONDS].into_iter().enumerate() {
        let config = auth_config(json!(leeway), json!(leeway));
        let config: AuthConfig = serde_json::from_value(config).unwrap();
        let auth = Authenticator::from_config(Some(&config)).unwrap().unwrap();
        let platform = platform();
        for (claims, with_zero, with_max) in &cases {
            let expected = if leeway_index == 0 { *with_zero } else { *with_max };
            let token = mint_text(json!({"alg": "HS256"}), &format!("{{{user}, {claims}}}"), SECRET.as_bytes());
            let headers = [("authorization", bearer(&token))];
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(status(&auth, &platform, &[], &headers, STATUS), expected, "leeway {leeway}, {claims}");
            // The same numbers in an OIDC access token (whose exp is required).
            let exp = if claims.contains(r#""exp""#) { String::new() } else { format!(r#""exp": {}, "#, now + 60) };
            let oidc_claims =
                format!(r#"{{"iss": "{ISSUER}", "aud": "{AUDIENCE}", "scope": "get::prediction", {exp}{claims}}}"#);
            let token = mint_text(json!({"alg": "RS256", "kid": "rsa-1"}), &oidc_claims, b"");
            let headers = [("authorization", bearer(&token))];
            let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(status(&auth, &platform, &[], &headers, MODEL), expected, "oidc, leeway {leeway}, {claims}");
        }
    }
}

/// The clock comes from the runtime; one that gives no usable time refuses every token instead
/// of reading as 1970 (when nothing would have expired).
#[test]
fn an_unusable_clock_refuses_tokens() {
    let auth = authenticator("HS256");
    let token = hs256(user("a", "admin"));
    for now in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
        let platform = platform();
        platform.clock.set(now);
        let headers = [("authorization", bearer(&token))];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        assert_eq!(status(&auth, &platform, &[], &headers, STATUS), 401, "{now}");
    }
    for now in [f64::MAX, -f64::MAX, 0.0, -1.0, 1e300] {
        let platform = platform();
        platform.clock.set(now);
        let headers = [("authorization", bearer(&token))];
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let _ = status(&auth, &platform, &[], &headers, STATUS);
    }
}

#[test]
fn check_times_is_checked_at_the_ends_of_the_timestamp_range() {
    use jwt_compact::Claims;
    let at = |seconds: i64| chrono::DateTime::from_timestamp(seconds, 0).unwrap();
    let max = Leeway::from_config("leeway", Leeway::MAX_SECONDS).unwrap();
    let zero = Leeway::from_config("leeway", 0).unwrap();
    let mut claims = Claims::new(());
    for (exp, nbf) in [
        (Some(at(latest_timestamp())), Some(at(earliest_timestamp()))),
        (Some(at(earliest_timestamp())), None),
        (None, Some(at(latest_timestamp()))),
    ] {
        claims.expiration = exp;
        claims.not_before = nbf;
        for now in [f64::MIN, -1e300, 0.0, NOW, 1e300, f64::MAX, f64::NAN] {
            for leeway in [zero, max] {
                let _ = super::token_times::check_times(&claims, now, leeway, true);
            }
        }
    }
    claims.expiration = Some(at(latest_timestamp()));
    claims.not_before = Some(at(earliest_timestamp()));
    assert!(super::token_times::check_times(&claims, NOW, max, true).is_ok());
    assert!(super::token_times::check_times(&claims, f64::MAX, max, true).is_err());
    assert!(super::token_times::check_times(&claims, f64::MIN, max, true).is_err());
}

/// How the switchable issuer answers.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Issuer {
    Healthy,
    Status(u16),
    /// 200 with a page that is no key set (a proxy's error page).
    Html,
    Timeout,
    /// 200 with half the key set, then nothing more: the timeout covers the document too.
    Stalls,
}

/// A platform whose issuer the test switches between healthy and failing; `sent()` counts its
/// fetches. Every authenticator on the same platform shares its cache (the Cache API).
fn switchable_issuer() -> (MemoryPlatform, std::rc::Rc<std::cell::Cell<Issuer>>) {
    let state = std::rc::Rc::new(std::cell::Cell::new(Issuer::Healthy));
    let answer = state.clone();
    let document = jwks().to_string();
    let platform = MemoryPlatform::new(move |_| match answer.get() {
        Issuer::Healthy => Ok((200, vec![("content-type", "application/json".into())], document.clone().into_bytes())),
        Issuer::Status(status) => Ok((status, vec![], b"{\"error\": \"down\"}".to_vec())),
        Issuer::Html => Ok((200, vec![("content-type", "text/html".into())], b"<html>maintenance</html>".to_vec())),
        Issuer::Timeout => Err(crate::http::FetchFailure::Timeout),
        Issuer::Stalls => {
            let half = document.as_bytes()[..document.len() / 2].to_vec();
            Ok((200, vec![("content-type", "application/json".into()), (STALLS, String::new())], half))
        }
    });
    platform.clock.set(NOW);
    (platform, state)
}

fn model_status(auth: &Authenticator, platform: &MemoryPlatform, token: &str) -> u16 {
    let headers = [("authorization", bearer(token))];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
    status(auth, platform, &[], &headers, MODEL)
}

#[test]
fn backoff_doubles_from_five_seconds_up_to_five_minutes() {
    use super::jwks::backoff_seconds;
    let waits: Vec<f64> = (0..10).map(backoff_seconds).collect();
    assert_eq!(waits, [0.0, 5.0, 10.0, 20.0, 40.0, 80.0, 160.0, 300.0, 300.0, 300.0]);
    assert_eq!(backoff_seconds(u32::MAX), 300.0);
}

#[test]
fn a_failing_issuer_is_asked_again_only_after_its_backoff() {
    use super::jwks::backoff_seconds;
    let failures =
        [Issuer::Status(500), Issuer::Status(503), Issuer::Status(404), Issuer::Html, Issuer::Timeout, Issuer::Stalls];
    for failure in failures {
        let auth = authenticator("HS256");
        let (platform, issuer) = switchable_issuer();
        issuer.set(failure);
        let token = access_token("RS256", "rsa-1", access_claims(json!({"exp": NOW + 30.0 * 3600.0})));
        for _ in 0..6 {
            assert_eq!(model_status(&auth, &platform, &token), 401, "{failure:?}");
        }
        assert_eq!(platform.sent().len(), 1, "{failure:?}: six requests asked a failing issuer more than once");
        // Each further failure doubles the wait, up to five minutes.
        for failures in 1..=10 {
            let wait = backoff_seconds(failures);
            platform.advance(wait - 0.5);
            assert_eq!(model_status(&auth, &platform, &token), 401);
            assert_eq!(model_status(&auth, &platform, &token), 401);
            assert_eq!(platform.sent().len(), failures as usize, "{failure:?}: asked during backoff {failures}");
            platform.advance(0.5);
            assert_eq!(model_status(&auth, &platform, &token), 401);
            assert_eq!(platform.sent().len(), failures as usize + 1, "{failure:?}: not asked after backoff {failures}");
        }
        // The issuer is back: the next try succeeds and the keys are cached again.
        issuer.set(Issuer::Healthy);
        platform.advance(300.0);
        assert_eq!(model_status(&auth, &platform, &token), 200);
        let fetches = platform.sent().len();
        for _ in 0..5 {
            assert_eq!(model_status(&auth, &platform, &token), 200);
        }
        assert_eq!(platform.sent().len(), fetches);
        // A later failure starts again from the shortest wait.
        issuer.set(failure);
        platform.advance(3601.0);
        assert_eq!(model_status(&auth, &platform, &token), 200, "the last good keys stand in");
        assert_eq!(platform.sent().len(), fetches + 1);
        platform.advance(4.0);
        assert_eq!(model_status(&auth, &platform, &token), 200);
        assert_eq!(platform.sent().len(), fetches + 1);
        platform.advance(1.0);
        assert_eq!(model_status(&auth, &platform, &token), 200);
        assert_eq!(platform.sent().len(), fetches + 2);
    }
}

#[test]
fn the_last_good_key_set_stands_in_while_the_issuer_fails() {
    let auth = authenticator("HS256");
    let (platform, issuer) = switchable_issuer();
    let token = access_token("RS256", "rsa-1", access_claims(json!({"exp": NOW + 30.0 * 3600.0})));
    let es_token = access_token("ES256", "ec-1", access_claims(json!({"exp": NOW + 30.0 * 3600.0})));
    assert_eq!(model_status(&auth, &platform, &token), 200);
    assert_eq!(platform.sent().len(), 1);
    issuer.set(Issuer::Status(500));
    platform.advance(3601.0);
    for _ in 0..6 {
        assert_eq!(model_status(&auth, &platform, &token), 200);
        assert_eq!(model_status(&auth, &platform, &es_token), 200);
    }
    assert_eq!(platform.sent().len(), 2, "one refresh failed, then the backoff holds");
    // A new isolate finds the last good set and the backoff in the shared cache.
    let fresh_isolate = authenticator("HS256");
    assert_eq!(model_status(&fresh_isolate, &platform, &token), 200);
    assert_eq!(platform.sent().len(), 2, "a new isolate asked the failing issuer at once");
    // A set is not used for ever: a day after its fetch it no longer stands in.
    for _ in 0..(22 * 12) {
        platform.advance(300.0);
        assert_eq!(model_status(&auth, &platform, &token), 200);
    }
    platform.advance(3600.0);
    assert_eq!(model_status(&auth, &platform, &token), 401);
    assert_eq!(model_status(&authenticator("HS256"), &platform, &token), 401);
    // Logs say what failed, never with a token or key.
    let logs = platform.logs.borrow();
    assert!(logs.iter().any(|line| line.contains("jwks_fetch_failed") && line.contains("status 500")));
    let n = jwks()["keys"][0]["n"].as_str().unwrap().to_string();
    for line in logs.iter() {
        assert!(!line.contains(&token) && !line.contains(&token[..40]) && !line.contains(&n[..40]), "{line}");
    }
}

#[test]
fn an_unknown_kid_refetch_that_fails_keeps_the_keys_and_backs_off() {
    let auth = authenticator("HS256");
    let (platform, issuer) = switchable_issuer();
    let good = access_token("RS256", "rsa-1", access_claims(json!({"exp": NOW + 7200.0})));
    let rotated = access_token("RS256", "rsa-2", access_claims(json!({"exp": NOW + 7200.0})));
    assert_eq!(model_status(&auth, &platform, &good), 200);
    issuer.set(Issuer::Status(500));
    platform.advance(3600.0 - 2.0);
    assert_eq!(model_status(&auth, &platform, &rotated), 401);
    assert_eq!(platform.sent().len(), 2, "an unknown kid refetches");
    assert_eq!(model_status(&auth, &platform, &good), 200, "the failed refetch dropped the keys");
    // The set is now past its TTL, but the issuer's backoff holds: no fetch, the keys stand in.
    platform.advance(3.0);
    assert_eq!(model_status(&auth, &platform, &good), 200);
    assert_eq!(model_status(&auth, &platform, &rotated), 401);
    assert_eq!(platform.sent().len(), 2);
    platform.advance(2.0);
    assert_eq!(model_status(&auth, &platform, &good), 200);
    assert_eq!(platform.sent().len(), 3, "the backoff passed");
    // Unknown kids wait for the backoff too, even past the refetch interval.
    for _ in 0..4 {
        platform.advance(61.0);
        assert_eq!(model_status(&auth, &platform, &rotated), 401);
    }
    let waits: f64 = [10.0, 20.0, 40.0, 80.0].iter().sum();
    assert!(platform.sent().len() <= 3 + (4.0 * 61.0 / waits).ceil() as usize + 1, "{}", platform.sent().len());
}

#[test]
fn a_backoff_is_shared_with_other_isolates() {
    let (platform, issuer) = switchable_issuer();
    issuer.set(Issuer::Status(500));
    let token = access_token("RS256", "rsa-1", access_claims(json!({})));
    assert_eq!(model_status(&authenticator("HS256"), &platform, &token), 401);
    assert_eq!(platform.sent().len(), 1);
    platform.advance(1.0);
    let other = authenticator("HS256");
    for _ in 0..3 {
        assert_eq!(model_status(&other, &platform, &token), 401);
    }
    assert_eq!(platform.sent().len(), 1, "another isolate ignored the recorded backoff");
    issuer.set(Issuer::Healthy);
    platform.advance(4.0);
    assert_eq!(model_status(&other, &platform, &token), 200);
    assert_eq!(platform.sent().len(), 2);
}

#[test]
fn jwks_keys_are_pinned_to_their_declared_algorithm() {
    use super::jwks::KeySet;
    let rsa = &jwks()["keys"][0];
    let mut as_ps256 = rsa.clone();
    as_ps256["kid"] = json!("ps");
    as_ps256["alg"] = json!("PS256");
    let mut undeclared = rsa.clone();
    undeclared["kid"] = json!("plain");
    undeclared.as_object_mut().unwrap().remove("alg");
    let mut encryption = rsa.clone();
    encryption["kid"] = json!("enc");
    encryption["use"] = json!("enc");
    let odd = json!({"kty": "RSA", "kid": 7, "n": ["not", "base64"]});
    let document = json!({"keys": [as_ps256, undeclared, encryption, odd, "text", rsa]}).to_string();
    let set = KeySet::parse(document.as_bytes()).unwrap();
    assert!(set.find(Some("ps"), "RS256").is_none());
    assert!(set.find(Some("enc"), "RS256").is_none());
    assert!(set.find(Some("plain"), "RS256").is_some());
    assert!(set.find(Some("rsa-1"), "RS256").is_some());
    assert!(set.find(Some("rsa-1"), "ES256").is_none());
    for useless in [&br#"{"keys": []}"#[..], br#"{"keys": [{"kty": "oct", "k": "c2VjcmV0"}]}"#, b"<html></html>", b"{}"]
    {
        assert!(KeySet::parse(useless).is_none(), "{}", String::from_utf8_lossy(useless));
    }
}

#[test]
fn the_isolates_jwks_state() {
    use super::jwks::{Backoff, JwksCache, KeySet};
    let cache = JwksCache::default();
    assert!(cache.may_fetch(NOW) && !cache.fetch_in_flight(NOW, 5.0) && cache.last_good(NOW).is_none());
    // A fetch under way, and one whose request was dropped before it ended.
    cache.begin_fetch(NOW);
    assert!(cache.fetch_in_flight(NOW + 4.9, 5.0) && !cache.fetch_in_flight(NOW + 5.0, 5.0));
    cache.end_fetch();
    assert!(!cache.fetch_in_flight(NOW, 5.0));
    // Another isolate's backoff is taken over when it lasts longer.
    cache.adopt(Backoff { failures: 3, retry_at: NOW + 20.0 });
    assert!(!cache.may_fetch(NOW + 19.9) && cache.may_fetch(NOW + 20.0));
    cache.adopt(Backoff { failures: 1, retry_at: NOW + 5.0 });
    assert!(!cache.may_fetch(NOW + 19.9));
    assert_eq!(cache.failed(NOW + 20.0), Backoff { failures: 4, retry_at: NOW + 60.0 });
    cache.succeeded();
    assert!(cache.may_fetch(NOW + 20.0));
    assert_eq!(cache.failed(NOW + 30.0), Backoff { failures: 1, retry_at: NOW + 35.0 });
    // An older set (from the shared cache) never replaces a newer one.
    let set = || KeySet::parse(jwks().to_string().as_bytes()).unwrap();
    cache.store(set(), NOW);
    cache.store(set(), NOW - 4000.0);
    assert!(cache.fresh(NOW + 1.0).is_some());
    assert!(cache.fresh(NOW + 3600.0).is_none() && cache.last_good(NOW + 3600.0).is_some());
    assert!(cache.last_good(NOW + 24.0 * 3600.0).is_none());
}

fn consumer(allow: &[&str]) -> Identity {
    let allow = allow.iter().map(|entry| serde_json::from_value(json!(entry)).unwrap()).collect();
    Identity::Consumer(std::sync::Arc::new(Consumer { name: "shop".into(), allow }))
}

#[test]
fn a_consumer_may_call_exactly_what_it_is_allowed() {
    let model = |name| Access::Service { exposure: Exposure::Inference, name, scope: Some("get::prediction") };
    let pi = |name| Access::Service { exposure: Exposure::Telemetry, name, scope: None };
    let webhook = |required| Access::Webhook { sender: "u1", required };
    let conversation = Access::Rasa { conversation_id: Some("shop") };
    let status_of = |identity: &Identity, access| match authorize(identity, access) {
        Ok(()) => 200,
        Err(error) => error.status(),
    };
    let shop = consumer(&["webhook", "models/catsdogs"]);
    let wall = consumer(&["pi/*"]);
    let nothing = consumer(&[]);
    let cases = [
        (&shop, model("catsdogs"), 200),
        (&shop, model("CatsDogs"), 200),
        (&shop, model("other"), 403),
        (&shop, pi("catsdogs"), 403),
        (&shop, pi("livingroom"), 403),
        (&shop, Access::TelemetryList, 403),
        (&shop, STATUS, 403),
        (&shop, conversation, 403),
        (&shop, webhook(true), 200),
        (&shop, webhook(false), 200),
        (&shop, Access::Public, 200),
        (&wall, pi("livingroom"), 200),
        (&wall, pi("kitchen"), 200),
        (&wall, Access::TelemetryList, 200),
        (&wall, model("catsdogs"), 403),
        (&wall, webhook(true), 403),
        (&wall, webhook(false), 200),
        (&nothing, Access::TelemetryList, 403),
        (&nothing, model("catsdogs"), 403),
        (&nothing, webhook(false), 200),
    ];
    for (identity, access, expected) in cases {
        assert_eq!(status_of(identity, access), expected, "{identity:?} {access:?}");
    }
    let refused = authorize(&shop, STATUS).unwrap_err().body();
    assert_eq!(refused["message"], "User has insufficient permissions.");
    assert_eq!(refused["reason"], "NotAuthorized");
}

#[test]
fn a_consumers_key_names_the_consumer_and_never_mixes_with_another() {
    let config: AuthConfig = serde_json::from_value(json!({
        "token": TOKEN,
        "consumers": [{"name": "shop", "key": "shop-key", "allow": ["models/*"]},
                      {"name": "wall", "key": "wall-key", "allow": ["pi/*"]}]
    }))
    .unwrap();
    let auth = Authenticator::from_config(Some(&config)).unwrap().unwrap();
    let platform = platform();
    let identity = |query: &[&str], header: Option<&str>| {
        let headers: Headers = header.map(|h| ("access_token", h)).into_iter().collect();
        let credentials = Credentials::from_request(query.iter().map(|t| t.to_string()).collect(), &headers);
        block_on(auth.authenticate(&credentials, &platform))
    };
    assert_eq!(identity(&["shop-key"], None).consumer(), Some("shop"));
    assert_eq!(identity(&[], Some("wall-key")).consumer(), Some("wall"));
    assert_eq!(identity(&["shop-key"], Some("shop-key")).consumer(), Some("shop"));
    assert_eq!(identity(&[TOKEN], None), Identity::Admin);
    assert_eq!(identity(&["shop-key"], Some("wall-key")), Identity::Anonymous);
    assert_eq!(identity(&["shop-key"], Some(TOKEN)), Identity::Anonymous);
    assert_eq!(identity(&["shop-key", "wrong"], None), Identity::Anonymous);
    assert_eq!(identity(&["Shop-key"], None), Identity::Anonymous);
    // Consumers without a shared token.
    let config: AuthConfig =
        serde_json::from_value(json!({"consumers": [{"name": "shop", "key": "shop-key"}]})).unwrap();
    let auth = Authenticator::from_config(Some(&config)).unwrap().unwrap();
    let credentials = Credentials::from_request(vec!["shop-key".into()], &Headers::new());
    assert_eq!(block_on(auth.authenticate(&credentials, &platform)).consumer(), Some("shop"));
}

// --- Verified tokens: a token verified once is not verified again while its times hold ----------

fn jwt_verifier(algorithm: &str) -> JwtVerifier {
    let config: crate::config::JwtConfig = match algorithm {
        "RS256" => serde_json::from_value(json!({"algorithm": "RS256", "public_key": keys().rsa_pem})),
        other => serde_json::from_value(json!({"algorithm": other, "secret": SECRET})),
    }
    .unwrap();
    JwtVerifier::from_config(&config).unwrap()
}

#[test]
fn a_token_verified_once_is_held_and_answers_the_same() {
    for algorithm in ["HS256", "RS256"] {
        let verifier = jwt_verifier(algorithm);
        let token = mint(json!({"alg": algorithm, "typ": "JWT"}), user("ana", "user"), SECRET.as_bytes(), None);
        let platform = platform();
        let first = block_on(verifier.verify(&token, &platform)).expect("verifies");
        let checked = platform.signatures_checked.get();
        let again = block_on(verifier.verify(&token, &platform)).expect("verifies again");
        assert_eq!(platform.signatures_checked.get(), checked, "{algorithm}: verified once");
        assert_eq!((first.username, first.role), (again.username.clone(), again.role.clone()));
        assert_eq!(again.username.as_deref(), Some("ana"));
        assert_eq!(verifier.verified_tokens(), 1, "{algorithm}");
    }
}

#[test]
fn a_held_token_does_not_let_a_forged_one_pass() {
    let verifier = jwt_verifier("HS256");
    let platform = platform();
    let token = hs256(user("ana", "admin"));
    assert!(block_on(verifier.verify(&token, &platform)).is_some());
    // The same header and claims with another signature, and the held token with a byte more.
    let (signed, _) = token.rsplit_once('.').unwrap();
    let forged = format!("{signed}.{}", b64(&[0u8; 32]));
    assert!(block_on(verifier.verify(&forged, &platform)).is_none());
    assert!(block_on(verifier.verify(&format!("{token}A"), &platform)).is_none());
    assert_eq!(verifier.verified_tokens(), 1);
}

#[test]
fn a_held_token_expires_as_any_other() {
    let verifier = jwt_verifier("HS256");
    let platform = platform();
    let token = hs256(json!({"user": {"username": "ana", "role": "admin"}, "exp": NOW + 60.0}));
    assert!(block_on(verifier.verify(&token, &platform)).is_some());
    platform.advance(59.0);
    assert!(block_on(verifier.verify(&token, &platform)).is_some());
    // Past `exp` and the default leeway (180 s).
    platform.advance(182.0);
    assert!(block_on(verifier.verify(&token, &platform)).is_none(), "expired, though held");
    assert_eq!(verifier.verified_tokens(), 0, "dropped once expired");
}

#[test]
fn the_verified_tokens_held_are_bounded() {
    let verifier = jwt_verifier("HS256");
    let platform = platform();
    for n in 0..=super::verified::MAX_VERIFIED_TOKENS {
        let token = hs256(json!({"user": {"username": format!("u{n}"), "role": "user"}, "exp": NOW + 600.0}));
        assert!(block_on(verifier.verify(&token, &platform)).is_some());
    }
    assert!(verifier.verified_tokens() <= super::verified::MAX_VERIFIED_TOKENS);
    // A token longer than the longest held verifies, and is not held.
    let long = hs256(json!({"user": {"username": "u".repeat(super::verified::MAX_HELD_TOKEN_BYTES), "role": "user"},
                            "exp": NOW + 600.0}));
    let held = verifier.verified_tokens();
    assert!(block_on(verifier.verify(&long, &platform)).is_some());
    assert_eq!(verifier.verified_tokens(), held);
}

#[test]
fn an_access_token_is_held_by_the_key_set_that_verified_it() {
    let config: crate::config::OidcConfig =
        serde_json::from_value(json!({"issuer": ISSUER, "audience": AUDIENCE})).unwrap();
    let verifier = OidcVerifier::from_config(config).unwrap();
    let platform = platform();
    let token = access_token("RS256", "rsa-1", access_claims(json!({})));
    let set = super::jwks::KeySet::parse(jwks().to_string().as_bytes()).unwrap();
    for checked in [1, 1] {
        let identity = block_on(verifier.verify(&token, &set, &platform));
        assert_eq!(platform.signatures_checked.get(), checked, "the signature checked once");
        assert!(
            matches!(identity, Some(Identity::Client { ref subject, .. }) if subject == "client-7"),
            "{identity:?}"
        );
    }
    assert_eq!(set.verified.held(), 1);
    // Another audience's token, validly signed, is refused and not held.
    let other = access_token("RS256", "rsa-1", access_claims(json!({"aud": "someone-else"})));
    assert!(block_on(verifier.verify(&other, &set, &platform)).is_none());
    assert_eq!(set.verified.held(), 1);
    // The issuer withdrew the RSA key: the set fetched anew refuses the token the old one held.
    let mut withdrawn = jwks();
    withdrawn["keys"].as_array_mut().unwrap().retain(|key| key["kid"] != "rsa-1");
    let fetched_anew = super::jwks::KeySet::parse(withdrawn.to_string().as_bytes()).unwrap();
    assert!(block_on(verifier.verify(&token, &fetched_anew, &platform)).is_none());
}
