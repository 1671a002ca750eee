//! MaxBot's conversation state as templates see it: `slots` (the current topic) and `user` (kept
//! across topics), changed with `{% set slots.name = value %}` and `{% delete user.name %}`. The
//! tag rewriter turns those statements into `{% do __set_state("slots", "name", (value)) %}` and
//! `{% do __delete_state("user", "name") %}`: minijinja cannot assign to an attribute.
//!
//! The replay loop renders a turn from the start again after every REST call, so changes are kept
//! per render: each render starts from the turn's starting state ([`TurnState::rewind`]), and
//! what the last, complete render leaves is the turn's outcome. A replayed `set` so never applies
//! twice, and a turn that fails is simply never asked for its outcome.

use std::sync::{Arc, Mutex};

use minijinja::value::{Enumerator, Object, ObjectRepr};
use minijinja::{Error, ErrorKind, State, Value};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value as Json};

/// The context variable that carries the turn's state into the functions below.
pub const STATE_VAR: &str = "__conversation_state";
pub const SET_FUNCTION: &str = "__set_state";
pub const DELETE_FUNCTION: &str = "__delete_state";
/// What a template that uses conversation state refers to (see `Dialog::uses_state`).
pub const STATE_NAMES: [&str; 4] = ["slots", "user", SET_FUNCTION, DELETE_FUNCTION];

/// The two scopes of state; each is a JSON object of named values.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StateValues {
    #[serde(default)]
    pub slots: Map<String, Json>,
    #[serde(default)]
    pub user: Map<String, Json>,
}

impl StateValues {
    fn scope_mut(&mut self, scope: &str) -> Option<&mut Map<String, Json>> {
        match scope {
            "slots" => Some(&mut self.slots),
            "user" => Some(&mut self.user),
            _ => None,
        }
    }
}

/// One turn's state: where it started and what the render in progress made of it.
#[derive(Debug)]
pub struct TurnState {
    start: StateValues,
    current: Mutex<StateValues>,
}

impl Object for TurnState {}

impl TurnState {
    pub fn new(start: StateValues) -> Arc<TurnState> {
        Arc::new(TurnState { current: Mutex::new(start.clone()), start })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StateValues> {
        self.current.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts a render from the turn's starting state again.
    pub fn rewind(&self) {
        *self.lock() = self.start.clone();
    }

    /// The state as the last render left it.
    pub fn current(&self) -> StateValues {
        self.lock().clone()
    }

    /// The context values `slots` and `user`: live views, so a value set earlier in a render
    /// reads back later in it.
    pub fn views(self: &Arc<Self>) -> [(&'static str, Value); 2] {
        let view = |scope| Value::from_object(ScopeView { state: self.clone(), scope });
        [("slots", view("slots")), ("user", view("user"))]
    }
}

/// `slots` or `user` in a template: a read-only map over the turn's current values.
#[derive(Debug)]
struct ScopeView {
    state: Arc<TurnState>,
    scope: &'static str,
}

impl ScopeView {
    fn values(&self) -> Map<String, Json> {
        let mut current = self.state.lock();
        current.scope_mut(self.scope).map(|values| values.clone()).unwrap_or_default()
    }
}

impl Object for ScopeView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        ObjectRepr::Map
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let mut current = self.state.lock();
        let value = current.scope_mut(self.scope)?.get(key.as_str()?)?;
        Some(Value::from(minijinja::value::Serde(value)))
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.values().keys().map(|key| Value::from(key.as_str())).collect())
    }
}

fn turn_state(state: &State) -> Result<Arc<TurnState>, Error> {
    let value = state
        .lookup(STATE_VAR)
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "conversation state is off (chat.conversations)"))?;
    value
        .downcast_object::<TurnState>()
        .ok_or_else(|| Error::new(ErrorKind::InvalidOperation, "conversation state is unavailable"))
}

/// `__set_state(scope, name, value)`: the value is kept as JSON.
pub fn set_state(state: &State, scope: &str, name: &str, value: Value) -> Result<(), Error> {
    let json = serde_json::to_value(&value)
        .map_err(|e| Error::new(ErrorKind::InvalidOperation, format!("{scope}.{name} cannot hold this value: {e}")))?;
    let turn = turn_state(state)?;
    let mut current = turn.lock();
    let values = current.scope_mut(scope).ok_or_else(|| unknown_scope(scope))?;
    values.insert(name.to_string(), json);
    Ok(())
}

/// `__delete_state(scope, name)`: deleting what is not there is no error, as in MaxBot.
pub fn delete_state(state: &State, scope: &str, name: &str) -> Result<(), Error> {
    let turn = turn_state(state)?;
    let mut current = turn.lock();
    current.scope_mut(scope).ok_or_else(|| unknown_scope(scope))?.shift_remove(name);
    Ok(())
}

fn unknown_scope(scope: &str) -> Error {
    Error::new(ErrorKind::InvalidOperation, format!("'{scope}' is not a state variable (slots or user)"))
}
