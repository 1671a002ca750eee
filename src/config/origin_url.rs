//! The rules shared by the URLs that name a service's origin (`base_url`, each of
//! `fallback_urls`), checked when the configuration loads. A message never repeats the URL: it may
//! hold a substituted secret.

use url::Url;

/// An origin is reached over http(s) and names a host.
pub fn require_http(url: &Url) -> Result<(), &'static str> {
    if matches!(url.scheme(), "http" | "https") && url.host_str().is_some() {
        Ok(())
    } else {
        Err("must be an http(s) URL")
    }
}

/// A URL the proxy sends to holds no `user:password@`: a fetched URL cannot carry it, so the proxy
/// would refuse every request. Credentials belong in the service's `auth`, `headers` or
/// `parameters`, which go to every origin of the service.
pub fn refuse_userinfo(url: &Url) -> Result<(), &'static str> {
    if url.username().is_empty() && url.password().is_none() {
        Ok(())
    } else {
        Err("must not hold user:password@ (use the service's auth)")
    }
}
