//! `realtime-load`: opens many Gemini Live sessions against Airlock or the
//! provider simulator (`airlock mock --live-echo`) and measures them.
//!
//! Active sessions stream one 100 ms chunk of 16 kHz PCM16 every 100 ms and
//! time each echo; idle sessions only set up and hold the socket, then
//! prove they are still alive with one echoed chunk at the end. Watched
//! processes (`--watch airlock=PID`) have their CPU and memory read from
//! /proc over the same window. The report is JSON on stdout; progress goes
//! to stderr. Used by `bench/realtime.sh`.

mod procstat;
mod session;
mod stats;

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use clap::Parser;
use serde_json::{Map, Value, json};
use tokio::sync::watch;

use crate::procstat::Watched;
use crate::session::{Phase, SessionStats, Shared};

#[derive(Parser, Debug)]
#[command(
    name = "realtime-load",
    about = "Load generator for Gemini Live sessions (Airlock's realtime relay)"
)]
struct Args {
    /// Airlock or the simulator, as ws://HOST:PORT; the Live path is appended.
    #[arg(long)]
    url: String,
    /// API version in the Live path.
    #[arg(long, default_value = "v1beta")]
    api_version: String,
    /// Sent as `x-goog-api-key`.
    #[arg(long, default_value = "sim")]
    key: String,
    /// Sessions to open.
    #[arg(long, default_value_t = 100)]
    sessions: usize,
    /// Stream audio (one chunk per --chunk-ms) and time the echoes; without
    /// it, sessions only set up and hold.
    #[arg(long)]
    active: bool,
    /// Seconds measured (active) or held (idle), after the ramp and warm-up.
    #[arg(long, default_value_t = 30)]
    duration: u64,
    /// Seconds between the last session set up and the measured window.
    #[arg(long, default_value_t = 3)]
    warmup: u64,
    /// Sessions started per second.
    #[arg(long, default_value_t = 500.0)]
    ramp_per_sec: f64,
    /// The model named in `setup`.
    #[arg(long, default_value = "models/gemini-live-2.5-flash-preview")]
    model: String,
    /// Milliseconds of audio per chunk, sent in real time.
    #[arg(long, default_value_t = 100)]
    chunk_ms: u64,
    /// PCM bytes per chunk (16 kHz 16-bit mono: 32 per ms).
    #[arg(long, default_value_t = 3200)]
    chunk_bytes: usize,
    /// Seconds allowed for connect + handshake + setupComplete.
    #[arg(long, default_value_t = 15)]
    connect_timeout: u64,
    /// Seconds allowed after the window for outstanding echoes (and the idle probe).
    #[arg(long, default_value_t = 5)]
    drain: u64,
    /// A process to measure over the window, as NAME=PID (repeatable).
    #[arg(long)]
    watch: Vec<String>,
    /// Tokio worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() -> ExitCode {
    let args = Args::parse();
    if args.chunk_bytes < 18 || args.sessions == 0 || args.ramp_per_sec <= 0.0 {
        eprintln!(
            "realtime-load: --chunk-bytes must be at least 18, --sessions and --ramp-per-sec positive"
        );
        return ExitCode::from(2);
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("realtime-load: no runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let report = runtime.block_on(run(args));
    println!(
        "{}",
        serde_json::to_string_pretty(&report).unwrap_or_default()
    );
    ExitCode::SUCCESS
}

fn say(message: &str) {
    eprintln!("[realtime-load] {message}");
}

async fn run(args: Args) -> Value {
    let t0 = Instant::now();
    let url = format!(
        "{}/ws/google.ai.generativelanguage.{}.GenerativeService.BidiGenerateContent",
        args.url.trim_end_matches('/'),
        args.api_version
    );
    let mut watched: Vec<Watched> = args
        .watch
        .iter()
        .filter_map(|spec| {
            let (name, pid) = spec.split_once('=')?;
            Some(Watched::new(name, pid))
        })
        .collect();
    watched.push(Watched::new(
        "realtime-load",
        &std::process::id().to_string(),
    ));
    let nofile = open_files_limit();
    if nofile.is_some_and(|limit| limit < args.sessions as u64 + 64) {
        say(&format!(
            "warning: open-files limit {} is below --sessions {} (+64)",
            nofile.unwrap_or(0),
            args.sessions
        ));
    }
    let machine_before = procstat::machine();
    for process in &mut watched {
        process.take_before();
    }

    let setup = json!({"setup": {
        "model": args.model,
        "generationConfig": {"responseModalities": ["AUDIO"]},
    }})
    .to_string();
    let shared = Arc::new(Shared::new(
        t0,
        url.clone(),
        args.key.clone(),
        setup,
        args.active,
        args.chunk_bytes,
        Duration::from_millis(args.chunk_ms.max(1)),
        Duration::from_secs(args.connect_timeout),
        Duration::from_secs(args.drain),
        args.duration,
    ));
    let (phase, phase_rx) = watch::channel(Phase::Run);

    say(&format!(
        "{} {} sessions at {}/s to {url}",
        args.sessions,
        if args.active { "active" } else { "idle" },
        args.ramp_per_sec
    ));
    let ramp_start = tokio::time::Instant::now();
    let spacing = Duration::from_secs_f64(1.0 / args.ramp_per_sec);
    let mut handles = Vec::with_capacity(args.sessions);
    for i in 0..args.sessions {
        tokio::time::sleep_until(ramp_start + spacing.mul_f64(i as f64)).await;
        handles.push(tokio::spawn(session::run(
            i as u32,
            shared.clone(),
            phase_rx.clone(),
        )));
    }
    let settle_by = Instant::now() + Duration::from_secs(args.connect_timeout * 2 + 5);
    while shared.settled.load(Ordering::SeqCst) < args.sessions && Instant::now() < settle_by {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let ramp_secs = ramp_start.elapsed().as_secs_f64();
    say(&format!(
        "set up: {} opened, {} failed, in {ramp_secs:.1} s",
        shared.opened.load(Ordering::SeqCst),
        shared.settled.load(Ordering::SeqCst) - shared.opened.load(Ordering::SeqCst),
    ));

    let window_start = Instant::now() + Duration::from_secs(args.warmup);
    let window_end = window_start + Duration::from_secs(args.duration);
    shared.set_window(window_start, window_end);
    tokio::time::sleep_until(window_start.into()).await;
    let machine_start = procstat::machine();
    for process in &mut watched {
        process.take_start();
    }
    let open_at_start = shared.alive.load(Ordering::SeqCst);
    say(&format!(
        "measuring {} s with {open_at_start} sessions open",
        args.duration
    ));
    while Instant::now() < window_end {
        let left = window_end.saturating_duration_since(Instant::now());
        tokio::time::sleep(left.min(Duration::from_secs(1))).await;
        for process in &mut watched {
            process.take_peak();
        }
    }
    for process in &mut watched {
        process.take_end();
    }
    let machine_end = procstat::machine();
    let held = shared.alive.load(Ordering::SeqCst);
    let window_secs = args.duration as f64;

    let drain_by = Instant::now() + Duration::from_secs(args.drain);
    if args.active {
        // Sessions stop sending at the window's end and close once their
        // echoes are in (or the drain time is up).
        while shared.running.load(Ordering::SeqCst) > 0 && Instant::now() < drain_by {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    } else {
        say(&format!("probing the {held} held sessions"));
        let _ = phase.send(Phase::Probe);
        while shared.probes_echoed.load(Ordering::SeqCst) < held && Instant::now() < drain_by {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let _ = phase.send(Phase::Close);
    let join_by = tokio::time::Instant::now() + Duration::from_secs(10);
    let mut all = Vec::with_capacity(handles.len());
    let mut unfinished = 0;
    for handle in handles {
        match tokio::time::timeout_at(join_by, handle).await {
            Ok(Ok(stats)) => all.push(stats),
            _ => unfinished += 1,
        }
    }
    say("done");
    report(
        &args,
        &url,
        &shared,
        all,
        unfinished,
        ramp_secs,
        held,
        open_at_start,
        &watched,
        window_secs,
        [machine_before, machine_start, machine_end],
        nofile,
    )
}

#[allow(clippy::too_many_arguments)]
fn report(
    args: &Args,
    url: &str,
    shared: &Shared,
    mut all: Vec<SessionStats>,
    unfinished: usize,
    ramp_secs: f64,
    held: usize,
    open_at_start: usize,
    watched: &[Watched],
    window_secs: f64,
    [machine_before, machine_start, machine_end]: [procstat::MachineSample; 3],
    nofile: Option<u64>,
) -> Value {
    let opened = all.iter().filter(|s| s.opened).count();
    let sum = |f: fn(&SessionStats) -> u64| all.iter().map(f).sum::<u64>();
    let (sent, received) = (sum(|s| s.sent), sum(|s| s.received));
    let (sent_window, received_window) = (sum(|s| s.sent_window), sum(|s| s.received_window));
    let other = sum(|s| s.other_frames);
    let mismatched = sum(|s| s.mismatched);
    let ended_early = all.iter().filter(|s| s.ended_early).count();
    let mut setup: Vec<u32> = all.iter().filter_map(|s| s.setup_us).collect();
    let mut rtt: Vec<u32> = Vec::with_capacity(all.iter().map(|s| s.rtt_us.len()).sum());
    let mut lag: Vec<u32> = Vec::with_capacity(rtt.capacity());
    for stats in &mut all {
        rtt.append(&mut stats.rtt_us);
        lag.append(&mut stats.lag_us);
    }
    let per_session_of = if args.active { opened } else { held };
    let mut processes = Map::new();
    let mut watched_cores = 0.0;
    for process in watched {
        watched_cores += process.cores(window_secs).unwrap_or(0.0);
        processes.insert(
            process.name.clone(),
            process.report(window_secs, per_session_of),
        );
    }
    let ticks = |a: procstat::MachineSample, b: procstat::MachineSample| {
        let total = b.total_ticks.saturating_sub(a.total_ticks).max(1) as f64;
        let busy = b.busy_ticks.saturating_sub(a.busy_ticks) as f64;
        busy / total * b.cpus as f64
    };
    let busy_cores = ticks(machine_start, machine_end);
    let share = |f: fn(&procstat::MachineSample) -> u64| {
        let total = machine_end
            .total_ticks
            .saturating_sub(machine_start.total_ticks)
            .max(1) as f64;
        stats::round3(
            f(&machine_end).saturating_sub(f(&machine_start)) as f64 / total
                * machine_end.cpus as f64,
        )
    };
    let mut failures: Vec<(String, u64)> = shared.failures().into_iter().collect();
    failures.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let failures: Map<String, Value> = failures
        .into_iter()
        .map(|(reason, count)| (reason, json!(count)))
        .collect();
    let slab_growth = machine_end.slab_kib as i64 - machine_before.slab_kib as i64;
    let mut out = json!({
        "mode": if args.active { "active" } else { "idle" },
        "url": url,
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "sessions_requested": args.sessions,
        "ramp_per_sec": args.ramp_per_sec,
        "ramp_secs": stats::round3(ramp_secs),
        "opened": opened,
        "failed_to_open": shared.settled.load(Ordering::SeqCst) - shared.opened.load(Ordering::SeqCst),
        "ended_early": ended_early,
        "unfinished": unfinished,
        "failures": failures,
        "open_at_window_start": open_at_start,
        "open_at_window_end": held,
        "setup_ms": stats::summary(&mut setup),
        "window_secs": window_secs,
        "processes": processes,
        "machine": {
            "cpus": machine_end.cpus,
            "busy_cores": stats::round3(busy_cores),
            "other_cores": stats::round3((busy_cores - watched_cores).max(0.0)),
            "system_cores": share(|m| m.system_ticks),
            "softirq_cores": share(|m| m.softirq_ticks),
            "steal_cores": share(|m| m.steal_ticks),
            "tcp_sockets_before": machine_before.tcp_inuse,
            "tcp_sockets_end": machine_end.tcp_inuse,
            "tcp_buffer_kib_before": machine_before.tcp_mem_kib,
            "tcp_buffer_kib_end": machine_end.tcp_mem_kib,
            "slab_kib_before": machine_before.slab_kib,
            "slab_kib_end": machine_end.slab_kib,
            "slab_growth_per_session_kib": if per_session_of > 0 {
                json!(stats::round3(slab_growth as f64 / per_session_of as f64))
            } else {
                Value::Null
            },
        },
        "open_files_limit": nofile,
    });
    if args.active {
        out["chunk"] = json!({
            "ms": args.chunk_ms,
            "pcm_bytes": args.chunk_bytes,
            "frame_bytes": session::frame_bytes(args.chunk_bytes),
        });
        out["frames"] = json!({
            "sent": sent,
            "received": received,
            "sent_in_window": sent_window,
            "received_in_window": received_window,
            "lost_in_window": sent_window.saturating_sub(received_window),
            "other": other,
            "mismatched": mismatched,
            "sent_per_sec_in_window": stats::round3(sent_window as f64 / window_secs),
        });
        out["rtt_ms"] = stats::summary(&mut rtt);
        out["send_lag_ms"] = stats::summary(&mut lag);
    } else {
        let mut probe: Vec<u32> = all.iter().filter_map(|s| s.probe_rtt_us).collect();
        let probed = all.iter().filter(|s| s.probe_sent).count();
        out["held"] = json!(held);
        out["probe"] = json!({
            "sent": probed,
            "echoed": probe.len(),
            "mismatched": mismatched,
            "rtt_ms": stats::summary(&mut probe),
        });
    }
    out
}

/// The soft limit on open files, from /proc/self/limits.
fn open_files_limit() -> Option<u64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.split_whitespace().nth(3)?.parse().ok()
}
