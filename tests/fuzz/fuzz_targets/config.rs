//! GATEWAY_CONFIG parsing on any text: an error or a gateway, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let lookup = |name: &str| (name == "SET").then(|| "value".to_string());
        let _ = edge_gateway::gateway::Gateway::load(serde_json::Value::String(text.to_string()), &lookup);
    }
});
