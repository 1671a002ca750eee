//! The REST tag rewriter on any text: it must not panic, and what it accepts must compile or fail
//! with an error, never hang.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(source) = std::str::from_utf8(data) {
        if let Ok(rewritten) = edge_gateway::dialog::rewrite_tags(source) {
            let config = serde_json::json!({"dialog": [{"condition": "true", "response": rewritten}]});
            let _ = edge_gateway::gateway::Gateway::load(config, &|_| None);
        }
    }
});
