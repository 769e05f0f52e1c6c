//! Answers whose bytes are also a file's, sent with `sendfile(2)` on plain
//! TCP connections, as a static-file server sends them.
//!
//! Copying a body from memory into the socket is most of what serving a
//! large object from memory costs. A handler holding bytes it read from a
//! file that never changes (a stored media object: its name is its
//! content's hash) gives the connection a [`FileBytes`] through the
//! request's [`FileSends`] extension, and answers with those same bytes as
//! usual. When hyper then writes a slice of them, [`PlainTcp`] recognises
//! the memory (the registration holds a clone of the `Bytes`, so nothing
//! else can live at that address meanwhile) and has the kernel send the
//! same bytes from the file instead. Anything that copies the bytes first
//! (TLS, an h2 frame buffer) simply sends them from memory: the bytes are
//! the same either way, so the substitution can only change how they are
//! sent, never what is sent.
//!
//! Bytes before the file's (the response head) go out with `MSG_MORE`, so
//! the kernel packs them with the file's first bytes, as nginx's
//! `tcp_nopush` does.

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use rustix::net::{SendAncillaryBuffer, SendFlags};
use tokio::io::{AsyncRead, AsyncWrite, Interest, ReadBuf};
use tokio::net::TcpStream;

/// Registrations a connection keeps at once: a response's bytes may still
/// be queued in hyper while the next response registers its own.
const HELD_PER_CONNECTION: usize = 2;

/// Bytes equal to a file's, from its start.
#[derive(Clone)]
pub struct FileBytes {
    bytes: Bytes,
    file: Arc<File>,
}

impl FileBytes {
    /// `bytes` must be exactly what `file` holds from its start, and the
    /// file must never change (content-addressed, written once).
    pub fn new(bytes: Bytes, file: Arc<File>) -> FileBytes {
        FileBytes { bytes, file }
    }

    pub fn bytes(&self) -> &Bytes {
        &self.bytes
    }

    /// Where `slice` starts in the file, and how many of its bytes the
    /// file holds, when `slice` lies in these bytes' memory.
    fn locate(&self, slice: &[u8]) -> Option<(u64, usize)> {
        let start = self.bytes.as_ptr() as usize;
        let end = start + self.bytes.len();
        let at = slice.as_ptr() as usize;
        (at >= start && at < end).then(|| ((at - start) as u64, slice.len().min(end - at)))
    }
}

/// A plain TCP connection's registrations: the request extension a handler
/// finds when its answer may be sent from a file.
#[derive(Clone, Default)]
pub struct FileSends {
    shared: Arc<Registrations>,
}

#[derive(Default)]
struct Registrations {
    /// Set while `held` is not empty: writes look no further when clear.
    any: AtomicBool,
    held: Mutex<VecDeque<FileBytes>>,
}

impl FileSends {
    /// From now on, these bytes leave this connection from their file.
    pub fn hold(&self, bytes: &FileBytes) {
        let mut held = self.shared.lock();
        if held.len() == HELD_PER_CONNECTION {
            held.pop_front();
        }
        held.push_back(bytes.clone());
        self.shared.any.store(true, Ordering::Release);
    }

    /// Where to send `slice` from, when it lies in registered bytes.
    fn find(&self, slice: &[u8]) -> Option<Found> {
        if !self.shared.any.load(Ordering::Acquire) {
            return None;
        }
        let held = self.shared.lock();
        held.iter().find_map(|bytes| {
            bytes.locate(slice).map(|(offset, len)| Found {
                file: bytes.file.clone(),
                offset,
                len,
                reaches_end: offset as usize + len == bytes.bytes.len(),
            })
        })
    }

    /// Done with whatever holds `slice`: sent to its end, or its file ran
    /// short.
    fn release(&self, slice: &[u8]) {
        let mut held = self.shared.lock();
        held.retain(|bytes| bytes.locate(slice).is_none());
        if held.is_empty() {
            self.shared.any.store(false, Ordering::Release);
        }
    }
}

/// A slice found in registered bytes: the file holding it, where, and how
/// many of the slice's bytes it holds.
struct Found {
    file: Arc<File>,
    offset: u64,
    len: usize,
    /// The slice goes on to the end of the registered bytes.
    reaches_end: bool,
}

impl Registrations {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<FileBytes>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// A plain TCP socket that sends registered bytes from their files.
pub(crate) struct PlainTcp {
    tcp: TcpStream,
    sends: FileSends,
}

impl PlainTcp {
    pub(crate) fn new(tcp: TcpStream) -> PlainTcp {
        PlainTcp {
            tcp,
            sends: FileSends::default(),
        }
    }

    pub(crate) fn file_sends(&self) -> &FileSends {
        &self.sends
    }

    /// Writes `bufs`: those before the first registered slice with
    /// `MSG_MORE`, a registered slice from its file, anything else as it is.
    fn poll_send(&mut self, cx: &mut Context<'_>, bufs: &[IoSlice<'_>]) -> Poll<io::Result<usize>> {
        let registered = bufs
            .iter()
            .enumerate()
            .find_map(|(index, buf)| self.sends.find(buf).map(|found| (index, found)));
        match registered {
            None => Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs),
            Some((0, found)) => {
                let slice = &bufs[0][..];
                let (file, offset, len) = (&found.file, found.offset, found.len);
                match ready!(self.poll_io(cx, || send_file(&self.tcp, file, offset, len))) {
                    // The file is shorter than the bytes: never expected of
                    // a file written once; the bytes go from memory instead.
                    Ok(0) => {
                        self.sends.release(slice);
                        Pin::new(&mut self.tcp).poll_write_vectored(cx, bufs)
                    }
                    Ok(sent) => {
                        if sent == len && found.reaches_end {
                            self.sends.release(slice);
                        }
                        Poll::Ready(Ok(sent))
                    }
                    Err(error) => Poll::Ready(Err(error)),
                }
            }
            Some((before, _)) => {
                let head = &bufs[..before];
                self.poll_io(cx, || send_more(&self.tcp, head))
            }
        }
    }

    /// Runs a raw send once the socket is writable, again after each
    /// spurious readiness.
    fn poll_io(
        &self,
        cx: &mut Context<'_>,
        mut send: impl FnMut() -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(self.tcp.poll_write_ready(cx))?;
            match self.tcp.try_io(Interest::WRITABLE, &mut send) {
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }
}

fn send_file(tcp: &TcpStream, file: &File, offset: u64, len: usize) -> io::Result<usize> {
    let mut offset = offset;
    Ok(rustix::fs::sendfile(tcp, file, Some(&mut offset), len)?)
}

fn send_more(tcp: &TcpStream, bufs: &[IoSlice<'_>]) -> io::Result<usize> {
    let mut control = SendAncillaryBuffer::default();
    Ok(rustix::net::sendmsg(
        tcp,
        bufs,
        &mut control,
        SendFlags::MORE | SendFlags::NOSIGNAL,
    )?)
}

impl AsyncRead for PlainTcp {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_read(cx, buf)
    }
}

impl AsyncWrite for PlainTcp {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.poll_send(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.tcp).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;

    /// A connected pair: the server's side as a `PlainTcp`, the client's.
    async fn pair() -> (PlainTcp, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap());
        let (client, accepted) = tokio::join!(client, listener.accept());
        (PlainTcp::new(accepted.unwrap().0), client.unwrap())
    }

    /// A file holding `content`. The tests give it other bytes than the
    /// registered memory's (never so in use) to see which were sent.
    fn file_holding(content: &[u8]) -> Arc<File> {
        let mut file = tempfile::tempfile().unwrap();
        file.write_all(content).unwrap();
        Arc::new(file)
    }

    /// Writes `bufs` through the socket as hyper does (vectored, resuming
    /// after partial writes), closes it, and returns what the peer read.
    async fn send(server: PlainTcp, mut client: TcpStream, bufs: Vec<Bytes>) -> Vec<u8> {
        let reader = tokio::spawn(async move {
            let mut received = Vec::new();
            client.read_to_end(&mut received).await.unwrap();
            received
        });
        let mut server = server;
        let mut bufs: VecDeque<Bytes> = bufs.into();
        while !bufs.is_empty() {
            let slices: Vec<IoSlice<'_>> = bufs.iter().map(|b| IoSlice::new(b)).collect();
            let mut written = server.write_vectored(&slices).await.unwrap();
            assert!(written > 0);
            while written > 0 {
                let first = bufs.front_mut().unwrap();
                let step = written.min(first.len());
                bytes::Buf::advance(first, step);
                written -= step;
                if first.is_empty() {
                    bufs.pop_front();
                }
            }
        }
        server.shutdown().await.unwrap();
        drop(server);
        reader.await.unwrap()
    }

    #[tokio::test]
    async fn registered_bytes_leave_from_their_file_after_the_head() {
        let (server, client) = pair().await;
        let memory = Bytes::from(vec![b'm'; 300_000]);
        let on_disk = vec![b'f'; 300_000];
        server
            .file_sends()
            .hold(&FileBytes::new(memory.clone(), file_holding(&on_disk)));
        let head = Bytes::from_static(b"HTTP/1.1 200 OK\r\n\r\n");
        let received = send(server, client, vec![head.clone(), memory]).await;
        assert_eq!(&received[..head.len()], &head[..]);
        assert_eq!(&received[head.len()..], &on_disk[..]);
    }

    #[tokio::test]
    async fn a_slice_of_registered_bytes_leaves_from_the_same_place_in_the_file() {
        let (server, client) = pair().await;
        let memory = Bytes::from(vec![0u8; 100_000]);
        let on_disk: Vec<u8> = (0..100_000u32).map(|n| (n % 251) as u8).collect();
        server
            .file_sends()
            .hold(&FileBytes::new(memory.clone(), file_holding(&on_disk)));
        let received = send(server, client, vec![memory.slice(1_000..60_000)]).await;
        assert_eq!(received, &on_disk[1_000..60_000]);
    }

    #[tokio::test]
    async fn bytes_not_registered_leave_from_memory() {
        let (server, client) = pair().await;
        let registered = Bytes::from(vec![b'm'; 10_000]);
        server.file_sends().hold(&FileBytes::new(
            registered.clone(),
            file_holding(&[b'f'; 10_000]),
        ));
        let other = Bytes::from(vec![b'o'; 50_000]);
        let received = send(server, client, vec![other.clone()]).await;
        assert_eq!(received, &other[..]);
    }

    #[tokio::test]
    async fn a_file_shorter_than_its_bytes_leaves_the_rest_to_memory() {
        let (server, client) = pair().await;
        let memory = Bytes::from(vec![b'm'; 20_000]);
        server.file_sends().hold(&FileBytes::new(
            memory.clone(),
            file_holding(&[b'f'; 5_000]),
        ));
        let received = send(server, client, vec![memory]).await;
        assert_eq!(received.len(), 20_000);
        assert_eq!(&received[..5_000], &[b'f'; 5_000][..]);
        assert_eq!(&received[5_000..], &[b'm'; 15_000][..]);
    }

    #[tokio::test]
    async fn bytes_sent_to_their_end_are_let_go() {
        let (server, client) = pair().await;
        let memory = Bytes::from(vec![b'm'; 10_000]);
        let sends = server.file_sends().clone();
        sends.hold(&FileBytes::new(
            memory.clone(),
            file_holding(&[b'f'; 10_000]),
        ));
        assert!(sends.find(&memory).is_some());
        send(server, client, vec![memory.clone()]).await;
        assert!(sends.find(&memory).is_none());
        assert!(!sends.shared.any.load(Ordering::Acquire));
    }
}
