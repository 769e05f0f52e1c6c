//! The HTTP client every provider call goes through: hyper-util's pooled
//! client, HTTP/1.1 or h2 as the server's ALPN answer says, over rustls with
//! ring and the platform's verifier. It reaches a provider directly or
//! through the proxy the environment names (`HTTPS_PROXY`, `HTTP_PROXY`,
//! `ALL_PROXY`, `NO_PROXY`, read as curl reads them).
//!
//! Each thread sending requests has its own connection pool: with one
//! single-threaded runtime per worker (the gateway's `workers` module), a
//! connection is then driven by the thread whose requests use it, and no
//! request wakes another thread.
//!
//! No redirect is followed: an answer is the provider's own, and a key header
//! never travels to another host.

use std::error::Error as StdError;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::header::{ACCEPT, CONTENT_TYPE, PROXY_AUTHORIZATION, USER_AGENT};
use http::uri::Scheme;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, Uri};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::rt::{Read, ReadBufCursor, Write};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder, MaybeHttpsStream};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::proxy::Tunnel;
use hyper_util::client::legacy::connect::{Connected, Connection, HttpConnector};
use hyper_util::client::proxy::matcher::{Intercept, Matcher};
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use thread_local::ThreadLocal;
use tokio::net::TcpStream;
use tower_service::Service;

/// How long a connection (DNS, TCP, a proxy's tunnel, TLS) may take,
/// unless a provider says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(90);
const AIRLOCK_USER_AGENT: &str = concat!("airlock/", env!("CARGO_PKG_VERSION"));
/// Sends after an h2 server's graceful GOAWAY or REFUSED_STREAM, which say
/// the request was not processed (RFC 9113 §8.7), on top of the first.
const PROTOCOL_NACK_RETRIES: usize = 2;

type BoxError = Box<dyn StdError + Send + Sync>;
type Connecting<T> = Pin<Box<dyn Future<Output = Result<T, BoxError>> + Send>>;

/// Why a request got no answer.
pub(crate) type SendError = hyper_util::client::legacy::Error;

/// Makes rustls (with ring) the process's TLS crypto provider, which every
/// HTTP client in the process needs; repeated calls do nothing.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

type PooledClient = Client<Connector, Full<Bytes>>;

/// The HTTP client shared by every provider: a connection pool per thread.
#[derive(Clone)]
pub struct HttpClient {
    connector: Connector,
    pools: Arc<ThreadLocal<PooledClient>>,
    /// The environment's proxies, when it names any.
    proxies: Option<Arc<Proxies>>,
}

/// One request, as it is sent (and sent again if an h2 server asks).
pub(crate) struct Outgoing<'a> {
    pub method: Method,
    pub uri: &'a Uri,
    /// Sent as they are (trace context).
    pub headers: &'a HeaderMap,
    /// A JSON body.
    pub body: Option<Bytes>,
    /// The key's header, its value marked sensitive by the adapter.
    pub key: Option<(HeaderName, HeaderValue)>,
}

impl HttpClient {
    pub fn new() -> Self {
        Self::with_proxies(proxies_from_env(), CONNECT_TIMEOUT)
    }

    /// This client, or one like [`new`](Self::new)'s (its own pools, the
    /// environment's proxies) whose connections may take `timeout`.
    pub fn with_connect_timeout(&self, timeout: Duration) -> Self {
        if timeout == self.connector.timeout {
            return self.clone();
        }
        Self::with_proxies(proxies_from_env(), timeout)
    }

    fn with_proxies(proxies: Option<Matcher>, connect_timeout: Duration) -> Self {
        install_crypto_provider();
        use rustls_platform_verifier::ConfigVerifierExt;
        let tls = rustls::ClientConfig::with_platform_verifier()
            .expect("the platform's certificate verifier can be built");
        let mut tcp = HttpConnector::new();
        tcp.enforce_http(false);
        tcp.set_nodelay(true);
        tcp.set_connect_timeout(Some(connect_timeout));
        tcp.set_keepalive(Some(Duration::from_secs(15)));
        tcp.set_keepalive_interval(Some(Duration::from_secs(15)));
        tcp.set_keepalive_retries(Some(3));
        #[cfg(any(target_os = "android", target_os = "fuchsia", target_os = "linux"))]
        tcp.set_tcp_user_timeout(Some(Duration::from_secs(30)));
        let proxies = proxies.map(|matcher| {
            Arc::new(Proxies {
                matcher,
                // TLS to an `https://` proxy offers no ALPN: it speaks HTTP/1.1.
                to_proxy: HttpsConnector::from((tcp.clone(), tls.clone())),
            })
        });
        let router = Router {
            tcp,
            proxies: proxies.clone(),
        };
        let connector = HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_all_versions()
            .wrap_connector(router);
        HttpClient {
            connector: Connector {
                inner: connector,
                timeout: connect_timeout,
            },
            pools: Arc::new(ThreadLocal::new()),
            proxies,
        }
    }

    /// This thread's pool, made on its first request.
    fn pool(&self) -> &PooledClient {
        self.pools.get_or(|| {
            Client::builder(TokioExecutor::new())
                .timer(TokioTimer::new())
                .pool_timer(TokioTimer::new())
                .pool_idle_timeout(POOL_IDLE_TIMEOUT)
                .build(self.connector.clone())
        })
    }

    /// Sends a request; the answer's body is read by the caller.
    pub(crate) async fn send(
        &self,
        outgoing: &Outgoing<'_>,
    ) -> Result<Response<Incoming>, SendError> {
        let mut nacks = 0;
        loop {
            match self.pool().request(self.request(outgoing)).await {
                Err(error) if nacks < PROTOCOL_NACK_RETRIES && is_protocol_nack(&error) => {
                    nacks += 1;
                }
                result => return result,
            }
        }
    }

    fn request(&self, outgoing: &Outgoing<'_>) -> Request<Full<Bytes>> {
        let body = outgoing.body.clone().unwrap_or_default();
        let mut request = Request::new(Full::new(body));
        *request.method_mut() = outgoing.method.clone();
        *request.uri_mut() = outgoing.uri.clone();
        let headers = request.headers_mut();
        *headers = outgoing.headers.clone();
        if outgoing.body.is_some() {
            // JSON unless the caller said otherwise (a multipart upload).
            headers
                .entry(CONTENT_TYPE)
                .or_insert(HeaderValue::from_static("application/json"));
        }
        if let Some((name, value)) = &outgoing.key {
            headers.insert(name.clone(), value.clone());
        }
        headers
            .entry(ACCEPT)
            .or_insert(HeaderValue::from_static("*/*"));
        headers
            .entry(USER_AGENT)
            .or_insert(HeaderValue::from_static(AIRLOCK_USER_AGENT));
        if let Some(auth) = self.forwarding_auth(outgoing.uri) {
            headers.insert(PROXY_AUTHORIZATION, auth);
        }
        request
    }

    /// The proxy's credentials, for plain HTTP sent through a proxy (HTTPS
    /// goes through a tunnel, whose `CONNECT` carries them).
    fn forwarding_auth(&self, uri: &Uri) -> Option<HeaderValue> {
        let proxies = self.proxies.as_ref()?;
        if uri.scheme() != Some(&Scheme::HTTP) {
            return None;
        }
        proxies.matcher.intercept(uri)?.basic_auth().cloned()
    }
}

impl Default for HttpClient {
    fn default() -> Self {
        Self::new()
    }
}

/// Whether an error says time ran out (a connect, or hyper's own timers)
/// rather than that the provider could not be reached.
pub(crate) fn is_timeout(error: &(dyn StdError + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(error) = cause {
        if let Some(io) = error.downcast_ref::<io::Error>()
            && io.kind() == io::ErrorKind::TimedOut
        {
            return true;
        }
        if let Some(hyper) = error.downcast_ref::<hyper::Error>()
            && hyper.is_timeout()
        {
            return true;
        }
        cause = error.source();
    }
    false
}

/// An h2 server's graceful GOAWAY or REFUSED_STREAM: the request was not
/// processed and may be sent again.
fn is_protocol_nack(error: &SendError) -> bool {
    let mut cause = error.source();
    while let Some(error) = cause {
        if let Some(h2) = error.downcast_ref::<h2::Error>() {
            return h2.is_remote()
                && ((h2.is_go_away() && h2.reason() == Some(h2::Reason::NO_ERROR))
                    || (h2.is_reset() && h2.reason() == Some(h2::Reason::REFUSED_STREAM)));
        }
        cause = error.source();
    }
    false
}

/// Proxies, when the environment names one (`Matcher::from_env` reads the
/// same variables).
fn proxies_from_env() -> Option<Matcher> {
    const NAMES: [&str; 6] = [
        "ALL_PROXY",
        "all_proxy",
        "HTTPS_PROXY",
        "https_proxy",
        "HTTP_PROXY",
        "http_proxy",
    ];
    NAMES
        .iter()
        .any(|name| std::env::var_os(name).is_some_and(|value| !value.is_empty()))
        .then(Matcher::from_env)
}

/// The whole connection (route, then the provider's TLS) within `timeout`.
#[derive(Clone)]
struct Connector {
    inner: HttpsConnector<Router>,
    timeout: Duration,
}

impl Service<Uri> for Connector {
    type Response = MaybeHttpsStream<Routed>;
    type Error = BoxError;
    type Future = Connecting<Self::Response>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        let connecting = self.inner.call(dst);
        let timeout = self.timeout;
        Box::pin(async move {
            match tokio::time::timeout(timeout, connecting).await {
                Ok(connected) => connected,
                Err(_) => Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("no connection within {} s", timeout.as_secs()),
                )
                .into()),
            }
        })
    }
}

/// The way to a provider, before its TLS: a TCP connection to it, a tunnel
/// through a proxy, or (plain HTTP) a connection to the proxy.
#[derive(Clone)]
struct Router {
    tcp: HttpConnector,
    proxies: Option<Arc<Proxies>>,
}

struct Proxies {
    matcher: Matcher,
    to_proxy: HttpsConnector<HttpConnector>,
}

impl Service<Uri> for Router {
    type Response = Routed;
    type Error = BoxError;
    type Future = Connecting<Routed>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.tcp.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, dst: Uri) -> Self::Future {
        if let Some(proxies) = &self.proxies
            && let Some(proxy) = proxies.matcher.intercept(&dst)
        {
            return Box::pin(Arc::clone(proxies).connect(dst, proxy));
        }
        let connecting = self.tcp.call(dst);
        Box::pin(async move {
            Ok(Routed {
                io: MaybeHttpsStream::Http(connecting.await?),
                forwarded: false,
            })
        })
    }
}

impl Proxies {
    async fn connect(self: Arc<Self>, dst: Uri, proxy: Intercept) -> Result<Routed, BoxError> {
        let scheme = proxy.uri().scheme_str().unwrap_or_default();
        if !matches!(scheme, "http" | "https") {
            return Err(format!("unsupported proxy scheme {scheme}").into());
        }
        if dst.scheme() != Some(&Scheme::HTTPS) {
            // Plain HTTP is forwarded: requests go to the proxy in absolute form.
            let io = self.to_proxy.clone().call(proxy.uri().clone()).await?;
            return Ok(Routed {
                io,
                forwarded: true,
            });
        }
        let mut headers = HeaderMap::new();
        headers.insert(USER_AGENT, HeaderValue::from_static(AIRLOCK_USER_AGENT));
        let mut tunnel =
            Tunnel::new(proxy.uri().clone(), self.to_proxy.clone()).with_headers(headers);
        if let Some(auth) = proxy.basic_auth() {
            tunnel = tunnel.with_auth(auth.clone());
        }
        Ok(Routed {
            io: tunnel.call(dst).await?,
            forwarded: false,
        })
    }
}

/// A connection on the way to a provider; `forwarded` when it goes to a
/// proxy that forwards plain HTTP requests.
struct Routed {
    io: MaybeHttpsStream<TokioIo<TcpStream>>,
    forwarded: bool,
}

impl Connection for Routed {
    fn connected(&self) -> Connected {
        self.io.connected().proxy(self.forwarded)
    }
}

impl Read for Routed {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl Write for Routed {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A proxy that reads one request head, answers `answer` and returns the head.
    async fn proxy(answer: &'static str) -> (String, tokio::task::JoinHandle<String>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = Vec::new();
            let mut buf = [0u8; 1024];
            while !head.ends_with(b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                assert!(n > 0, "the head ended early");
                head.extend_from_slice(&buf[..n]);
            }
            socket.write_all(answer.as_bytes()).await.unwrap();
            String::from_utf8(head).unwrap().to_ascii_lowercase()
        });
        (address, task)
    }

    fn outgoing(uri: &Uri) -> Outgoing<'_> {
        static NO_HEADERS: std::sync::LazyLock<HeaderMap> =
            std::sync::LazyLock::new(HeaderMap::new);
        Outgoing {
            method: Method::GET,
            uri,
            headers: &NO_HEADERS,
            body: None,
            key: None,
        }
    }

    #[tokio::test]
    async fn plain_http_is_forwarded_by_the_proxy_with_its_credentials() {
        let (address, head) = proxy("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok").await;
        let matcher = Matcher::builder()
            .http(format!("http://user:pass@{address}"))
            .build();
        let client = HttpClient::with_proxies(Some(matcher), CONNECT_TIMEOUT);
        let uri: Uri = "http://upstream.test:8080/v1/models".parse().unwrap();
        let response = client.send(&outgoing(&uri)).await.unwrap();
        assert_eq!(response.status(), 200);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        let head = head.await.unwrap();
        assert!(
            head.starts_with("get http://upstream.test:8080/v1/models http/1.1\r\n"),
            "{head}"
        );
        // user:pass, base64.
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"),
            "{head}"
        );
        assert!(head.contains("user-agent: airlock/"), "{head}");
    }

    #[tokio::test]
    async fn https_goes_through_a_tunnel_and_a_refused_tunnel_is_an_error() {
        let (address, head) = proxy("HTTP/1.1 403 Forbidden\r\ncontent-length: 0\r\n\r\n").await;
        let matcher = Matcher::builder()
            .https(format!("http://user:pass@{address}"))
            .build();
        let client = HttpClient::with_proxies(Some(matcher), CONNECT_TIMEOUT);
        let uri: Uri = "https://upstream.test/v1/models".parse().unwrap();
        let error = client.send(&outgoing(&uri)).await.unwrap_err();
        assert!(error.is_connect(), "{error:?}");
        assert!(!is_timeout(&error));
        let head = head.await.unwrap();
        assert!(
            head.starts_with("connect upstream.test:443 http/1.1\r\n"),
            "{head}"
        );
        assert!(
            head.contains("proxy-authorization: basic dxnlcjpwyxnz\r\n"),
            "{head}"
        );
        assert!(head.contains("user-agent: airlock/"), "{head}");
    }

    #[tokio::test]
    async fn hosts_the_environment_exempts_are_reached_directly() {
        let (address, head) = proxy("HTTP/1.1 204 No Content\r\n\r\n").await;
        let matcher = Matcher::builder()
            .http("http://127.0.0.1:1")
            .no("127.0.0.1")
            .build();
        let client = HttpClient::with_proxies(Some(matcher), CONNECT_TIMEOUT);
        let uri: Uri = format!("http://{address}/v1/models").parse().unwrap();
        let response = client.send(&outgoing(&uri)).await.unwrap();
        assert_eq!(response.status(), 204);
        let head = head.await.unwrap();
        assert!(head.starts_with("get /v1/models http/1.1\r\n"), "{head}");
        assert!(!head.contains("proxy-authorization"), "{head}");
    }

    #[test]
    fn timeouts_are_told_from_other_failures_through_the_causes() {
        #[derive(Debug, thiserror::Error)]
        #[error("outer")]
        struct Outer(#[source] io::Error);
        let timed_out = Outer(io::Error::new(io::ErrorKind::TimedOut, "slow"));
        let refused = Outer(io::Error::new(io::ErrorKind::ConnectionRefused, "no"));
        assert!(is_timeout(&timed_out));
        assert!(!is_timeout(&refused));
    }
}
