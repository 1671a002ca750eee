//! Header validation and the headers' form between Rust and JavaScript, on any input: a header
//! that passes validation is exactly one header line; whatever crosses the boundary arrives as the
//! same headers, an invalid one never; and reading any text as headers never panics and yields only
//! valid headers.
#![no_main]
use edge_gateway::edge::wire;
use edge_gateway::http::{check_header, is_token, is_valid_value, Headers};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    let mut split = (first as usize).min(text.len());
    while !text.is_char_boundary(split) {
        split -= 1;
    }
    let (name, value) = text.split_at(split);

    let valid = check_header(name, value).is_ok();
    assert_eq!(valid, is_token(name) && is_valid_value(value));
    if valid {
        assert!(name.bytes().all(|b| b.is_ascii_graphic() && !b"\"(),/:;<=>?@[\\]{}".contains(&b)));
        let line = format!("{name}: {value}\r\n");
        assert_eq!(line.matches('\n').count(), 1, "{line:?}");
        assert_eq!(line.matches('\r').count(), 1, "{line:?}");
        assert!(!line.contains('\0'));
    }

    // Rust to JavaScript: the same header, or none and the reason.
    let headers: Headers = [(name, value), ("x-after", "1")].into_iter().collect();
    let (to_js, invalid) = wire::to_js(&headers);
    let crossed = wire::pairs_of(&to_js);
    let after = ("x-after".to_string(), "1".to_string());
    if valid {
        assert_eq!(invalid, None);
        assert_eq!(crossed, vec![(name.to_ascii_lowercase(), value.to_string()), after]);
    } else {
        assert_eq!(invalid.map(|i| i.name().to_string()), Some(name.to_ascii_lowercase()));
        assert_eq!(crossed, vec![after]);
    }

    // JavaScript to Rust: the same headers back; any text read as headers yields valid ones only.
    let back = wire::from_js(&wire::header_text_of(&[(name, value), ("x-after", "1")]));
    let expected: Vec<(&str, &str)> = if valid { vec![(name, value), ("x-after", "1")] } else { vec![("x-after", "1")] };
    let lowered: Vec<(String, String)> = expected.iter().map(|(n, v)| (n.to_ascii_lowercase(), v.to_string())).collect();
    assert_eq!(back.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect::<Vec<_>>(), lowered);
    for (name, value) in wire::from_js(&text).iter() {
        assert!(check_header(name, value).is_ok(), "{name:?}: {value:?}");
    }
});
