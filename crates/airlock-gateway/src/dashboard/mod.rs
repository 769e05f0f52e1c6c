//! The admin dashboard: a web UI served by the binary at `/ui/`, beside the
//! admin API it is a client of.
//!
//! Its files (`ui/` in this crate: an HTML shell, ES modules, a stylesheet
//! and the vendored uPlot) are embedded at build time and served with a
//! Content Security Policy that allows only this origin's own scripts and
//! styles: no inline script, nothing from elsewhere. Signing in, sessions
//! and roles are in [`sign_in`]; the pages read and change everything
//! through `/admin/v1`.

pub(crate) mod sign_in;

pub use sign_in::{check_password, check_username, hash_password};

use axum::Router;
use axum::extract::Path;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use http::{HeaderValue, StatusCode, header};
use rust_embed::RustEmbed;

use crate::state::AppState;

/// The files under `ui/`.
#[derive(RustEmbed)]
#[folder = "ui/"]
struct Files;

/// Only this origin's own files; no inline script or style, no framing.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     img-src 'self' data:; connect-src 'self'; font-src 'self'; base-uri 'none'; \
     form-action 'self'; frame-ancestors 'none'";

pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/ui", get(|| async { Redirect::permanent("/ui/") }))
        .route("/ui/", get(|| async { file("index.html") }))
        .route(
            "/ui/assets/{*path}",
            get(|Path(path): Path<String>| async move { file(&format!("assets/{path}")) }),
        )
}

/// An embedded file with its type, or a 404, with the dashboard's
/// security headers either way.
fn file(path: &str) -> Response {
    let (mut response, content_type) = match Files::get(path) {
        Some(file) => (file.data.into_owned().into_response(), content_type(path)),
        None => (
            (StatusCode::NOT_FOUND, "no such dashboard file").into_response(),
            "text/plain; charset=utf-8",
        ),
    };
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    // The shell is read afresh (it names the assets); assets may be cached
    // briefly, as a new binary may bring new ones under the same names.
    let cache = if path == "index.html" {
        "no-store"
    } else {
        "private, max-age=300"
    };
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    response
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("json") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_has_a_known_type() {
        for path in Files::iter() {
            let known = content_type(&path) != "text/plain; charset=utf-8";
            let text = path.ends_with("LICENSE") || path.ends_with("VERSION");
            assert!(known || text, "{path} would be served as plain text");
        }
        assert!(Files::get("index.html").is_some());
    }
}
