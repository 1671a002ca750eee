use serde_json::json;

use super::*;

fn no_vars(_: &str) -> Option<String> {
    None
}

fn parse(raw: Value) -> Result<Config> {
    Config::parse(raw, &|name| (name == "PI_KEY").then(|| "pi-secret".to_string()))
}

#[test]
fn the_contract_example_parses() {
    let raw = json!({
      "auth": {"token": "t", "jwt": {"secret": "s", "algorithm": "HS256", "leeway": 180},
               "oidc": {"issuer": "https://issuer.example/", "audience": "catsdogs-api",
                        "jwks_uri": "https://issuer.example/.well-known/jwks.json"},
               "webhook": "public"},
      "cors": {"allow_origins": ["https://shop.example"]},
      "proxy": {"max_body_bytes": 33554432},
      "extensions": {"rest": {"timeout": 5, "garbage_collector_timeout": 3600, "services": [
        {"name": "catsdogs", "base_url": "http://127.0.0.1:8080/", "expose": "inference", "scope": "get::prediction", "timeout": 30},
        {"name": "livingroom", "base_url": "http://raspberrypi.local:8081/", "expose": "telemetry",
         "headers": {"access_token": "${PI_KEY}"}, "cache": 10},
        {"name": "rasa", "base_url": "http://127.0.0.1:5005/", "expose": "rasa"},
        {"name": "api_github", "base_url": "https://api.github.com/"}]}},
      "chat": {"upstream": null, "nlu": null},
      "dialog": [{"condition": "true", "response": "hi"}]
    });
    let config = parse(raw).unwrap();
    let pi = config.extensions.rest.service("LivingRoom").unwrap();
    assert_eq!(pi.headers["access_token"], "pi-secret");
    assert_eq!(pi.cache_seconds(), Some(10.0));
    assert_eq!(config.max_body_bytes(pi), 33554432);
    let own_limit = ServiceConfig { max_body_bytes: Some(10), ..Default::default() };
    assert_eq!(config.max_body_bytes(&own_limit), 10);
    assert_eq!(config.extensions.rest.timeout_ms(pi), 5000);
    assert_eq!(config.auth.unwrap().jwt.unwrap().leeway, 180);
}

#[test]
fn an_empty_object_is_a_valid_open_gateway() {
    let config = Config::parse(json!({}), &no_vars).unwrap();
    assert!(config.auth.is_none());
    assert_eq!(config.max_body_bytes(&ServiceConfig::default()), DEFAULT_MAX_BODY_BYTES);
}

#[test]
fn unknown_fields_are_refused_with_their_path() {
    let cases = [
        (json!({"atuh": {}}), "atuh"),
        (json!({"auth": {"tokn": "x"}}), "tokn"),
        (json!({"extensions": {"rest": {"services": [{"name": "a", "nmae": "b"}]}}}), "nmae"),
    ];
    for (raw, field) in cases {
        let error = Config::parse(raw, &no_vars).unwrap_err();
        assert_eq!(error.kind, crate::error::ErrorKind::ConfigError);
        assert!(error.message.contains(field), "{}", error.message);
    }
}

#[test]
fn nested_unknown_field_error_names_its_location() {
    let raw = json!({"extensions": {"rest": {"services": [{"name": "a", "nmae": "b"}]}}});
    let error = Config::parse(raw, &no_vars).unwrap_err();
    assert!(error.message.contains("extensions.rest.services[0]"), "{}", error.message);
}

#[test]
fn duplicate_service_names_use_maxbots_message() {
    let raw = json!({"extensions": {"rest": {"services": [
        {"name": "my_service", "base_url": "http://a/"}, {"name": "My_Service", "base_url": "http://b/"}]}}});
    let error = Config::parse(raw, &no_vars).unwrap_err();
    assert!(error.message.contains("Duplicate REST service names: 'My_Service' and 'my_service'"), "{}", error.message);
}

#[test]
fn invalid_values_are_refused() {
    let cases = [
        json!({"auth": {"webhook": "sometimes"}}),
        json!({"auth": {"jwt": {"algorithm": "none", "secret": "s"}}}),
        json!({"auth": {"jwt": {"algorithm": "HS256"}}}),
        json!({"auth": {"jwt": {"algorithm": "RS256", "secret": "s"}}}),
        json!({"extensions": {"rest": {"services": [{"name": "a", "base_url": "not a url"}]}}}),
        json!({"extensions": {"rest": {"services": [{"name": "a", "method": "fetch"}]}}}),
        json!({"extensions": {"rest": {"services": [{"name": "a", "expose": "inference"}]}}}),
        json!({"extensions": {"rest": {"services": [{"name": "a/b", "base_url": "http://x/", "expose": "rasa"}]}}}),
        json!({"chat": {"upstream": "nowhere"}}),
        json!({"proxy": {"max_body_bytes": -1}}),
        json!({"dialog": [{"condition": "true"}]}),
    ];
    for raw in cases {
        assert!(Config::parse(raw.clone(), &no_vars).is_err(), "accepted {raw}");
    }
}

#[test]
fn a_missing_variable_is_a_config_error_naming_it() {
    let error = Config::parse(json!({"auth": {"token": "${NOPE}"}}), &no_vars).unwrap_err();
    assert!(error.message.contains("NOPE"));
}

#[test]
fn text_config_that_is_not_json_is_a_config_error() {
    let error = Config::parse_str("{not json", &no_vars).unwrap_err();
    assert!(error.message.contains("GATEWAY_CONFIG"));
}

#[test]
fn telemetry_services_redact_pi_secrets_by_default() {
    let raw = json!({"extensions": {"rest": {"services": [
        {"name": "pi", "base_url": "http://pi/", "expose": "telemetry", "redact": ["serial"]}]}}});
    let config = Config::parse(raw, &no_vars).unwrap();
    let keys = config.extensions.rest.services[0].redacted_keys();
    assert_eq!(keys, vec!["serial", "wpa_passphrase", "password"]);
}

/// A value put in by `${NAME}` may be a secret: an error names the field and the expected type,
/// never the value.
#[test]
fn wrong_values_are_named_by_field_and_type_never_shown() {
    let secret = "s3cret-\"value\", expected u64";
    let lookup = |name: &str| (name == "SECRET").then(|| secret.to_string());
    let cases = [
        (
            json!({"auth": {"jwt": {"secret": "s", "leeway": "${SECRET}"}}}),
            "auth.jwt.leeway",
            "invalid type: string, expected u64",
        ),
        (json!({"auth": {"webhook": "${SECRET}"}}), "auth.webhook", "unknown variant, expected `public` or `required`"),
        (
            json!({"auth": {"jwt": {"secret": "s", "algorithm": "${SECRET}"}}}),
            "auth.jwt.algorithm",
            "unknown variant, expected one of",
        ),
        (
            json!({"proxy": {"max_body_bytes": "${SECRET}"}}),
            "proxy.max_body_bytes",
            "invalid type: string, expected u64",
        ),
        (
            json!({"extensions": {"rest": {"services": [{"name": "a", "auth": "${SECRET}"}]}}}),
            "extensions.rest.services[0].auth",
            "invalid type: string, expected struct BasicAuth",
        ),
        (
            json!({"extensions": {"rest": {"services": [{"name": "a", "expose": "${SECRET}"}]}}}),
            "extensions.rest.services[0].expose",
            "unknown variant, expected one of",
        ),
        (
            json!({"extensions": {"rest": {"services": [{"name": "a", "headers": {"k": 12345678}}]}}}),
            "extensions.rest.services[0].headers.k",
            "invalid type: integer, expected a string",
        ),
        (
            json!({"extensions": {"rest": {"services": [{"name": "a", "timeout": "${SECRET}"}]}}}),
            "extensions.rest.services[0].timeout",
            "data did not match any variant",
        ),
        (
            json!({"proxy": {"max_body_bytes": -12345678}}),
            "proxy.max_body_bytes",
            "invalid value: integer, expected u64",
        ),
        (
            json!({"auth": {"jwt": {"secret": "s", "leeway": 1234.5678}}}),
            "auth.jwt.leeway",
            "invalid type: floating point, expected u64",
        ),
    ];
    for (raw, field, message) in cases {
        let error = Config::parse(raw.clone(), &lookup).unwrap_err();
        let body = error.body().to_string();
        for shown in ["s3cret", "12345678", "1234.5678"] {
            assert!(!body.contains(shown), "{raw} shows {shown}: {body}");
        }
        assert_eq!(error.details["field"], field, "{raw}");
        assert!(error.message.contains(field) && error.message.contains(message), "{raw}: {}", error.message);
    }
}

#[test]
fn path_rules_are_checked_at_load_and_errors_name_the_field() {
    let with_paths = |service: Value| {
        Config::parse(json!({"extensions": {"rest": {"services": [service]}}}), &no_vars).map(|_| ()).unwrap_err()
    };
    let pi =
        |paths: Value| json!({"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry", "paths": paths});
    for (paths, field, why) in [
        (json!(["/system", "system"]), "extensions.rest.services[0].paths[1]", "must start with /"),
        (json!(["/dns/**logs"]), "extensions.rest.services[0].paths[0]", "whole path segment"),
        (json!(["/a//b"]), "extensions.rest.services[0].paths[0]", "empty segment"),
        (json!("/system"), "extensions.rest.services[0].paths", "invalid type"),
    ] {
        let error = with_paths(pi(paths.clone()));
        assert_eq!(error.body()["details"]["field"], field, "{paths}");
        assert!(error.message.contains(why), "{paths}: {}", error.message);
    }
    let unexposed = with_paths(json!({"name": "api", "base_url": "http://a.example/", "paths": ["/x"]}));
    assert_eq!(unexposed.body()["details"]["field"], "extensions.rest.services[0].paths");
    let config =
        Config::parse(json!({"extensions": {"rest": {"services": [pi(json!(["/system", "/clients/*"]))]}}}), &no_vars)
            .unwrap();
    let service = config.extensions.rest.service("pi").unwrap();
    assert!(service.forwards("clients/wlan0"));
    assert!(!service.forwards("openvpn/client"));
    assert!(ServiceConfig::default().forwards("anything"));
}

#[test]
fn limits_are_checked_at_load_and_errors_name_the_field() {
    let base = |limits: Value| {
        json!({
            "auth": {"token": "t", "consumers": [{"name": "shop", "key": "k", "allow": ["webhook"]}]},
            "extensions": {"rest": {"services": [
                {"name": "catsdogs", "base_url": "http://m.local/", "expose": "inference"}
            ]}},
            "limits": limits
        })
    };
    let limit = |extra: Value| {
        let mut limit = json!({"name": "chat", "key": "ip", "requests": 5, "period": 60});
        limit.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        limit
    };
    let contract = json!([
        { "name": "chat",   "routes": ["webhook"],       "key": "sender",   "requests": 20,    "period": 60 },
        { "name": "per-ip", "key": "ip",                  "requests": 600,   "period": 60 },
        { "name": "shop",   "consumers": ["shop"],        "key": "consumer", "requests": 10000, "period": 86400 },
        { "name": "model",  "routes": ["models/catsdogs"], "key": "identity", "requests": 100,   "period": 3600 },
        { "name": "burst", "key": "ip", "requests": 10, "period": 10, "approximate": true, "fail": "closed" }
    ]);
    assert_eq!(parse(base(contract)).unwrap().limits.len(), 5);
    for (limits, field, why) in [
        (json!([limit(json!({"requests": 0}))]), "limits[0].requests", "positive integer"),
        (json!([limit(json!({"requests": -3}))]), "limits[0].requests", "invalid value"),
        (json!([limit(json!({"period": 1.5}))]), "limits[0].period", "invalid type"),
        (json!([limit(json!({"period": "60"}))]), "limits[0].period", "invalid type"),
        (json!([limit(json!({"key": "cookie"}))]), "limits[0].key", "unknown variant"),
        (json!([limit(json!({"routes": ["models"]}))]), "limits[0].routes[0]", "must be one of"),
        (json!([limit(json!({"routes": ["models/unknown"]}))]), "limits[0].routes[0]", "not an exposed inference"),
        (json!([limit(json!({"routes": []}))]), "limits[0].routes", "must not be empty"),
        (json!([limit(json!({"consumers": ["nobody"]}))]), "limits[0].consumers[0]", "not the name of a consumer"),
        (json!([limit(json!({})), limit(json!({}))]), "limits[1].name", "duplicate limit name"),
        (json!([limit(json!({"name": "a b"}))]), "limits[0].name", "letters, digits"),
        (json!([limit(json!({"approximate": true, "period": 30}))]), "limits[0].period", "10 or 60"),
        (json!([limit(json!({"fail": "sometimes"}))]), "limits[0].fail", "unknown variant"),
        (json!([limit(json!({"burst": 3}))]), "limits[0].burst", "unknown field"),
    ] {
        let error = parse(base(limits.clone())).unwrap_err();
        assert_eq!(error.body()["details"]["field"], field, "{limits}");
        assert!(error.message.contains(why), "{limits}: {}", error.message);
    }
}

#[test]
fn stale_if_error_needs_cache_and_the_error_names_the_field() {
    let service = |extra: Value| {
        let mut service = json!({"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry"});
        service.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        json!({"extensions": {"rest": {"services": [service]}}})
    };
    let error = parse(service(json!({"stale_if_error": 60}))).unwrap_err();
    assert_eq!(error.body()["details"]["field"], "extensions.rest.services[0].stale_if_error");
    assert!(error.message.contains("cache"), "{}", error.message);
    let config = parse(service(json!({"cache": 10, "stale_if_error": {"hours": 1}}))).unwrap();
    assert_eq!(config.extensions.rest.services[0].stale_if_error_seconds(), Some(3600.0));
    let config = parse(service(json!({"cache": 10}))).unwrap();
    assert_eq!(config.extensions.rest.services[0].stale_if_error_seconds(), None);
}

/// The proxy cannot send a base URL's `user:password@`, so an exposed service refuses it at load,
/// by the rule `fallback_urls` follow, naming the field and no secret. rest_call sends it as Basic
/// auth (as httpx does), so a service that is not exposed keeps it.
#[test]
fn an_exposed_services_base_url_with_userinfo_is_refused_without_showing_it() {
    let service = |base_url: &str, expose: Option<&str>| {
        let mut service = json!({"name": "pi", "base_url": base_url});
        if let Some(expose) = expose {
            service["expose"] = json!(expose);
        }
        parse(json!({"extensions": {"rest": {"services": [service]}}}))
    };
    let with_userinfo = [
        "http://s3cret-user:s3cret-pass@pi.local/",
        "http://s3cret-user@pi.local/",
        "https://:s3cret-pass@pi.local/api/",
        "http://s3cret-user:${PI_KEY}@pi.local/",
    ];
    for base_url in with_userinfo {
        for expose in ["inference", "telemetry", "rasa"] {
            let error = service(base_url, Some(expose)).unwrap_err();
            assert_eq!(error.kind, crate::error::ErrorKind::ConfigError, "{base_url}");
            assert_eq!(error.details["field"], "extensions.rest.services[0].base_url", "{base_url}");
            assert!(error.message.contains("must not hold user:password@"), "{base_url}: {}", error.message);
            let shown = error.body().to_string();
            for secret in ["s3cret", "pi-secret", "pi.local"] {
                assert!(!shown.contains(secret), "{base_url}: {shown}");
            }
        }
        assert!(service(base_url, None).is_ok(), "rest_call's form: {base_url}");
    }
    assert!(service("http://pi.local/api/", Some("telemetry")).is_ok());
}

#[test]
fn resilience_fields_are_checked_at_load_and_errors_name_the_field() {
    let with = |fields: Value| {
        let mut service = json!({"name": "pi", "base_url": "http://pi.local/", "expose": "telemetry"});
        service.as_object_mut().unwrap().extend(fields.as_object().unwrap().clone());
        parse(json!({"extensions": {"rest": {"services": [service]}}}))
    };
    let ok = with(json!({"retries": {"attempts": 3, "backoff": 0.2}, "fallback_urls": ["https://b.example/pi/"],
                         "circuit": {"failures": 5, "cooldown": 30}}))
    .unwrap();
    let service = &ok.extensions.rest.services[0];
    assert_eq!(service.retries, Some(RetriesConfig { attempts: 3, backoff: 0.2 }));
    assert_eq!(service.circuit, Some(CircuitConfig { failures: 5, cooldown: 30.0 }));
    assert!(with(json!({"retries": {"attempts": 1}})).is_ok(), "backoff defaults to none");
    let at = "extensions.rest.services[0]";
    for (fields, field, why) in [
        (json!({"retries": {"attempts": 0}}), "retries.attempts", "from 1 to 10"),
        (json!({"retries": {"attempts": 11}}), "retries.attempts", "from 1 to 10"),
        (json!({"retries": {"attempts": -1}}), "retries.attempts", "invalid value"),
        (json!({"retries": {"attempts": 2, "backoff": -0.5}}), "retries.backoff", "0 or more"),
        (json!({"retries": {"attempts": 2, "backoff": 61}}), "retries.backoff", "at most 60"),
        (json!({"retries": {"backoff": 1}}), "retries", "missing field `attempts`"),
        (json!({"retries": {"attempts": 2, "jitter": 1}}), "retries.jitter", "unknown field"),
        (json!({"fallback_urls": ["ftp://b.example/"]}), "fallback_urls[0]", "http(s)"),
        (json!({"fallback_urls": ["http://b/", "file:///etc/passwd"]}), "fallback_urls[1]", "http(s)"),
        (json!({"fallback_urls": ["not a url"]}), "fallback_urls[0]", "not a valid URL"),
        (json!({"fallback_urls": ["http://u:s3cret@b/"]}), "fallback_urls[0]", "user:password"),
        (json!({"fallback_urls": ["http://b/?key=s3cret"]}), "fallback_urls[0]", "query"),
        (json!({"fallback_urls": "http://b/"}), "fallback_urls", "invalid type"),
        (json!({"circuit": {"failures": 0, "cooldown": 30}}), "circuit.failures", "positive"),
        (json!({"circuit": {"failures": 3, "cooldown": 0}}), "circuit.cooldown", "positive"),
        (json!({"circuit": {"failures": 3, "cooldown": -1}}), "circuit.cooldown", "positive"),
        (json!({"circuit": {"failures": 3}}), "circuit", "missing field `cooldown`"),
    ] {
        let error = with(fields.clone()).unwrap_err();
        let field = format!("{at}.{field}");
        assert_eq!(error.kind, crate::error::ErrorKind::ConfigError, "{fields}");
        assert_eq!(error.details["field"], field.as_str(), "{fields}: {}", error.message);
        assert!(error.message.contains(why), "{fields}: {}", error.message);
        assert!(!error.message.contains("s3cret"), "{fields}: {}", error.message);
    }
    let no_base = parse(
        json!({"extensions": {"rest": {"services": [{"name": "a", "circuit": {"failures": 1, "cooldown": 1}}]}}}),
    );
    assert_eq!(no_base.unwrap_err().details["field"], "extensions.rest.services[0].circuit");
}
