//! Plain HTTP values the core works with; the edge converts the runtime's request and response
//! to and from these. `B` is the runtime's streaming body, opaque to the core.

/// An ordered header list with case-insensitive lookup (names are stored lower-case).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Headers(Vec<(String, String)>);

impl Headers {
    pub fn new() -> Self {
        Headers(Vec::new())
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    /// Every value of `name`, in order (a header sent twice yields two values).
    pub fn get_all<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub fn append(&mut self, name: &str, value: impl Into<String>) {
        self.0.push((name.to_ascii_lowercase(), value.into()));
    }

    pub fn set(&mut self, name: &str, value: impl Into<String>) {
        self.remove(name);
        self.append(name, value);
    }

    pub fn remove(&mut self, name: &str) {
        self.0.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
    }

    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) {
        self.0.retain(|(n, v)| keep(n, v));
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }
}

impl<K: AsRef<str>, V: Into<String>> FromIterator<(K, V)> for Headers {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut headers = Headers::new();
        for (name, value) in iter {
            headers.append(name.as_ref(), value);
        }
        headers
    }
}

/// A request as it reached the gateway.
#[derive(Debug)]
pub struct GatewayRequest<B> {
    pub method: String,
    pub url: url::Url,
    pub headers: Headers,
    pub body: Body<B>,
}

impl<B> GatewayRequest<B> {
    pub fn query_param(&self, name: &str) -> Option<String> {
        self.url.query_pairs().find(|(k, _)| k == name).map(|(_, v)| v.into_owned())
    }

    pub fn client_ip(&self) -> Option<&str> {
        self.headers.get("cf-connecting-ip")
    }
}

/// A body the core hands back to the edge.
#[derive(Debug)]
pub enum Body<B> {
    Empty,
    Bytes(Vec<u8>),
    /// A runtime stream passed through without being read (proxied bodies).
    Stream(B),
}

#[derive(Debug)]
pub struct GatewayResponse<B> {
    pub status: u16,
    pub headers: Headers,
    pub body: Body<B>,
}

impl<B> GatewayResponse<B> {
    /// A JSON answer, serialized straight from `value` (no intermediate JSON tree).
    pub fn json<T: serde::Serialize + ?Sized>(status: u16, value: &T) -> Self {
        let mut headers = Headers::new();
        headers.set("content-type", "application/json");
        GatewayResponse { status, headers, body: Body::Bytes(serde_json::to_vec(value).unwrap_or_default()) }
    }

    pub fn empty(status: u16) -> Self {
        GatewayResponse { status, headers: Headers::new(), body: Body::Empty }
    }
}

impl<B> From<crate::error::GatewayError> for GatewayResponse<B> {
    fn from(error: crate::error::GatewayError) -> Self {
        GatewayResponse::json(error.status(), &error.body())
    }
}

/// A request the gateway sends to an origin.
#[derive(Debug)]
pub struct OutboundRequest<B> {
    pub method: String,
    pub url: String,
    pub headers: Headers,
    pub body: Body<B>,
}

/// Why an outbound request produced no response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FetchFailure {
    Timeout,
    /// The streamed request body passed its limit while being sent.
    BodyTooLarge,
    Network(String),
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    TooLarge,
    Broken(String),
}
