//! Bounded HTTP fetches of JWKS and OIDC discovery documents.

use std::time::Duration;

use http::HeaderMap;
use http::header::{ACCEPT, AGE, CACHE_CONTROL};
use url::Url;

/// Whole-request limit (connect, headers and body).
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(5);

/// Largest document read; a bigger one is a failed fetch.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Cache lifetime when the answer gives none.
pub(crate) const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);
/// Shortest cache lifetime, whatever the answer says.
pub(crate) const MIN_LIFETIME: Duration = Duration::from_secs(60);
/// Longest cache lifetime, whatever the answer says.
pub(crate) const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// The client for key fetches: its own timeout, few redirects.
pub(crate) fn client() -> Result<reqwest::Client, String> {
    airlock_providers::install_crypto_provider();
    reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .connect_timeout(FETCH_TIMEOUT)
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("airlock/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("building the key fetch HTTP client: {e}"))
}

/// A fetched document and how long it may be cached.
#[derive(Debug)]
pub(crate) struct Fetched {
    pub body: Vec<u8>,
    pub lifetime: Duration,
}

/// GETs `url`, reading at most [`MAX_DOCUMENT_BYTES`]. The error is a short
/// reason fit for a client (no URL, no body).
pub(crate) async fn get(client: &reqwest::Client, url: &Url) -> Result<Fetched, String> {
    let describe = |e: reqwest::Error| {
        if e.is_timeout() {
            "timed out".to_owned()
        } else if e.is_connect() {
            "could not connect".to_owned()
        } else {
            "request failed".to_owned()
        }
    };
    let mut response = client
        .get(url.clone())
        .header(ACCEPT, "application/json")
        .send()
        .await
        .map_err(describe)?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("answered HTTP {}", status.as_u16()));
    }
    let too_large = || format!("document larger than {MAX_DOCUMENT_BYTES} bytes");
    if response
        .content_length()
        .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
    {
        return Err(too_large());
    }
    let lifetime = lifetime(response.headers());
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched { body, lifetime })
}

/// How long an answer may be cached: `Cache-Control: max-age` less `Age`,
/// else an hour; never under a minute nor over a day.
pub(crate) fn lifetime(headers: &HeaderMap) -> Duration {
    let mut max_age: Option<u64> = None;
    for value in headers.get_all(CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = match directive.split_once('=') {
                Some((name, argument)) => (name.trim(), Some(argument.trim().trim_matches('"'))),
                None => (directive, None),
            };
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                max_age = Some(0);
            } else if name.eq_ignore_ascii_case("max-age") {
                let secs = argument.and_then(|a| a.parse::<u64>().ok());
                max_age = match (max_age, secs) {
                    (Some(known), Some(secs)) => Some(known.min(secs)),
                    (known, secs) => known.or(secs),
                };
            }
        }
    }
    let Some(max_age) = max_age else {
        return DEFAULT_LIFETIME;
    };
    let age = headers
        .get(AGE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    Duration::from_secs(max_age.saturating_sub(age)).clamp(MIN_LIFETIME, MAX_LIFETIME)
}

/// Where an issuer's discovery document lives.
pub(crate) fn discovery_url(issuer: &Url) -> Url {
    let mut url = issuer.clone();
    let path = format!(
        "{}/.well-known/openid-configuration",
        issuer.path().trim_end_matches('/')
    );
    url.set_path(&path);
    url.set_query(None);
    url.set_fragment(None);
    url
}

/// An http(s) URL, or why not.
pub(crate) fn http_url(text: &str) -> Result<Url, String> {
    let url = Url::parse(text).map_err(|e| format!("{e}"))?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return Err("not an http(s) URL".into());
    }
    Ok(url)
}

/// Reads a discovery document: its `jwks_uri`, once its `issuer` is the one
/// configured.
pub(crate) fn jwks_uri(body: &[u8], issuer: &str) -> Result<Url, String> {
    #[derive(serde::Deserialize)]
    struct Discovery {
        #[serde(default)]
        issuer: Option<String>,
        jwks_uri: String,
    }
    let discovery: Discovery = serde_json::from_slice(body)
        .map_err(|_| "the discovery document has no jwks_uri".to_owned())?;
    if discovery.issuer.as_deref().is_some_and(|i| i != issuer) {
        return Err("the discovery document names another issuer".into());
    }
    http_url(&discovery.jwks_uri).map_err(|_| "the discovery document's jwks_uri is invalid".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn cache_lifetime_follows_max_age_within_bounds() {
        let secs = |pairs: &[(&str, &str)]| lifetime(&headers(pairs)).as_secs();
        assert_eq!(secs(&[]), 3600);
        assert_eq!(
            secs(&[("cache-control", "public, max-age=19302, must-revalidate")]),
            19302
        );
        assert_eq!(secs(&[("cache-control", "MAX-AGE = \"600\"")]), 600);
        assert_eq!(
            secs(&[("cache-control", "max-age=600"), ("age", "100")]),
            500
        );
        assert_eq!(
            secs(&[("cache-control", "max-age=600"), ("age", "1000")]),
            60
        );
        assert_eq!(secs(&[("cache-control", "max-age=5")]), 60);
        assert_eq!(secs(&[("cache-control", "no-store")]), 60);
        assert_eq!(secs(&[("cache-control", "max-age=999999999")]), 86400);
        assert_eq!(secs(&[("cache-control", "max-age=-1")]), 3600);
        assert_eq!(
            secs(&[("cache-control", "max-age=99999999999999999999999")]),
            3600
        );
        assert_eq!(secs(&[("cache-control", "public")]), 3600);
        assert_eq!(
            secs(&[
                ("cache-control", "max-age=900"),
                ("cache-control", "max-age=300")
            ]),
            300
        );
    }

    #[test]
    fn discovery_lives_under_the_issuer() {
        let url = |issuer: &str| discovery_url(&Url::parse(issuer).unwrap()).to_string();
        assert_eq!(
            url("https://securetoken.google.com/my-project"),
            "https://securetoken.google.com/my-project/.well-known/openid-configuration"
        );
        assert_eq!(
            url("https://tenant.auth0.com/"),
            "https://tenant.auth0.com/.well-known/openid-configuration"
        );
        assert_eq!(
            url("https://accounts.google.com"),
            "https://accounts.google.com/.well-known/openid-configuration"
        );
    }

    #[test]
    fn reads_jwks_uri_from_discovery() {
        let issuer = "https://issuer.example";
        let uri = jwks_uri(
            br#"{"issuer": "https://issuer.example", "jwks_uri": "https://issuer.example/keys"}"#,
            issuer,
        )
        .unwrap();
        assert_eq!(uri.as_str(), "https://issuer.example/keys");
        for body in [
            &br#"{"issuer": "https://evil.example", "jwks_uri": "https://issuer.example/keys"}"#[..],
            br#"{"issuer": "https://issuer.example"}"#,
            br#"{"jwks_uri": "file:///etc/passwd"}"#,
            br#"{"jwks_uri": "not a url"}"#,
            b"[]",
        ] {
            assert!(jwks_uri(body, issuer).is_err());
        }
    }

    #[test]
    fn only_http_urls() {
        assert!(http_url("https://a.example/x").is_ok());
        assert!(http_url("http://127.0.0.1:8080/").is_ok());
        for bad in [
            "ftp://a.example/",
            "file:///etc/passwd",
            "a.example",
            "",
            "data:,x",
        ] {
            assert!(http_url(bad).is_err(), "{bad}");
        }
    }
}
