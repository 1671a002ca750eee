//! A service's path rules (`"paths": ["/system", "/clients/*", "/dns/**"]`): which paths below
//! the service the gateway forwards. Patterns are checked when the configuration loads; request
//! paths are matched after percent-decoding and removing dot segments.
//!
//! The rules, all of them chosen to refuse whatever is ambiguous (an origin may read it otherwise):
//! - A pattern starts with `/`. A segment is a literal, `*` (exactly one segment) or `**` (one or
//!   more segments); `*` and `**` stand only as whole segments. Literals compare case-sensitively,
//!   after percent-decoding (in the pattern as in the path).
//! - A trailing slash is significant: `/system` does not match `/system/`, and `/dns/**` does not
//!   match `/dns/hosts/`. A pattern that ends with `/` (`/dns/**/`) matches only paths that do.
//!   Origins disagree on whether the two are the same resource, so neither stands in for the other.
//! - `.` segments are removed and `..` removes the segment before it (`/a/../system` is `/system`);
//!   a `..` above the root matches nothing.
//! - A path with an empty segment (`/a//b`), or a segment that decodes to one holding `/` or `\`
//!   (`%2F`, `%5C`) or a control character, matches nothing: some origins split there, others not.
//! - The service's root is `/` (`/models/catsdogs` and `/models/catsdogs/` both ask for it).

use std::fmt;

use serde::Deserialize;

use crate::http::percent_decode;

/// One pattern of a service's `paths`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct PathPattern {
    text: String,
    segments: Vec<PatternSegment>,
    trailing_slash: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum PatternSegment {
    Literal(String),
    /// `*`: one segment.
    One,
    /// `**`: one or more segments.
    OneOrMore,
}

/// Why a pattern was refused; the message never repeats the pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PatternError(&'static str);

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl TryFrom<String> for PathPattern {
    type Error = PatternError;

    fn try_from(text: String) -> Result<Self, PatternError> {
        let rest = text.strip_prefix('/').ok_or(PatternError("a path pattern must start with /"))?;
        let (raw_segments, trailing_slash) = split_trailing(rest);
        let mut segments = Vec::with_capacity(raw_segments.len());
        for raw in raw_segments {
            let segment = match raw {
                "*" => PatternSegment::One,
                "**" => PatternSegment::OneOrMore,
                _ if raw.contains('*') => {
                    return Err(PatternError("* and ** may stand only as a whole path segment"));
                }
                "" => return Err(PatternError("a path pattern must not hold an empty segment (//)")),
                _ => {
                    let decoded = decode_segment(raw).ok_or(PatternError(
                        "a path pattern segment must not decode to /, \\ or a control character",
                    ))?;
                    if decoded == "." || decoded == ".." {
                        return Err(PatternError("a path pattern must not hold . or .. segments"));
                    }
                    PatternSegment::Literal(decoded)
                }
            };
            segments.push(segment);
        }
        Ok(PathPattern { text, segments, trailing_slash })
    }
}

impl PathPattern {
    /// The pattern as configured.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the normalized path matches.
    fn matches(&self, path: &NormalizedPath) -> bool {
        if self.trailing_slash != path.trailing_slash {
            return false;
        }
        // matched[j]: the first i path segments are matched by the first j pattern segments.
        // One row per path segment: linear in each, whatever the number of `**`.
        let pattern = &self.segments;
        let mut matched = vec![false; pattern.len() + 1];
        matched[0] = true;
        for segment in &path.segments {
            let mut next = vec![false; pattern.len() + 1];
            for (j, part) in pattern.iter().enumerate() {
                next[j + 1] = match part {
                    PatternSegment::Literal(literal) => matched[j] && literal == segment,
                    PatternSegment::One => matched[j],
                    // This segment starts the `**` run, or extends it.
                    PatternSegment::OneOrMore => matched[j] || matched[j + 1],
                };
            }
            matched = next;
        }
        matched[pattern.len()]
    }
}

/// A service's `paths`: `None` forwards every path.
pub fn allows(patterns: Option<&[PathPattern]>, path: &str) -> bool {
    let Some(patterns) = patterns else { return true };
    let Some(path) = NormalizedPath::new(path) else { return false };
    patterns.iter().any(|pattern| pattern.matches(&path))
}

/// A request path (percent-encoded, with or without its leading `/`) as the patterns see it.
#[derive(Debug, PartialEq, Eq)]
struct NormalizedPath {
    segments: Vec<String>,
    trailing_slash: bool,
}

impl NormalizedPath {
    /// `None` for a path that matches nothing (see the module's rules).
    fn new(path: &str) -> Option<Self> {
        let (raw_segments, mut trailing_slash) = split_trailing(path.strip_prefix('/').unwrap_or(path));
        let mut segments: Vec<String> = Vec::with_capacity(raw_segments.len());
        let last = raw_segments.len().saturating_sub(1);
        for (index, raw) in raw_segments.into_iter().enumerate() {
            let decoded = decode_segment(raw)?;
            match decoded.as_str() {
                "" => return None,
                "." | ".." => {
                    if decoded == ".." {
                        segments.pop()?;
                    }
                    // RFC 3986: `/a/b/..` is `/a/`.
                    if index == last {
                        trailing_slash = !segments.is_empty();
                    }
                }
                _ => segments.push(decoded),
            }
        }
        Some(NormalizedPath { segments, trailing_slash })
    }
}

/// The segments after the leading `/`, and whether a `/` ends them. The root is no segment.
fn split_trailing(rest: &str) -> (Vec<&str>, bool) {
    if rest.is_empty() {
        return (vec![], false);
    }
    match rest.strip_suffix('/') {
        Some(inner) => (inner.split('/').collect(), true),
        None => (rest.split('/').collect(), false),
    }
}

/// A segment percent-decoded; `None` when it decodes to a separator or a control character.
fn decode_segment(raw: &str) -> Option<String> {
    let decoded = percent_decode(raw);
    let ambiguous = decoded.contains(['/', '\\']) || decoded.chars().any(char::is_control);
    (!ambiguous).then_some(decoded)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pattern(text: &str) -> PathPattern {
        PathPattern::try_from(text.to_string()).unwrap()
    }

    #[test]
    fn patterns_are_checked() {
        let refused = [
            ("system", "must start with /"),
            ("", "must start with /"),
            ("/dns/**logs", "whole path segment"),
            ("/dns/*s", "whole path segment"),
            ("/***", "whole path segment"),
            ("/a//b", "empty segment"),
            ("//", "empty segment"),
            ("/a/../b", ". or .."),
            ("/a/%2e%2e", ". or .."),
            ("/./a", ". or .."),
            ("/a%2Fb", "must not decode"),
            ("/a%00", "must not decode"),
        ];
        for (text, why) in refused {
            let error = PathPattern::try_from(text.to_string()).unwrap_err();
            assert!(error.to_string().contains(why), "{text}: {error}");
        }
        for text in ["/", "/system", "/clients/*", "/dns/**", "/dns/**/", "/a/**/b", "/**", "/a%20b"] {
            assert_eq!(pattern(text).as_str(), text);
        }
    }

    #[test]
    fn paths_match_after_decoding_and_dot_removal() {
        let raspap = [pattern("/system"), pattern("/clients/*"), pattern("/dns/**"), pattern("/")];
        let cases = [
            // (path below the service, allowed)
            ("system", true),
            ("/system", true),
            ("", true),
            ("/", true),
            ("System", false),
            ("system/", false),
            ("system/x", false),
            ("clients/wlan0", true),
            ("clients/wlan0/", false),
            ("clients", false),
            ("clients/", false),
            ("clients/wlan0/x", false),
            ("dns/hosts", true),
            ("dns/a/b/c", true),
            ("dns", false),
            ("dns/", false),
            ("dns/hosts/", false),
            ("%73ystem", true),
            ("sys%74em", true),
            ("clients/wlan%30", true),
            // Encoded separators never match: an origin may split there.
            ("clients/wlan0%2Fx", false),
            ("clients%2Fwlan0", false),
            ("dns%2Fhosts", false),
            ("clients/a%5Cb", false),
            ("system%00", false),
            // Dot segments are removed first.
            ("openvpn/../system", true),
            ("openvpn/%2e%2e/system", true),
            ("openvpn/%2E%2E/clients/wlan0", true),
            ("./system", true),
            ("dns/./hosts", true),
            ("dns/hosts/..", false),
            ("system/..", true),
            ("system/.", false),
            ("dns/x/.", false),
            ("..", false),
            ("../system", false),
            ("%2e%2e/system", false),
            ("dns/../../system", false),
            // Empty segments match nothing.
            ("dns//hosts", false),
            ("//system", false),
            ("clients//", false),
            // What the rules leave out.
            ("openvpn/client", false),
            ("dns/logs/../../openvpn/x", false),
            ("ap", false),
        ];
        for (path, allowed) in cases {
            assert_eq!(allows(Some(&raspap), path), allowed, "{path}");
        }
        assert!(allows(None, "anything/../at/all"));
        assert!(!allows(Some(&[]), "system"));
    }

    #[test]
    fn trailing_slash_patterns_and_double_stars_in_the_middle() {
        let patterns = [pattern("/dns/**/"), pattern("/a/**/b"), pattern("/x/*/*")];
        let cases = [
            ("dns/hosts/", true),
            ("dns/a/b/", true),
            ("dns/hosts", false),
            ("dns/", false),
            ("dns/hosts/..", false),
            ("dns/hosts/x/..", true),
            ("a/1/b", true),
            ("a/1/2/3/b", true),
            ("a/b", false),
            ("a/1/b/c", false),
            ("x/1/2", true),
            ("x/1", false),
            ("x/1/2/3", false),
        ];
        for (path, allowed) in cases {
            assert_eq!(allows(Some(&patterns), path), allowed, "{path}");
        }
        assert!(allows(Some(&[pattern("/**")]), "anything/below"));
        assert!(!allows(Some(&[pattern("/**")]), ""));
    }

    #[test]
    fn many_double_stars_stay_linear() {
        let text = format!("{}/end", "/**".repeat(200));
        let patterns = [pattern(&text)];
        let path = "x/".repeat(2000);
        assert!(!allows(Some(&patterns), &path));
        assert!(allows(Some(&patterns), &format!("{path}end")));
    }
}
