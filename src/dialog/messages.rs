//! A rendered response as Rasa REST-channel messages: blank lines split text messages,
//! `<image url="..."/>` is an image message, `<button payload="/x">Title</button>` adds a button
//! to the text before it.
//!
//! A reply streamed while its turn renders sends the messages of a text's [`settled_len`] before
//! the rest is known: a paragraph of buttons after that point, which would have joined the text
//! before it, forms a message of its own (`text` ""), as a paragraph of buttons at the start does.

use serde::Serialize;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Button {
    pub title: String,
    pub payload: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RasaMessage {
    pub recipient_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub buttons: Vec<Button>,
}

impl RasaMessage {
    fn new(recipient: &str) -> Self {
        RasaMessage { recipient_id: recipient.to_string(), text: None, image: None, buttons: Vec::new() }
    }
}

enum Piece {
    Text(String),
    Image(String),
    Button(Button),
}

pub fn to_messages(rendered: &str, recipient: &str) -> Vec<RasaMessage> {
    let mut messages: Vec<RasaMessage> = Vec::new();
    let normalized = rendered.replace("\r\n", "\n");
    for paragraph in split_paragraphs(&normalized) {
        for piece in pieces(paragraph) {
            match piece {
                Piece::Text(text) => {
                    let mut message = RasaMessage::new(recipient);
                    message.text = Some(text);
                    messages.push(message);
                }
                Piece::Image(url) => {
                    let mut message = RasaMessage::new(recipient);
                    message.image = Some(url);
                    messages.push(message);
                }
                Piece::Button(button) => match messages.last_mut().filter(|m| m.text.is_some()) {
                    Some(last) => last.buttons.push(button),
                    None => {
                        let mut message = RasaMessage::new(recipient);
                        message.text = Some(String::new());
                        message.buttons.push(button);
                        messages.push(message);
                    }
                },
            }
        }
    }
    messages
}

/// The length of the longest prefix of `text` that ends with a blank line (a line of whitespace
/// ended by its line break). Whatever follows, the paragraphs before that line stay as they are, and
/// so do their messages; only buttons in the next paragraph could still join the last of them.
pub fn settled_len(text: &str) -> usize {
    let Some(mut end) = text.rfind('\n') else { return 0 };
    loop {
        let start = text[..end].rfind('\n').map_or(0, |at| at + 1);
        if text[start..end].trim().is_empty() {
            return end + 1;
        }
        if start == 0 {
            return 0;
        }
        end = start - 1;
    }
}

fn split_paragraphs(text: &str) -> Vec<&str> {
    let mut paragraphs = Vec::new();
    let mut start = 0;
    let lines: Vec<(usize, &str)> = text
        .split('\n')
        .scan(0, |offset, line| {
            let at = *offset;
            *offset += line.len() + 1;
            Some((at, line))
        })
        .collect();
    for (at, line) in &lines {
        if line.trim().is_empty() {
            let chunk = text[start..*at].trim();
            if !chunk.is_empty() {
                paragraphs.push(chunk);
            }
            start = (at + line.len() + 1).min(text.len());
        }
    }
    let last = text[start.min(text.len())..].trim();
    if !last.is_empty() {
        paragraphs.push(last);
    }
    paragraphs
}

/// Splits a paragraph into its text, images and buttons, in order.
fn pieces(paragraph: &str) -> Vec<Piece> {
    let mut out = Vec::new();
    let mut text = String::new();
    let mut rest = paragraph;
    let flush = |text: &mut String, out: &mut Vec<Piece>| {
        let trimmed = collapse_lines(text);
        if !trimmed.is_empty() {
            out.push(Piece::Text(trimmed));
        }
        text.clear();
    };
    while let Some(start) = rest.find('<') {
        let after = &rest[start..];
        if let Some((url, used)) = parse_image(after) {
            text.push_str(&rest[..start]);
            flush(&mut text, &mut out);
            out.push(Piece::Image(url));
            rest = &after[used..];
        } else if let Some((button, used)) = parse_button(after) {
            text.push_str(&rest[..start]);
            flush(&mut text, &mut out);
            out.push(Piece::Button(button));
            rest = &after[used..];
        } else {
            text.push_str(&rest[..start + 1]);
            rest = &after[1..];
        }
    }
    text.push_str(rest);
    flush(&mut text, &mut out);
    out
}

fn collapse_lines(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join("\n")
}

fn parse_image(text: &str) -> Option<(String, usize)> {
    let rest = text.strip_prefix("<image")?;
    let end = rest.find('>')?;
    let attributes = rest[..end].trim_end_matches('/');
    Some((attribute(attributes, "url")?, "<image".len() + end + 1))
}

fn parse_button(text: &str) -> Option<(Button, usize)> {
    let rest = text.strip_prefix("<button")?;
    let open_end = rest.find('>')?;
    let payload = attribute(&rest[..open_end], "payload")?;
    let body = &rest[open_end + 1..];
    let close = body.find("</button>")?;
    let title = unescape(body[..close].trim());
    Some((Button { title, payload }, "<button".len() + open_end + 1 + close + "</button>".len()))
}

fn attribute(attributes: &str, name: &str) -> Option<String> {
    let mut rest = attributes;
    while let Some(at) = rest.find(name) {
        let before_ok = at == 0 || rest.as_bytes()[at - 1].is_ascii_whitespace();
        let after = rest[at + name.len()..].trim_start();
        if let (true, Some(value)) = (before_ok, after.strip_prefix('=')) {
            let value = value.trim_start();
            let quote = value.chars().next()?;
            if quote == '"' || quote == '\'' {
                let end = value[1..].find(quote)?;
                return Some(unescape(&value[1..1 + end]));
            }
        }
        rest = &rest[at + name.len()..];
    }
    None
}

fn unescape(text: &str) -> String {
    text.replace("&quot;", "\"").replace("&#39;", "'").replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(rendered: &str) -> Vec<Option<String>> {
        to_messages(rendered, "u").into_iter().map(|m| m.text).collect()
    }

    #[test]
    fn blank_lines_split_messages() {
        assert_eq!(texts("Hello\n\n  \nWorld\nagain\n"), vec![Some("Hello".into()), Some("World\nagain".into())]);
        assert!(to_messages("  \n\n", "u").is_empty());
    }

    #[test]
    fn images_and_buttons() {
        let messages = to_messages(
            "Look: <image url=\"https://x/cat.png\"/>\n\nPick one\n<button payload=\"/yes\">Yes</button> <button payload='/no'>No &amp; never</button>",
            "u",
        );
        assert_eq!(messages.len(), 3);
        assert_eq!(messages[0].text.as_deref(), Some("Look:"));
        assert_eq!(messages[1].image.as_deref(), Some("https://x/cat.png"));
        assert_eq!(messages[2].text.as_deref(), Some("Pick one"));
        assert_eq!(
            messages[2].buttons,
            vec![
                Button { title: "Yes".into(), payload: "/yes".into() },
                Button { title: "No & never".into(), payload: "/no".into() },
            ]
        );
        let json = serde_json::to_value(&messages[1]).unwrap();
        assert_eq!(json, serde_json::json!({"recipient_id": "u", "image": "https://x/cat.png"}));
    }

    #[test]
    fn a_text_is_settled_up_to_its_last_blank_line() {
        for (text, settled) in [
            ("", 0),
            ("Hello", 0),
            ("Hello\n", 0),
            ("Hello\n\n", 7),
            ("Hello\n  \t\nWor", 10),
            ("Hello\r\n\r\nWorld\n\nagain\nmore", 16),
            ("\nHello", 1),
            ("A\n\nB\n \n", 7),
            ("A\n\nB\n ", 3),
            ("été\n\n€", 7),
        ] {
            assert_eq!(settled_len(text), settled, "{text:?}");
        }
    }

    /// Messages of a settled prefix, then of the rest, are the text's own messages, except that
    /// buttons after the cut form a message of their own.
    #[test]
    fn messages_split_where_a_text_is_settled_are_the_same() {
        let whole =
            "Let me look.\n\n<image url=\"x\"/>\n\n It is 21 °C.\nWarm.\n\n \nBye <button payload=\"/b\">B</button>";
        let mut cut = 0;
        let mut parts = Vec::new();
        for end in 0..=whole.len() {
            let Some(partial) = whole.get(..end) else { continue };
            let settled = settled_len(partial);
            if settled > cut {
                parts.extend(to_messages(&whole[cut..settled], "u"));
                cut = settled;
            }
        }
        parts.extend(to_messages(&whole[cut..], "u"));
        assert_eq!(parts, to_messages(whole, "u"));
        let apart = [to_messages("Pick one\n\n", "u"), to_messages("<button payload=\"/a\">A</button>", "u")].concat();
        let button = Button { title: "A".into(), payload: "/a".into() };
        assert_eq!(apart[1].text.as_deref(), Some(""));
        assert_eq!(apart[1].buttons, std::slice::from_ref(&button));
        assert_eq!(to_messages("Pick one\n\n<button payload=\"/a\">A</button>", "u")[0].buttons, [button]);
    }

    #[test]
    fn other_markup_stays_text() {
        assert_eq!(
            texts("a < b and <img src=x onerror=alert(1)>"),
            vec![Some("a < b and <img src=x onerror=alert(1)>".into())]
        );
    }
}
