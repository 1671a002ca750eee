//! MaxBot's REST tags, `{% GET "url" name value ... %}` (also POST, PUT, DELETE, PATCH), rewritten
//! before compilation into `{% set rest = rest_call(method="get", url=(...), name=(value), ...) %}`.
//!
//! minijinja has no custom tags, so the rewrite parses just enough Jinja to find where each value
//! expression ends: as in Jinja's parser, an expression ends where an operand is followed by a
//! name that is not an operator keyword (`{% POST "u" body {"a": x|upper} timeout 3 %}`).
//!
//! MaxBot's state statements are rewritten here too: `{% set slots.name = value %}` and
//! `{% delete user.name %}` become calls of the functions in [`state`](super::state).

const TAGS: [&str; 5] = ["GET", "POST", "PUT", "DELETE", "PATCH"];
const OPERATOR_KEYWORDS: [&str; 7] = ["and", "or", "not", "in", "is", "if", "else"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Token {
    Name,
    Str,
    Number,
    Open,
    Close,
    Operator,
}

/// Rewrites every REST tag of `source`; other Jinja is left byte for byte.
pub fn rewrite_tags(source: &str) -> Result<String, String> {
    let mut out = String::with_capacity(source.len() + 64);
    let mut rest = source;
    while let Some(start) = find_opener(rest) {
        let (before, from) = rest.split_at(start);
        out.push_str(before);
        let opener = &from[..2];
        let body_start = 2;
        let end = find_closer(
            from,
            body_start,
            if opener == "{#" {
                "#}"
            } else if opener == "{{" {
                "}}"
            } else {
                "%}"
            },
        )
        .ok_or_else(|| format!("unclosed '{opener}'"))?;
        let block = &from[..end];
        if opener == "{%" {
            if let Some(rewritten) = rewrite_block(block)? {
                out.push_str(&rewritten);
            } else if block_name(block) == Some("raw") {
                let raw_end = find_endraw(from).ok_or("unclosed '{% raw %}'")?;
                out.push_str(&from[..raw_end]);
                rest = &from[raw_end..];
                continue;
            } else {
                out.push_str(block);
            }
        } else {
            out.push_str(block);
        }
        rest = &from[end..];
    }
    out.push_str(rest);
    Ok(out)
}

fn find_opener(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len().saturating_sub(1)).find(|&i| bytes[i] == b'{' && matches!(bytes[i + 1], b'%' | b'{' | b'#'))
}

/// The index just past `closer`, skipping string literals inside expressions.
fn find_closer(text: &str, from: usize, closer: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = from;
    while i < bytes.len() {
        if closer != "#}" && (bytes[i] == b'"' || bytes[i] == b'\'') {
            i = skip_string(bytes, i)?;
            continue;
        }
        if bytes[i..].starts_with(closer.as_bytes()) {
            return Some(i + closer.len());
        }
        i += 1;
    }
    None
}

fn skip_string(bytes: &[u8], start: usize) -> Option<usize> {
    let quote = bytes[start];
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b if b == quote => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

fn find_endraw(text: &str) -> Option<usize> {
    let mut offset = 0;
    while let Some(start) = text[offset..].find("{%") {
        let at = offset + start;
        let end = find_closer(text, at + 2, "%}")?;
        if block_name(&text[at..end]) == Some("endraw") {
            return Some(end);
        }
        offset = end;
    }
    None
}

/// The inner text of `{%- ... -%}` with its whitespace-control markers.
fn split_block(block: &str) -> (&str, &str, &str) {
    let inner = &block[2..block.len() - 2];
    let (left, inner) = match inner.strip_prefix(['-', '+']) {
        Some(stripped) => (&inner[..1], stripped),
        None => ("", inner),
    };
    let (inner, right) = match inner.strip_suffix(['-', '+']) {
        Some(stripped) => (stripped, &inner[inner.len() - 1..]),
        None => (inner, ""),
    };
    (left, inner, right)
}

fn block_name(block: &str) -> Option<&str> {
    let (_, inner, _) = split_block(block);
    let inner = inner.trim_start();
    let end = inner.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(inner.len());
    (end > 0).then(|| &inner[..end])
}

fn rewrite_block(block: &str) -> Result<Option<String>, String> {
    match block_name(block) {
        Some("set") => return Ok(rewrite_state_set(block)),
        Some("delete") => return rewrite_state_delete(block).map(Some),
        _ => {}
    }
    let Some(tag) = block_name(block).filter(|name| TAGS.contains(name)) else { return Ok(None) };
    let (left, inner, right) = split_block(block);
    let args = &inner.trim_start()[tag.len()..];
    let tokens = tokenize(args)?;
    let mut pieces = vec![format!("method=\"{}\"", tag.to_lowercase())];
    let mut i = 0;
    let (url_end, url) = take_expression(args, &tokens, i).ok_or_else(|| format!("the {tag} tag needs a URL"))?;
    pieces.push(format!("url=({url})"));
    i = url_end;
    while i < tokens.len() {
        let (kind, start, end) = tokens[i];
        // A literal is described, not quoted: `${NAME}` may have put a secret in the template.
        let found = match kind {
            Token::Name => None,
            Token::Str => Some("a string".to_string()),
            Token::Number => Some("a number".to_string()),
            Token::Open | Token::Close | Token::Operator => Some(format!("'{}'", &args[start..end])),
        };
        if let Some(found) = found {
            return Err(format!("the {tag} tag expected an argument name, found {found}"));
        }
        let name = &args[start..end];
        if name == "method" || name == "url" {
            return Err(format!("'{name}' cannot be passed to the {tag} tag"));
        }
        let (next, value) = take_expression(args, &tokens, i + 1)
            .ok_or_else(|| format!("the {tag} tag argument '{name}' needs a value"))?;
        pieces.push(format!("{name}=({value})"));
        i = next;
    }
    Ok(Some(format!("{{%{left} set rest = rest_call({}) {right}%}}", pieces.join(", "))))
}

/// `slots.name` or `user.name` at the start of `text`: (scope, name, the text after it).
fn state_target(text: &str) -> Option<(&str, &str, &str)> {
    let text = text.trim_start();
    let scope = ["slots", "user"].into_iter().find(|scope| text.starts_with(&format!("{scope}.")))?;
    let after = &text[scope.len() + 1..];
    let end = after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_')).unwrap_or(after.len());
    let name = &after[..end];
    let valid = name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_');
    valid.then_some((scope, name, &after[end..]))
}

/// `{% set slots.name = value %}`; any other `set` is minijinja's own and stays as it is.
fn rewrite_state_set(block: &str) -> Option<String> {
    let (left, inner, right) = split_block(block);
    let (scope, name, rest) = state_target(&inner.trim_start()["set".len()..])?;
    let value = rest.trim_start().strip_prefix('=')?;
    let function = super::state::SET_FUNCTION;
    Some(format!("{{%{left} do {function}(\"{scope}\", \"{name}\", ({value})) {right}%}}"))
}

/// `{% delete slots.name %}`.
fn rewrite_state_delete(block: &str) -> Result<String, String> {
    let (left, inner, right) = split_block(block);
    let target = state_target(&inner.trim_start()["delete".len()..]);
    let Some((scope, name, "")) = target.map(|(scope, name, rest)| (scope, name, rest.trim())) else {
        return Err("the delete tag takes one 'slots.NAME' or 'user.NAME'".into());
    };
    Ok(format!("{{%{left} do {}(\"{scope}\", \"{name}\") {right}%}}", super::state::DELETE_FUNCTION))
}

/// One expression starting at token `from`: (index of the next token, the expression's text).
fn take_expression<'a>(text: &'a str, tokens: &[(Token, usize, usize)], from: usize) -> Option<(usize, &'a str)> {
    let mut depth = 0usize;
    let mut i = from;
    while i < tokens.len() {
        let (kind, start, end) = tokens[i];
        if depth == 0 && i > from && kind == Token::Name && !OPERATOR_KEYWORDS.contains(&&text[start..end]) {
            let (prev, prev_start, prev_end) = tokens[i - 1];
            let operand_end = match prev {
                Token::Name => !OPERATOR_KEYWORDS.contains(&&text[prev_start..prev_end]),
                Token::Str | Token::Number | Token::Close => true,
                _ => false,
            };
            if operand_end {
                break;
            }
        }
        let follows_operand = i > from && matches!(tokens[i - 1].0, Token::Str | Token::Number | Token::Close);
        if kind == Token::Number && follows_operand {
            return None; // `'x' 3`: two operands in a row is no expression
        }
        match kind {
            Token::Open => depth += 1,
            Token::Close => depth = depth.checked_sub(1)?,
            _ => {}
        }
        i += 1;
    }
    (i > from).then(|| (i, &text[tokens[from].1..tokens[i - 1].2]))
}

fn tokenize(text: &str) -> Result<Vec<(Token, usize, usize)>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        let start = i;
        let kind = match c {
            b' ' | b'\t' | b'\r' | b'\n' => {
                i += 1;
                continue;
            }
            b'"' | b'\'' => {
                i = skip_string(bytes, i).ok_or("unterminated string")?;
                Token::Str
            }
            b'0'..=b'9' => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_') {
                    i += 1;
                }
                Token::Number
            }
            b'(' | b'[' | b'{' => {
                i += 1;
                Token::Open
            }
            b')' | b']' | b'}' => {
                i += 1;
                Token::Close
            }
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] >= 0x80) {
                    i += 1;
                }
                Token::Name
            }
            _ => {
                i += 1;
                Token::Operator
            }
        };
        tokens.push((kind, start, i));
    }
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rewrite(source: &str) -> String {
        rewrite_tags(source).unwrap()
    }

    #[test]
    fn simple_tags_become_rest_call_assignments() {
        assert_eq!(
            rewrite(r#"{% GET "http://h/x" %}"#),
            r#"{% set rest = rest_call(method="get", url=("http://h/x")) %}"#
        );
        assert_eq!(
            rewrite(r#"{%- PATCH 'svc://a' body {"k": v} timeout 3 -%}"#),
            r#"{%- set rest = rest_call(method="patch", url=('svc://a'), body=({"k": v}), timeout=(3)) -%}"#
        );
    }

    #[test]
    fn values_are_whole_expressions() {
        let out = rewrite("{% POST url ~ '/x' body {'k': 'v'}|urlencode headers h if x else {} on_error 'continue' %}");
        assert_eq!(
            out,
            "{% set rest = rest_call(method=\"post\", url=(url ~ '/x'), body=({'k': 'v'}|urlencode), headers=(h if x else {}), on_error=('continue')) %}"
        );
        let out = rewrite("{% GET u parameters {'a': x.y[0]} cache n * 2 %}");
        assert!(out.contains("parameters=({'a': x.y[0]}), cache=(n * 2)"), "{out}");
        let out = rewrite("{% GET u cache x is defined and y %}");
        assert!(out.contains("cache=(x is defined and y)"), "{out}");
        let multi_line = rewrite("{% POST \"http://h/\"\n    body {\"k\": \"v\"}\n    headers {'A': 'b'}\n%}");
        assert!(multi_line.contains("body=({\"k\": \"v\"}), headers=({'A': 'b'})"), "{multi_line}");
    }

    #[test]
    fn other_jinja_is_untouched() {
        let source = "{{ '{% GET x %}' }}{# {% GET x %} #}{% if a %}GET{% endif %}{% raw %}{% GET x %}{% endraw %}";
        assert_eq!(rewrite(source), source);
        assert_eq!(rewrite("{% get 'x' %}"), "{% get 'x' %}");
    }

    #[test]
    fn fuzzer_finds_stay_fixed() {
        // Found by `cargo fuzz` (tag_rewriter): a multi-byte character after an opener.
        let _ = rewrite_tags("{j{{\u{34e}$${");
        let _ = rewrite_tags("{% GET \"é\" body é %}{{ 'ü' }}{% raw %}é");
    }

    #[test]
    fn state_statements_become_state_calls() {
        assert_eq!(
            rewrite("{% set slots.name = message.text %}"),
            "{% do __set_state(\"slots\", \"name\", ( message.text )) %}"
        );
        assert_eq!(rewrite("{%- set user.n=user.n + 1 -%}"), "{%- do __set_state(\"user\", \"n\", (user.n + 1 )) -%}");
        assert_eq!(rewrite("{% delete slots.name %}"), "{% do __delete_state(\"slots\", \"name\") %}");
        // minijinja's own assignments are left alone, a scope's name as a prefix included.
        for own in
            ["{% set x = 1 %}", "{% set slots = {} %}", "{% set users.x = 1 %}", "{% set slots.x %}y{% endset %}"]
        {
            assert_eq!(rewrite(own), own);
        }
        for bad in ["{% delete x %}", "{% delete slots.a b %}", "{% delete slots.1 %}", "{% delete %}"] {
            assert!(rewrite_tags(bad).unwrap_err().contains("delete"), "{bad}");
        }
    }

    #[test]
    fn misuse_is_an_error() {
        assert!(rewrite_tags("{% GET 'x' method 'post' %}").unwrap_err().contains("method"));
        assert!(rewrite_tags("{% GET %}").is_err());
        assert!(rewrite_tags("{% GET 'x' timeout %}").is_err());
        assert!(rewrite_tags("{% GET 'x' 3 %}").is_err());
        assert!(rewrite_tags("{% GET 'x").is_err());
    }
}
