//! One Gemini Live session: connect, `setup`, wait for `setupComplete`, then
//! either stream stamped audio chunks in real time and time their echoes
//! (active) or hold the socket open until told to probe it once (idle).
//!
//! Each chunk's PCM starts with an 18-byte stamp (send time in ns since
//! the tool started, sequence number, session number, magic) which is
//! exactly the first 24 base64 characters of the chunk's `data`. The frame's
//! JSON is encoded once per session; each send patches those 24 characters
//! and copies the frame into the message. An echo is timed by decoding
//! only those 24 characters.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::net::TcpStream;
use tokio::sync::watch;
use tokio::time::MissedTickBehavior;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Bytes, Error as WsError, Message, Utf8Bytes};
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<TcpStream>>;

/// The stamp: 8 bytes send time, 4 sequence, 4 session, 2 magic = 18 bytes,
/// i.e. exactly 24 base64 characters.
const STAMP_BYTES: usize = 18;
const STAMP_CHARS: usize = 24;
const MAGIC: [u8; 2] = *b"AL";
/// Where the echoed audio's base64 starts in the simulator's compact JSON.
const DATA_KEY: &[u8] = b"\"data\":\"";

/// What the sessions are told to do after the measured window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Run,
    /// Idle sessions: send one chunk and wait for its echo.
    Probe,
    /// Close now.
    Close,
}

/// What every session shares.
pub struct Shared {
    pub t0: Instant,
    pub url: String,
    pub key: String,
    pub setup: String,
    pub active: bool,
    pub chunk_bytes: usize,
    pub chunk_period: Duration,
    pub connect_timeout: Duration,
    pub drain: Duration,
    pub window_secs: u64,
    window_start_ns: AtomicU64,
    window_end_ns: AtomicU64,
    /// Sessions set up or failed while setting up.
    pub settled: AtomicUsize,
    pub opened: AtomicUsize,
    /// Sessions set up and not failed since (a session the tool closes
    /// itself stays counted).
    pub alive: AtomicUsize,
    /// Session tasks still running.
    pub running: AtomicUsize,
    pub probes_echoed: AtomicUsize,
    failures: Mutex<HashMap<String, u64>>,
}

impl Shared {
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        t0: Instant,
        url: String,
        key: String,
        setup: String,
        active: bool,
        chunk_bytes: usize,
        chunk_period: Duration,
        connect_timeout: Duration,
        drain: Duration,
        window_secs: u64,
    ) -> Self {
        Shared {
            t0,
            url,
            key,
            setup,
            active,
            chunk_bytes,
            chunk_period,
            connect_timeout,
            drain,
            window_secs,
            window_start_ns: AtomicU64::new(u64::MAX),
            window_end_ns: AtomicU64::new(u64::MAX),
            settled: AtomicUsize::new(0),
            opened: AtomicUsize::new(0),
            alive: AtomicUsize::new(0),
            running: AtomicUsize::new(0),
            probes_echoed: AtomicUsize::new(0),
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Nanoseconds since the tool started.
    pub fn ns(&self, at: Instant) -> u64 {
        at.saturating_duration_since(self.t0).as_nanos() as u64
    }

    pub fn set_window(&self, start: Instant, end: Instant) {
        self.window_start_ns.store(self.ns(start), Ordering::SeqCst);
        self.window_end_ns.store(self.ns(end), Ordering::SeqCst);
    }

    fn in_window(&self, ns: u64) -> bool {
        ns >= self.window_start_ns.load(Ordering::Relaxed)
            && ns < self.window_end_ns.load(Ordering::Relaxed)
    }

    fn past_window(&self, ns: u64) -> bool {
        ns >= self.window_end_ns.load(Ordering::Relaxed)
    }

    fn fail(&self, reason: String) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        *failures.entry(reason).or_insert(0) += 1;
    }

    pub fn failures(&self) -> HashMap<String, u64> {
        self.failures
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// What one session saw.
#[derive(Default)]
pub struct SessionStats {
    pub opened: bool,
    /// Connect + handshake + setup → setupComplete, in µs.
    pub setup_us: Option<u32>,
    /// Set up, then closed or broken before the tool closed it.
    pub ended_early: bool,
    pub sent: u64,
    pub received: u64,
    /// Chunks sent inside the measured window, and their echoes.
    pub sent_window: u64,
    pub received_window: u64,
    /// Data frames that were not an echo of a stamped chunk.
    pub other_frames: u64,
    /// Echoes carrying another session's stamp.
    pub mismatched: u64,
    /// Round trips (µs) of chunks sent inside the window.
    pub rtt_us: Vec<u32>,
    /// How late each send in the window was against its 100 ms schedule (µs).
    pub lag_us: Vec<u32>,
    pub probe_sent: bool,
    pub probe_rtt_us: Option<u32>,
}

fn us(duration: Duration) -> u32 {
    u32::try_from(duration.as_micros()).unwrap_or(u32::MAX)
}

/// Runs session `id` until it ends; failures are counted in `shared`.
pub async fn run(
    id: u32,
    shared: std::sync::Arc<Shared>,
    mut phase: watch::Receiver<Phase>,
) -> SessionStats {
    shared.running.fetch_add(1, Ordering::SeqCst);
    let stats = session(id, &shared, &mut phase).await;
    shared.running.fetch_sub(1, Ordering::SeqCst);
    stats
}

async fn session(id: u32, shared: &Shared, phase: &mut watch::Receiver<Phase>) -> SessionStats {
    let mut stats = SessionStats::default();
    let started = Instant::now();
    let mut ws = match open(shared).await {
        Ok(ws) => ws,
        Err(reason) => {
            shared.fail(reason);
            shared.settled.fetch_add(1, Ordering::SeqCst);
            return stats;
        }
    };
    stats.opened = true;
    stats.setup_us = Some(us(started.elapsed()));
    shared.opened.fetch_add(1, Ordering::SeqCst);
    shared.alive.fetch_add(1, Ordering::SeqCst);
    shared.settled.fetch_add(1, Ordering::SeqCst);
    let outcome = if shared.active {
        stream(id, shared, &mut ws, phase, &mut stats).await
    } else {
        hold(id, shared, &mut ws, phase, &mut stats).await
    };
    match outcome {
        Ok(()) => {
            let _ = tokio::time::timeout(Duration::from_secs(2), ws.close(None)).await;
        }
        Err(reason) => {
            shared.alive.fetch_sub(1, Ordering::SeqCst);
            stats.ended_early = true;
            shared.fail(reason);
        }
    }
    stats
}

async fn open(shared: &Shared) -> Result<Socket, String> {
    let mut request = shared
        .url
        .as_str()
        .into_client_request()
        .map_err(|e| format!("bad url: {e}"))?;
    let key = HeaderValue::from_str(&shared.key).map_err(|_| "bad key".to_string())?;
    request.headers_mut().insert("x-goog-api-key", key);
    let config = WebSocketConfig::default()
        .read_buffer_size(8 * 1024)
        .write_buffer_size(0);
    let connecting = tokio_tungstenite::connect_async_with_config(request, Some(config), true);
    let mut ws = match tokio::time::timeout(shared.connect_timeout, connecting).await {
        Err(_) => return Err("connect: timed out".into()),
        Ok(Err(WsError::Http(response))) => {
            return Err(format!(
                "handshake refused: HTTP {}",
                response.status().as_u16()
            ));
        }
        Ok(Err(WsError::Io(error))) => return Err(format!("connect: {}", error.kind())),
        Ok(Err(error)) => return Err(format!("handshake: {}", short(&error.to_string()))),
        Ok(Ok((ws, _))) => ws,
    };
    ws.send(Message::text(shared.setup.clone()))
        .await
        .map_err(|e| format!("sending setup: {}", short(&e.to_string())))?;
    let first = tokio::time::timeout(shared.connect_timeout, next_data(&mut ws))
        .await
        .map_err(|_| "no setupComplete in time".to_string())?
        .map_err(|ending| format!("before setupComplete: {ending}"))?;
    let value: Value =
        serde_json::from_slice(&first).map_err(|_| "setup answer is not JSON".to_string())?;
    match value.as_object().and_then(|o| o.keys().next()) {
        Some(name) if name == "setupComplete" => Ok(ws),
        Some(name) => Err(format!("first message was `{name}`, not setupComplete")),
        None => Err("first message was not an object".into()),
    }
}

/// The next text or binary message, or how the socket ended.
async fn next_data(ws: &mut Socket) -> Result<Bytes, String> {
    loop {
        match ws.next().await {
            Some(Ok(message)) => match data_of(message) {
                Ok(Some(data)) => return Ok(data),
                Ok(None) => continue,
                Err(ending) => return Err(ending),
            },
            Some(Err(error)) => return Err(format!("read error: {}", short(&error.to_string()))),
            None => return Err("connection ended".into()),
        }
    }
}

/// A data message's bytes; `None` for ping and pong; the close as an error.
fn data_of(message: Message) -> Result<Option<Bytes>, String> {
    match message {
        Message::Text(text) => Ok(Some(Bytes::from(text))),
        Message::Binary(bytes) => Ok(Some(bytes)),
        Message::Close(frame) => Err(match frame {
            Some(frame) => format!(
                "closed with {} {}",
                u16::from(frame.code),
                short(frame.reason.as_str())
            ),
            None => "closed without a code".into(),
        }),
        _ => Ok(None),
    }
}

/// The reason text, bounded so that failure reasons group.
fn short(text: &str) -> String {
    text.chars().take(100).collect()
}

async fn stream(
    id: u32,
    shared: &Shared,
    ws: &mut Socket,
    phase: &mut watch::Receiver<Phase>,
    stats: &mut SessionStats,
) -> Result<(), String> {
    let mut chunk = Chunk::new(shared.chunk_bytes, id);
    let per_sec = 1_000_000_000 / shared.chunk_period.as_nanos().max(1) as u64;
    let capacity = (shared.window_secs * per_sec + 16) as usize;
    stats.rtt_us.reserve(capacity);
    stats.lag_us.reserve(capacity);
    let mut ticker = tokio::time::interval(shared.chunk_period);
    // Audio is produced in real time: a late tick still sends its chunk.
    ticker.set_missed_tick_behavior(MissedTickBehavior::Burst);
    let mut seq: u32 = 0;
    let mut sending = true;
    let mut drain_until = tokio::time::Instant::now() + Duration::from_secs(86_400);
    loop {
        tokio::select! {
            message = ws.next() => {
                let now_ns = shared.ns(Instant::now());
                let data = match message {
                    Some(Ok(message)) => match data_of(message) {
                        Ok(Some(data)) => data,
                        Ok(None) => continue,
                        Err(ending) => return Err(format!("while streaming: {ending}")),
                    },
                    Some(Err(error)) => {
                        return Err(format!("while streaming: read error: {}", short(&error.to_string())));
                    }
                    None => return Err("while streaming: connection ended".into()),
                };
                match read_stamp(&data) {
                    Some(stamp) => {
                        stats.received += 1;
                        if stamp.session != id {
                            stats.mismatched += 1;
                        }
                        if shared.in_window(stamp.sent_ns) {
                            stats.received_window += 1;
                            stats.rtt_us.push(((now_ns.saturating_sub(stamp.sent_ns)) / 1000).min(u64::from(u32::MAX)) as u32);
                        }
                    }
                    None => stats.other_frames += 1,
                }
            }
            scheduled = ticker.tick(), if sending => {
                let now = Instant::now();
                let now_ns = shared.ns(now);
                if shared.past_window(now_ns) {
                    sending = false;
                    drain_until = tokio::time::Instant::now() + shared.drain;
                } else {
                    if shared.in_window(now_ns) {
                        stats.sent_window += 1;
                        stats.lag_us.push(us(now.saturating_duration_since(scheduled.into_std())));
                    }
                    let message = chunk.stamped(now_ns, seq, id);
                    seq = seq.wrapping_add(1);
                    stats.sent += 1;
                    if let Err(error) = ws.send(message).await {
                        return Err(format!("while streaming: send failed: {}", short(&error.to_string())));
                    }
                }
            }
            () = tokio::time::sleep_until(drain_until), if !sending => return Ok(()),
            changed = phase.changed() => {
                if changed.is_err() || *phase.borrow_and_update() == Phase::Close {
                    return Ok(());
                }
            }
        }
        if !sending && stats.received >= stats.sent {
            return Ok(());
        }
    }
}

async fn hold(
    id: u32,
    shared: &Shared,
    ws: &mut Socket,
    phase: &mut watch::Receiver<Phase>,
    stats: &mut SessionStats,
) -> Result<(), String> {
    let mut probe_sent_ns = 0;
    loop {
        tokio::select! {
            message = ws.next() => {
                let data = match message {
                    Some(Ok(message)) => match data_of(message) {
                        Ok(Some(data)) => data,
                        Ok(None) => continue,
                        Err(ending) => return Err(format!("while held: {ending}")),
                    },
                    Some(Err(error)) => {
                        return Err(format!("while held: read error: {}", short(&error.to_string())));
                    }
                    None => return Err("while held: connection ended".into()),
                };
                match read_stamp(&data) {
                    Some(stamp) if stats.probe_sent && stats.probe_rtt_us.is_none() => {
                        let now_ns = shared.ns(Instant::now());
                        stats.received += 1;
                        if stamp.session != id {
                            stats.mismatched += 1;
                        }
                        stats.probe_rtt_us = Some((now_ns.saturating_sub(probe_sent_ns) / 1000) as u32);
                        shared.probes_echoed.fetch_add(1, Ordering::SeqCst);
                    }
                    _ => stats.other_frames += 1,
                }
            }
            changed = phase.changed() => {
                if changed.is_err() {
                    return Ok(());
                }
                let now = *phase.borrow_and_update();
                match now {
                    Phase::Probe if !stats.probe_sent => {
                        probe_sent_ns = shared.ns(Instant::now());
                        let message = Chunk::new(shared.chunk_bytes, id).stamped(probe_sent_ns, 0, id);
                        stats.probe_sent = true;
                        stats.sent += 1;
                        if let Err(error) = ws.send(message).await {
                            return Err(format!("probe: send failed: {}", short(&error.to_string())));
                        }
                    }
                    Phase::Close => return Ok(()),
                    _ => {}
                }
            }
        }
    }
}

/// The size of the text frame that carries `pcm_bytes` of audio.
pub fn frame_bytes(pcm_bytes: usize) -> usize {
    Chunk::new(pcm_bytes, 0).frame.len()
}

/// A `realtimeInput` audio frame, encoded once.
struct Chunk {
    frame: Vec<u8>,
    /// Where the base64 audio starts in `frame`.
    data_at: usize,
}

impl Chunk {
    fn new(pcm_bytes: usize, session: u32) -> Self {
        // A quiet triangle wave, 16-bit little-endian; its phase differs by session.
        let samples = pcm_bytes / 2;
        let mut pcm = Vec::with_capacity(pcm_bytes);
        for i in 0..samples {
            let t = ((i as u32).wrapping_add(session.wrapping_mul(7)) % 64) as i16;
            let value = (if t < 32 { t } else { 64 - t } - 16) * 256;
            pcm.extend_from_slice(&value.to_le_bytes());
        }
        pcm.resize(pcm_bytes.max(STAMP_BYTES), 0);
        let prefix = r#"{"realtimeInput":{"audio":{"data":""#;
        let frame = format!(
            r#"{prefix}{}","mimeType":"audio/pcm;rate=16000"}}}}}}"#,
            STANDARD.encode(&pcm)
        );
        Chunk {
            frame: frame.into_bytes(),
            data_at: prefix.len(),
        }
    }

    /// The frame with this stamp in its first 24 base64 characters.
    fn stamped(&mut self, sent_ns: u64, seq: u32, session: u32) -> Message {
        let mut stamp = [0u8; STAMP_BYTES];
        stamp[0..8].copy_from_slice(&sent_ns.to_le_bytes());
        stamp[8..12].copy_from_slice(&seq.to_le_bytes());
        stamp[12..16].copy_from_slice(&session.to_le_bytes());
        stamp[16..18].copy_from_slice(&MAGIC);
        let target = &mut self.frame[self.data_at..self.data_at + STAMP_CHARS];
        let written = STANDARD
            .encode_slice(stamp, target)
            .expect("18 bytes are 24 base64 characters");
        debug_assert_eq!(written, STAMP_CHARS);
        let text =
            Utf8Bytes::try_from(Bytes::copy_from_slice(&self.frame)).expect("the frame is ASCII");
        Message::Text(text)
    }
}

/// A decoded stamp.
#[derive(Debug, PartialEq, Eq)]
struct Stamp {
    sent_ns: u64,
    seq: u32,
    session: u32,
}

/// The stamp at the start of an echoed chunk's `data`, if this is one.
fn read_stamp(frame: &[u8]) -> Option<Stamp> {
    let at = frame
        .windows(DATA_KEY.len())
        .position(|w| w == DATA_KEY)
        .map(|at| at + DATA_KEY.len());
    match at {
        Some(at) => decode_stamp(frame.get(at..at + STAMP_CHARS)?),
        // Not the compact form: read the JSON properly (slow path).
        None => {
            let value: Value = serde_json::from_slice(frame).ok()?;
            let parts = value
                .pointer("/serverContent/modelTurn/parts")?
                .as_array()?;
            let data = parts
                .iter()
                .find_map(|p| p.pointer("/inlineData/data")?.as_str())?;
            decode_stamp(data.as_bytes().get(..STAMP_CHARS)?)
        }
    }
}

fn decode_stamp(chars: &[u8]) -> Option<Stamp> {
    let mut raw = [0u8; STAMP_BYTES];
    let len = STANDARD.decode_slice(chars, &mut raw).ok()?;
    if len != STAMP_BYTES || raw[16..18] != MAGIC {
        return None;
    }
    Some(Stamp {
        sent_ns: u64::from_le_bytes(raw[0..8].try_into().ok()?),
        seq: u32::from_le_bytes(raw[8..12].try_into().ok()?),
        session: u32::from_le_bytes(raw[12..16].try_into().ok()?),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_survives_the_echo() {
        let mut chunk = Chunk::new(3200, 42);
        let message = chunk.stamped(123_456_789_012, 7, 42);
        let sent: Value = serde_json::from_str(message.to_text().unwrap()).unwrap();
        let data = sent["realtimeInput"]["audio"]["data"].as_str().unwrap();
        assert_eq!(STANDARD.decode(data).unwrap().len(), 3200);
        assert_eq!(
            sent["realtimeInput"]["audio"]["mimeType"],
            "audio/pcm;rate=16000"
        );
        let expected = Stamp {
            sent_ns: 123_456_789_012,
            seq: 7,
            session: 42,
        };
        // The simulator's compact echo, and the same echo spelled loosely.
        let echo = format!(
            r#"{{"serverContent":{{"modelTurn":{{"parts":[{{"inlineData":{{"mimeType":"audio/pcm;rate=24000","data":"{data}"}}}}]}}}}}}"#
        );
        assert_eq!(read_stamp(echo.as_bytes()), Some(expected));
        let loose =
            serde_json::to_string_pretty(&serde_json::from_str::<Value>(&echo).unwrap()).unwrap();
        assert_eq!(read_stamp(loose.as_bytes()).unwrap().seq, 7);
        // The next stamp replaces the previous one in place.
        let again = chunk.stamped(5, 8, 42);
        let len = again.len();
        assert_eq!(len, message.len());
        assert!(read_stamp(br#"{"setupComplete":{}}"#).is_none());
        assert!(read_stamp(br#"{"x":{"data":"AAAAAAAAAAAAAAAAAAAAAAAAAAAA"}}"#).is_none());
    }
}
