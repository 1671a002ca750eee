//! Dialog: MaxBot nodes rendered with minijinja, with the `rest` extension.
//!
//! All conditions and responses are compiled when the configuration loads (a syntax error is a
//! configuration error naming the node). A message's turn evaluates the nodes in order, renders
//! the first whose condition holds, and reaches the network through [`replay`]. With a
//! conversation, the followups of the node that answered the sender's previous message are tried
//! first, and templates read and change its [`state`].

mod executor;
mod message_stream;
mod messages;
mod nlu;
mod prepared;
mod python_json;
mod replay;
pub mod rest_call;
mod state;
mod tags;

use std::cell::RefCell;
use std::sync::Arc;

use minijinja::{Environment, Template, Value};
use serde_json::{json, Value as Json};

pub use executor::{MemoryRecall, PlatformExecutor};
pub use message_stream::MessageSink;
pub use messages::{to_messages, Button, RasaMessage};
pub use nlu::parse_nlu;
pub use replay::{CallError, CallExecutor, CallLog, Recall, TurnError};
pub use state::{StateValues, TurnState};
pub use tags::rewrite_tags;

use crate::config::{Config, Conversations, DialogNodeConfig, RestConfig};
use crate::error::{ErrorKind, GatewayError, Result};
use message_stream::{MessageStream, Rewritten};

/// minijinja fuel per render: bounds a template's CPU (a loop over a million items runs out).
pub const FUEL_PER_RENDER: u64 = 200_000;
/// Largest rendered response, in bytes.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;
/// Outbound calls one message may make, well below the Workers subrequest limit (50 on the free plan).
pub const MAX_CALLS_PER_MESSAGE: usize = 20;
/// The least time a message is given to be answered, all its calls included (see
/// [`Dialog::message_timeout_ms`]). Each call keeps its own timeout within it: without a bound of
/// their own, 20 calls of 5 s would hold a reply for 100 s.
pub const MESSAGE_TIMEOUT_MS: u64 = 30_000;

pub struct Dialog {
    env: Environment<'static>,
    nodes: Vec<Node>,
    pub rest: Arc<RestConfig>,
}

/// A compiled node: its condition, the name of its response's template
/// (`dialog[0].followup[1].response`) and its followups.
struct Node {
    condition: Condition,
    response: String,
    followup: Vec<Node>,
}

/// When a node answers.
enum Condition {
    /// Its condition is the constant `true` (a catch-all node, as MaxBot dialogs end with): nothing
    /// to render.
    Always,
    /// Its condition's template, by name (`dialog[0].condition`), renders "1".
    Template(String),
}

impl Condition {
    fn of(name: &str, source: &str) -> Condition {
        match source.trim() {
            "true" | "True" => Condition::Always,
            _ => Condition::Template(condition_name(name)),
        }
    }
}

/// Where a node is in the tree: its index at the top level, then in each followup list.
pub type NodePath = Vec<usize>;

/// A turn's text and its Rasa messages, and the node whose followups wait for the sender's next
/// message.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub messages: Vec<RasaMessage>,
    /// How many of `messages` went to the turn's sink while it rendered.
    pub sent: usize,
    pub followup: Option<NodePath>,
}

/// What a turn sees besides the rest results.
pub struct TurnInput {
    pub text: String,
    pub sender: String,
    pub metadata: Json,
    pub now: f64,
    /// `intents` and `entities` from NLU, when `chat.nlu` is set.
    pub nlu: Option<(Json, Json)>,
    /// The conversation's `slots` and `user`, changed by the turn's templates.
    pub state: Arc<TurnState>,
    /// The node whose followups are matched first (the one that answered the previous message).
    pub followup: Option<NodePath>,
}

fn condition_name(node: &str) -> String {
    format!("{node}.condition")
}

fn response_name(node: &str) -> String {
    format!("{node}.response")
}

impl Dialog {
    pub fn compile(config: &Config) -> Result<Dialog> {
        let rest = Arc::new(config.extensions.rest.clone());
        let mut env = Environment::new();
        env.set_fuel(Some(FUEL_PER_RENDER));
        env.set_formatter(python_formatter);
        env.add_filter("tojson", tojson);
        env.add_function("rest_call", replay::rest_call_function(rest.clone()));
        env.add_function(state::SET_FUNCTION, state::set_state);
        env.add_function(state::DELETE_FUNCTION, state::delete_state);
        let stateless = config.chat.conversations == Conversations::Off;
        let nodes = compile_nodes(&mut env, "dialog", &config.dialog, stateless)?;
        Ok(Dialog { env, nodes, rest })
    }

    /// How long a message may take, all its calls included: 30 s, or the longest timeout the
    /// `rest` configuration gives a call when that is longer (so that a slow service keeps its
    /// one call's worth of time).
    pub fn message_timeout_ms(&self) -> u64 {
        MESSAGE_TIMEOUT_MS.max(self.rest.longest_timeout_ms())
    }

    /// The error of a message whose deadline passed.
    pub fn out_of_time(&self) -> GatewayError {
        let seconds = self.message_timeout_ms() as f64 / 1000.0;
        GatewayError::new(ErrorKind::GatewayTimeout, format!("The message was not answered within {seconds} s."))
            .with_details(json!({ "timeout_ms": self.message_timeout_ms() }))
    }

    /// The first node whose condition holds, among the followups waiting and then the top level;
    /// its rendered text ("" when no node matches) and messages. With a `sink` (a streamed reply),
    /// the messages complete before a REST call go to it before the call is sent.
    pub async fn respond<E: CallExecutor>(
        &self,
        input: &TurnInput,
        log: &Arc<CallLog>,
        executor: &E,
        sink: Option<&dyn MessageSink>,
    ) -> Result<Answer> {
        let context = self.context(input, log);
        let waiting = input.followup.as_deref().and_then(|path| self.node(path).map(|node| (path, node)));
        let mut candidates: Vec<(NodePath, &Node)> = Vec::new();
        if let Some((path, parent)) = waiting {
            let child_path = |index: usize| path.iter().copied().chain([index]).collect();
            candidates.extend(parent.followup.iter().enumerate().map(|(index, node)| (child_path(index), node)));
        }
        candidates.extend(self.nodes.iter().enumerate().map(|(index, node)| (vec![index], node)));
        let answered = std::cell::Cell::new(None);
        // What the response wrote before the render paused, when the reply is streamed.
        let partial = RefCell::new(String::new());
        let render = || -> std::result::Result<String, minijinja::Error> {
            input.state.rewind();
            partial.borrow_mut().clear();
            for (index, (_, node)) in candidates.iter().enumerate() {
                let holds = match &node.condition {
                    Condition::Always => true,
                    Condition::Template(name) => self.env.get_template(name)?.render(&context)? == "1",
                };
                if holds {
                    answered.set(Some(index));
                    let response = self.env.get_template(&node.response)?;
                    return match sink {
                        Some(_) => render_keeping_output(&response, &context, &partial),
                        None => response.render(&context),
                    };
                }
            }
            answered.set(None);
            Ok(String::new())
        };
        let mut stream = sink.map(|sink| MessageStream::new(sink, &input.sender));
        let paused = || match &mut stream {
            // A response past the output limit fails when it ends: none of it goes out.
            Some(stream) if partial.borrow().len() <= MAX_OUTPUT_BYTES => {
                stream.paused(&partial.borrow()).map_err(rewritten)
            }
            _ => Ok(()),
        };
        let text = replay::run(log, render, executor, paused).await.map_err(|error| self.turn_error(error))?;
        if text.len() > MAX_OUTPUT_BYTES {
            return Err(GatewayError::new(
                ErrorKind::LimitExceeded,
                format!("The response is longer than {MAX_OUTPUT_BYTES} bytes."),
            ));
        }
        let followup = answered
            .get()
            .map(|index| &candidates[index])
            .filter(|(_, node)| !node.followup.is_empty())
            .map(|(path, _)| path.clone());
        let (messages, sent) = match stream {
            Some(stream) => stream.finish(&text).map_err(|error| self.turn_error(rewritten(error)))?,
            None => (to_messages(&text, &input.sender), 0),
        };
        Ok(Answer { text, messages, sent, followup })
    }

    /// The error of a turn that could not produce its text.
    fn turn_error(&self, error: TurnError) -> GatewayError {
        match error {
            TurnError::RestCallFailed(message) => GatewayError::new(ErrorKind::RestCallFailed, message),
            TurnError::OutOfTime => self.out_of_time(),
            TurnError::TooManyCalls(limit) => {
                GatewayError::new(ErrorKind::LimitExceeded, format!("A message may make at most {limit} REST calls."))
            }
            TurnError::Template { message, location } => {
                let error = GatewayError::new(ErrorKind::TemplateError, message);
                match location {
                    Some(location) => error.with_details(json!({ "location": location })),
                    None => error,
                }
            }
        }
    }

    /// The node at `path`, if the configuration still has it.
    fn node(&self, path: &[usize]) -> Option<&Node> {
        let (first, rest) = path.split_first()?;
        rest.iter().try_fold(self.nodes.get(*first)?, |node, &index| node.followup.get(index))
    }

    /// The render context, built as template values directly: it is built for every message.
    fn context(&self, input: &TurnInput, log: &Arc<CallLog>) -> Value {
        let utc_time = chrono::DateTime::from_timestamp(input.now as i64, 0).unwrap_or_default();
        let mut values: std::collections::BTreeMap<String, Value> = [
            ("message", minijinja::context! { text => input.text.as_str() }),
            ("dialog", minijinja::context! { channel_name => "rest", user_id => input.sender.as_str() }),
            ("metadata", Value::from(minijinja::value::Serde(&input.metadata))),
            ("utc_time", Value::from(utc_time.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))),
            (replay::CALL_LOG_VAR, Value::from_dyn_object(log.clone())),
            (state::STATE_VAR, Value::from_dyn_object(input.state.clone())),
        ]
        .map(|(name, value)| (name.to_string(), value))
        .into();
        values.extend(input.state.views().map(|(name, value)| (name.to_string(), value)));
        if let Some((intents, entities)) = &input.nlu {
            values.insert("intents".into(), nlu::Intents::value(intents));
            values.insert("entities".into(), Value::from(minijinja::value::Serde(entities)));
        }
        Value::from(values)
    }
}

/// Compiles `nodes` (the list at `field`) and their followups. `stateless` (conversations off)
/// refuses templates that use conversation state.
fn compile_nodes(
    env: &mut Environment<'static>,
    field: &str,
    nodes: &[DialogNodeConfig],
    stateless: bool,
) -> Result<Vec<Node>> {
    let mut compiled = Vec::with_capacity(nodes.len());
    for (index, node) in nodes.iter().enumerate() {
        let name = format!("{field}[{index}]");
        compile_node(env, &name, node, stateless)?;
        let followup = compile_nodes(env, &format!("{name}.followup"), &node.followup, stateless)?;
        compiled.push(Node {
            condition: Condition::of(&name, &node.condition),
            response: response_name(&name),
            followup,
        });
    }
    Ok(compiled)
}

fn compile_node(env: &mut Environment<'static>, name: &str, node: &DialogNodeConfig, stateless: bool) -> Result<()> {
    let label = node.label.as_deref().unwrap_or(name);
    let error = |part: &str, message: String| {
        GatewayError::config(format!("{label}.{part}: {message}"))
            .with_details(json!({ "field": format!("{name}.{part}") }))
    };
    let condition = format!("{{% if ({}) %}}1{{% endif %}}", node.condition);
    let response = rewrite_tags(&node.response).map_err(|message| error("response", message))?;
    for (part, template_name, source) in
        [("condition", condition_name(name), condition), ("response", response_name(name), response)]
    {
        env.add_template_owned(template_name.clone(), source).map_err(|e| error(part, replay::message_of(&e)))?;
        if stateless {
            let template = env.get_template(&template_name).map_err(|e| error(part, replay::message_of(&e)))?;
            let used = template.undeclared_variables(false);
            if let Some(state) = state::STATE_NAMES.iter().find(|name| used.contains(**name)) {
                let state = if state.starts_with("__") { "slots or user" } else { state };
                return Err(error(part, format!("{state} needs chat.conversations \"on\"")));
            }
        }
    }
    Ok(())
}

/// Renders `template`, keeping what it wrote in `partial` when it stops before its end (at a REST
/// call without a result).
fn render_keeping_output(
    template: &Template,
    context: &Value,
    partial: &RefCell<String>,
) -> std::result::Result<String, minijinja::Error> {
    let mut written = Vec::new();
    let rendered = template.render_captured_to(context, &mut written);
    let text = String::from_utf8_lossy(&written).into_owned();
    match rendered {
        Ok(_) => Ok(text),
        Err(error) => {
            *partial.borrow_mut() = text;
            Err(error)
        }
    }
}

/// The turn error of a render that wrote otherwise than the one whose messages were sent.
fn rewritten(_: Rewritten) -> TurnError {
    TurnError::Template { message: "the template wrote different text when replayed".into(), location: None }
}

/// Writes values as Jinja2 (Python) does: `True`, `False`, `None`.
fn python_formatter(
    out: &mut minijinja::Output,
    state: &mut minijinja::State,
    value: &Value,
) -> std::result::Result<(), minijinja::Error> {
    let written = match value.kind() {
        minijinja::value::ValueKind::Bool => out.write_str(if value.is_true() { "True" } else { "False" }),
        minijinja::value::ValueKind::None => out.write_str("None"),
        _ => return minijinja::escape_formatter(out, state, value),
    };
    written.map_err(|_| minijinja::Error::new(minijinja::ErrorKind::WriteFailure, "could not write output"))
}

/// Jinja2's `tojson`, which sorts keys (its default `json.dumps_kwargs` is `sort_keys=True`).
/// minijinja's writes a map in its own order, and maps keep the order the template (or the JSON
/// they came from) gave them, as Python dicts do. Sorted through a serde_json copy, as the cache
/// keys are: a walk over template values was 5 KB of wasm.
fn tojson(
    state: &minijinja::State,
    value: &Value,
    indent: Option<Value>,
    kwargs: minijinja::value::Kwargs,
) -> std::result::Result<Value, minijinja::Error> {
    let sorted = match serde_json::to_value(value) {
        Ok(json) => Value::from(minijinja::value::Serde(python_json::Json { value: &json, sort_keys: true })),
        // What JSON cannot hold, minijinja's own filter reports.
        Err(_) => value.clone(),
    };
    let json = minijinja::filters::tojson(&sorted, indent, kwargs)?;
    // The fuel minijinja's filter charges for walking a value (15/64 a byte of output), for the
    // walks of the copy too; the engine charges for the text returned.
    state.consume_fuel(json.as_str().map_or(0, str::len) as u64 / 2)?;
    Ok(json)
}

#[cfg(test)]
mod tests;
