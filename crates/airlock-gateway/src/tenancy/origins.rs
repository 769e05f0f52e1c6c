//! Web origins: which browsers may use a project's publishable keys.

use http::HeaderMap;

/// Whether `origin` (`https://app.example.com[:port]`) matches one of the
/// patterns: an exact origin, or `https://*.example.com` for any subdomain.
pub fn origin_matches(patterns: &[String], origin: &str) -> bool {
    let origin = origin.trim_end_matches('/').to_ascii_lowercase();
    patterns.iter().any(|pattern| {
        let pattern = pattern.trim_end_matches('/').to_ascii_lowercase();
        match pattern.split_once("://*.") {
            Some((scheme, domain)) => origin
                .strip_prefix(&format!("{scheme}://"))
                .and_then(|host| host.strip_suffix(&format!(".{domain}")))
                .is_some_and(|sub| !sub.is_empty() && !sub.contains('/')),
            None => origin == pattern,
        }
    })
}

/// The request's origin: the `Origin` header, or the origin part of the
/// `Referer` when a browser sent no `Origin`.
pub fn request_origin(headers: &HeaderMap) -> Option<String> {
    if let Some(origin) = headers
        .get(http::header::ORIGIN)
        .and_then(|v| v.to_str().ok())
    {
        return (origin != "null").then(|| origin.to_string());
    }
    let referer = headers.get(http::header::REFERER)?.to_str().ok()?;
    let (scheme, rest) = referer.split_once("://")?;
    let host = rest.split(['/', '?', '#']).next()?;
    (!host.is_empty()).then(|| format!("{scheme}://{host}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn patterns() -> Vec<String> {
        vec![
            "https://app.example.com".into(),
            "https://*.widgets.example".into(),
        ]
    }

    #[test]
    fn matches_exact_and_wildcard_origins() {
        assert!(origin_matches(&patterns(), "https://app.example.com"));
        assert!(origin_matches(&patterns(), "HTTPS://APP.EXAMPLE.COM"));
        assert!(origin_matches(&patterns(), "https://shop.widgets.example"));
        assert!(!origin_matches(&patterns(), "https://widgets.example"));
        assert!(!origin_matches(&patterns(), "http://app.example.com"));
        assert!(!origin_matches(
            &patterns(),
            "https://app.example.com.evil.test"
        ));
        assert!(!origin_matches(
            &patterns(),
            "https://evil.test/.widgets.example"
        ));
    }

    #[test]
    fn reads_origin_or_referer() {
        let mut headers = HeaderMap::new();
        headers.insert(
            http::header::REFERER,
            "https://app.example.com/page?x=1".parse().unwrap(),
        );
        assert_eq!(
            request_origin(&headers).as_deref(),
            Some("https://app.example.com")
        );
        headers.insert(http::header::ORIGIN, "https://other.test".parse().unwrap());
        assert_eq!(
            request_origin(&headers).as_deref(),
            Some("https://other.test")
        );
        headers.insert(http::header::ORIGIN, "null".parse().unwrap());
        assert_eq!(request_origin(&headers), None);
    }
}
