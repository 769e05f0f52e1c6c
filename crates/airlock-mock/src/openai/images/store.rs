//! The pictures answered as URLs (`response_format: "url"`), kept in memory
//! and served at `GET /blob/img-{id}.png` on the simulator's own origin,
//! the way OpenAI answers a short-lived blob URL that needs no API key.
//!
//! The store is bounded: it keeps the most recent [`MAX_PICTURES`] pictures
//! of at most [`MAX_BYTES`] in all, each for [`LIFETIME`] (OpenAI's URLs
//! last 60 minutes); an unknown, forgotten or expired name answers the
//! blob store's 404.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::{Path, State};
use axum::response::Response;
use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};

use crate::picture::ImageFormat;
use crate::server::{MockServer, lock};

/// How many pictures are kept.
pub const MAX_PICTURES: usize = 256;
/// How many bytes of pictures are kept.
pub const MAX_BYTES: usize = 64 * 1024 * 1024;
/// How long a URL works.
pub const LIFETIME: Duration = Duration::from_secs(60 * 60);
/// The path the pictures are served under.
pub const PREFIX: &str = "/blob/";

#[derive(Debug)]
struct Picture {
    name: String,
    format: ImageFormat,
    bytes: Bytes,
    made: Instant,
}

/// The recently answered pictures, oldest first.
#[derive(Debug, Default)]
pub struct Store {
    pictures: Mutex<VecDeque<Picture>>,
}

impl Store {
    /// Keeps a picture under `name` (`img-….png`), forgetting the oldest
    /// ones beyond the bounds.
    pub fn keep(&self, name: String, format: ImageFormat, bytes: Bytes) {
        let mut pictures = lock(&self.pictures);
        pictures.push_back(Picture {
            name,
            format,
            bytes,
            made: Instant::now(),
        });
        let mut total: usize = pictures.iter().map(|p| p.bytes.len()).sum();
        while pictures.len() > MAX_PICTURES || (total > MAX_BYTES && pictures.len() > 1) {
            if let Some(old) = pictures.pop_front() {
                total -= old.bytes.len();
            }
        }
    }

    /// The picture named `name`, if it is kept and has not expired.
    fn get(&self, name: &str) -> Option<(ImageFormat, Bytes)> {
        lock(&self.pictures)
            .iter()
            .find(|p| p.name == name && p.made.elapsed() < LIFETIME)
            .map(|p| (p.format, p.bytes.clone()))
    }
}

/// `GET /blob/{name}`: the picture, or the blob store's 404.
pub async fn serve(State(server): State<MockServer>, Path(name): Path<String>) -> Response {
    match server.images().get(&name) {
        Some((format, bytes)) => {
            let mut response = Response::new(Body::from(bytes));
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.mime_type()),
            );
            response
        }
        None => {
            let mut response = Response::new(Body::from(
                "<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>BlobNotFound</Code>\
                 <Message>The specified blob does not exist.</Message></Error>",
            ));
            *response.status_mut() = StatusCode::NOT_FOUND;
            response.headers_mut().insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/xml"),
            );
            response
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_within_bounds() {
        let store = Store::default();
        for i in 0..MAX_PICTURES + 2 {
            store.keep(
                format!("img-{i}.png"),
                ImageFormat::Png,
                Bytes::from_static(b"png"),
            );
        }
        assert_eq!(store.get("img-0.png"), None);
        assert_eq!(store.get("img-1.png"), None);
        assert_eq!(
            store.get("img-2.png"),
            Some((ImageFormat::Png, Bytes::from_static(b"png")))
        );
        let big = Bytes::from(vec![0; MAX_BYTES]);
        store.keep("big.png".into(), ImageFormat::Png, big.clone());
        assert_eq!(store.get("img-2.png"), None, "pushed out by size");
        assert_eq!(store.get("big.png").map(|(_, b)| b.len()), Some(MAX_BYTES));
    }
}
