#!/usr/bin/env python3
"""Writes bench/REALTIME.md from the JSON that bench/realtime.sh collected.

    python3 bench/realtime_report.py OUT_DIR REPORT.md

Standard library only.
"""

from __future__ import annotations

import glob
import json
import os
import re
import sys

TARGET_IDLE_SESSIONS = 10_000
TARGET_ACTIVE_SESSIONS = 2_000
TARGET_ADDED_P99_MS = 10.0
TARGET_KIB_PER_IDLE_SESSION = 64.0
DISTURBED_CORES = 0.25


def load(path: str) -> dict | None:
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fmt(value, digits: int = 2) -> str:
    if value is None:
        return "—"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def signed(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:+,.{digits}f}"


def mib(kib) -> str:
    return "—" if kib is None else f"{kib / 1024:,.1f}"


def verdict(ok: bool | None) -> str:
    return {True: "**met**", False: "**not met**", None: "**not measured**"}[ok]


def command_of(run: dict) -> str:
    argv = run["command"].split()
    argv[0] = "realtime-load"
    return " ".join(argv)


def proc(run: dict, name: str) -> dict:
    return run["processes"].get(name, {})


def relayed_per_sec(run: dict) -> float:
    f = run["frames"]
    return (f["sent_in_window"] + f["received_in_window"]) / run["window_secs"]


def limits(sizes: list[int], active: dict) -> list[str]:
    """Facts about the largest active run: where the CPU went."""
    done = [n for n in sizes if all(active[n])]
    if not done:
        return []
    n = max(done)
    d, a = active[n]
    al, m = proc(a, "airlock"), a["machine"]
    cpus = m.get("cpus") or 2
    kernel = al.get("cpu_sys_cores") or 0.0
    cores = al.get("cpu_cores") or 0.0
    rate = relayed_per_sec(a)
    out = [
        f"At {n:,} active sessions through Airlock the machine was "
        f"{m['busy_cores']:.2f} of {cpus} cores busy: Airlock {cores:.2f}, the simulator "
        f"{proc(a, 'simulator').get('cpu_cores', 0):.2f}, the load tool "
        f"{proc(a, 'realtime-load').get('cpu_cores', 0):.2f}, other work {m['other_cores']:.2f}. "
        f"The same load straight to the simulator kept {d['machine']['busy_cores']:.2f} cores busy, "
        f"which leaves {cpus - d['machine']['busy_cores']:.2f} for a relay.",
        f"Airlock relayed {rate:,.0f} messages per second at "
        f"{cores * 1e6 / rate if rate else 0:.1f} µs of CPU each "
        f"({kernel / cores * 100 if cores else 0:.0f} % of it in the kernel: socket reads and writes, "
        "loopback TCP, wake-ups). Per WebSocket message read or written that is "
        f"{per_op_text(a, True)} µs for Airlock / the simulator / the load tool: the relay "
        f"costs {compare_ops(a)} per message, and it handles every message twice.",
    ]
    lag_d, lag_a = d["send_lag_ms"].get("p99"), a["send_lag_ms"].get("p99")
    if lag_d is not None and lag_a is not None:
        out.append(
            f"The load tool's own sends were late by {lag_a:.2f} ms at p99 through Airlock against "
            f"{lag_d:.2f} ms direct (the 1 ms timer tick included): "
            + ("the tool itself waited for the CPU, so part of the tail is the shared machine's."
               if lag_a > lag_d + 1.0 else "the tool kept its schedule.")
        )
    sat = [k for k in done if active[k][1]["machine"]["busy_cores"] >= 0.9 * cpus]
    if sat:
        out.append(
            "Runs with the machine at 90 % of its cores or more (saturated): "
            + ", ".join(f"{k:,}" for k in sat)
            + " sessions. There, latency is queueing for the CPU shared by all three programs "
            "(see the load tool's send lag), not Airlock's work per frame alone."
        )
    return out


def compare_ops(run: dict) -> str:
    mine = per_op(run, "airlock")
    others = [p for p in (per_op(run, "simulator"), per_op(run, "realtime-load")) if p]
    if mine is None or not others:
        return "an unknown amount"
    if mine < 0.9 * min(others):
        return "less than either endpoint"
    if mine > 1.1 * max(others):
        return "more than the endpoints"
    return "about what an endpoint costs"


def per_op(run: dict, name: str) -> float | None:
    """CPU µs per WebSocket message read or written by process `name`."""
    cores = proc(run, name).get("cpu_cores")
    rate = relayed_per_sec(run) * (2 if name == "airlock" else 1)
    if cores is None or rate <= 0:
        return None
    return cores * 1e6 / rate


def per_op_text(run: dict, through_airlock: bool) -> str:
    parts = [per_op(run, "airlock") if through_airlock else None, per_op(run, "simulator"), per_op(run, "realtime-load")]
    return " / ".join("—" if p is None else f"{p:.1f}" for p in parts)


def main() -> None:
    out, report = sys.argv[1], sys.argv[2]
    meta = load(os.path.join(out, "meta.json")) or {}
    sizes = [int(n) for n in meta.get("active_sizes", [])]
    active = {}
    for n in sizes:
        active[n] = (
            load(os.path.join(out, f"active-direct-{n}.json")),
            load(os.path.join(out, f"active-airlock-{n}.json")),
        )
    idle_path = sorted(glob.glob(os.path.join(out, "idle-airlock-*.json")))
    idle_path = [p for p in idle_path if ".try" not in p]
    idle = load(idle_path[0]) if idle_path else None
    profile = load(os.path.join(out, "profile-run.json"))

    frame_bytes = "?"
    for pair in active.values():
        for run in pair:
            if run and run.get("chunk", {}).get("frame_bytes"):
                frame_bytes = f"{run['chunk']['frame_bytes']:,}"

    lines: list[str] = []
    w = lines.append
    w("# Realtime relay benchmark")
    w("")
    w(
        f"Written by `bench/realtime.sh` on {meta.get('date', '?')} "
        f"({meta.get('elapsed_secs', 0) / 60:.1f} min)"
        + (" in `--quick` mode: **not a measurement**" if meta.get("quick") else "")
        + ". How it works and how to read it: [README.md](README.md#realtime-relay-benchmark)."
    )
    w("")
    w(
        "Gemini Live sessions (`BidiGenerateContent`) from the `realtime-load` tool "
        "([realtime-load/](realtime-load/)) to the provider simulator in echo mode, "
        "straight (*direct*) and through Airlock. An active session sends one 100 ms "
        f"chunk of 16 kHz 16-bit PCM (3,200 bytes, base64 in a `realtimeInput` JSON "
        f"text frame of {frame_bytes} bytes) every 100 ms; the simulator answers each chunk at once with "
        "the same audio in a `serverContent` frame; the tool times each echo from a "
        "stamp in the chunk's first bytes. *Added latency* is Airlock's percentile "
        "minus the direct path's at the same session count. Everything runs on "
        "127.0.0.1 and shares the machine's cores."
    )
    w("")
    w("## Machine and versions")
    w("")
    w(
        f"- Machine: {meta.get('cpus')} CPUs ({meta.get('cpu_model')}), "
        f"{meta.get('mem_gib')} GiB memory, Linux {meta.get('kernel')}; load average "
        f"at the start {meta.get('loadavg_at_start')}. "
        + ("Airlock is pinned to CPU 0 with one worker (`taskset -c 0`, `--workers 1`); "
           "the load tool and the simulator are pinned to the other CPUs "
           f"(`{meta.get('load_pin')}`), the direct runs too."
           if meta.get("pinned") else
           "The load tool, the simulator and Airlock share these cores.")
    )
    w(
        f"- Open files: hard limit {fmt(meta.get('nofile_hard'))} per process (raised "
        "to it with `ulimit -n`; it cannot go higher here). Listen backlog "
        f"`somaxconn` {meta.get('somaxconn')}; ephemeral ports {meta.get('port_range')}."
    )
    w(f"- Airlock: {meta.get('airlock_version')}, git {meta.get('git')}, release build; {meta.get('rustc')}.")
    w("")
    w("Commands (ports chosen free at start; `DATA_DIR` a fresh temporary directory):")
    w("")
    w("```sh")
    w(meta.get("simulator_cmd", ""))
    w(meta.get("airlock_cmd", ""))
    load_pin = (meta.get("load_pin") + " ") if meta.get("load_pin") else ""
    for n in sizes:
        for run in active[n]:
            if run:
                w(load_pin + command_of(run))
    if profile:
        w(command_of(profile) + "   # + perf record -F 499 -p AIRLOCK_PID (10 s)")
    if idle:
        w("# fresh simulator and Airlock, then:")
        w(command_of(idle))
    w("```")
    w("")
    w(
        "Each run's `--watch` processes are read from /proc over the measured window "
        "(CPU from utime+stime of `/proc/PID/stat`, memory from VmRSS of "
        "`/proc/PID/status`). A run disturbed by more than 0.25 cores of other work "
        "is run once more and the cleaner run kept."
    )
    w("")

    # ---- targets ------------------------------------------------------------
    w("## Targets")
    w("")
    w("| target | wanted | this run | |")
    w("|---|---|---|---|")
    target_run = None
    if TARGET_ACTIVE_SESSIONS in active:
        target_run = active[TARGET_ACTIVE_SESSIONS]
    if idle:
        held = idle["held"]
        echoed = idle["probe"]["echoed"]
        requested = idle["sessions_requested"]
        met = None if requested < TARGET_IDLE_SESSIONS else (held >= TARGET_IDLE_SESSIONS and echoed >= TARGET_IDLE_SESSIONS)
        note = (
            f"{fmt(held)} of {fmt(requested)} held for {idle['window_secs']:.0f} s, "
            f"{fmt(echoed)} answered a probe after"
        )
        if requested < TARGET_IDLE_SESSIONS:
            note += (
                f"; 10,000 cannot be tried here: Airlock holds 2 descriptors per session "
                f"and the hard limit is {fmt(meta.get('nofile_hard'))} per process"
            )
        w(f"| Idle sessions held by one instance | {TARGET_IDLE_SESSIONS:,} | {note} | {verdict(met)} |")
    else:
        w(f"| Idle sessions held by one instance | {TARGET_IDLE_SESSIONS:,} | not run | {verdict(None)} |")
    if target_run and all(target_run):
        d, a = target_run
        added99 = a["rtt_ms"]["p99"] - d["rtt_ms"]["p99"]
        clean = a["opened"] == a["sessions_requested"] and a["frames"]["lost_in_window"] == 0 and not a["failures"]
        met = clean and added99 <= TARGET_ADDED_P99_MS
        extra = "" if clean else (
            f"; {fmt(a['sessions_requested'] - a['opened'])} not opened, "
            f"{fmt(a['ended_early'])} ended early, {fmt(a['frames']['lost_in_window'])} frames lost"
        )
        w(
            f"| {TARGET_ACTIVE_SESSIONS:,} active sessions: added p99 per frame | ≤ {TARGET_ADDED_P99_MS:.0f} ms | "
            f"{signed(added99)} ms (p99 {fmt(a['rtt_ms']['p99'])} ms vs {fmt(d['rtt_ms']['p99'])} ms direct){extra} | {verdict(met)} |"
        )
    else:
        w(f"| {TARGET_ACTIVE_SESSIONS:,} active sessions: added p99 per frame | ≤ {TARGET_ADDED_P99_MS:.0f} ms | not run | {verdict(None)} |")
    if idle:
        al = proc(idle, "airlock")
        per = al.get("rss_growth_per_session_kib")
        met = None if per is None else per <= TARGET_KIB_PER_IDLE_SESSION
        kernel = idle["machine"].get("slab_growth_per_session_kib")
        w(
            f"| Memory per idle session (both sockets) | ≤ {TARGET_KIB_PER_IDLE_SESSION:.0f} KiB | "
            f"{fmt(per, 1)} KiB of Airlock's VmRSS; with half the kernel slab growth "
            f"({fmt(kernel, 1)} KiB per session machine-wide, for all 4 socket ends of a session's "
            f"2 loopback connections, of which Airlock owns 2) about "
            f"{fmt(None if per is None or kernel is None else per + kernel / 2, 1)} KiB | {verdict(met)} |"
        )
    best = None
    for n in sizes:
        d, a = active[n]
        if d and a and a["opened"] == n and a["frames"]["lost_in_window"] == 0 and not a["failures"] \
                and a["rtt_ms"]["p99"] - d["rtt_ms"]["p99"] <= TARGET_ADDED_P99_MS:
            best = n
    w("")
    w(
        "Largest active session count measured here that stays within "
        f"{TARGET_ADDED_P99_MS:.0f} ms added p99: **{fmt(best) if best else 'none'}** "
        f"(of {', '.join(f'{n:,}' for n in sizes)})."
    )
    w("")

    # ---- what limited it -------------------------------------------------------
    limit_lines = limits(sizes, active)
    if limit_lines:
        w("## What limited it")
        w("")
        for line in limit_lines:
            w(line)
            w("")

    # ---- active ---------------------------------------------------------------
    w("## Active sessions: round trip per frame")
    w("")
    w(
        f"{meta.get('active_secs')} s measured per run after a {meta.get('ramp')}/s ramp and a "
        f"{meta.get('warmup')} s warm-up; only chunks sent inside the window count. RTT = "
        "chunk sent → its echo read by the tool, in ms. *Send lag* p99 is how late the tool's "
        "sends were against their 100 ms schedule (a large value means the tool itself was "
        "starved of CPU)."
    )
    w("")
    w("| sessions | path | opened | frames sent / echoed in window | lost | RTT p50 | p90 | p99 | p99.9 | max | added p50 | added p99 | send lag p99 |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        d, a = active[n]
        for label, run in (("direct", d), ("Airlock", a)):
            if not run:
                w(f"| {n:,} | {label} | not run | | | | | | | | | | |")
                continue
            r, f = run["rtt_ms"], run["frames"]
            add50 = add99 = "—"
            if label == "Airlock" and d:
                add50 = signed(r["p50"] - d["rtt_ms"]["p50"])
                add99 = signed(r["p99"] - d["rtt_ms"]["p99"])
            opened = f"{run['opened']:,}"
            if run["machine"]["other_cores"] > DISTURBED_CORES:
                opened += f" ⚠ {run['machine']['other_cores']:.2f} cores of other work"
            if run["failures"]:
                opened += " (" + "; ".join(f"{k}: {v}" for k, v in run["failures"].items()) + ")"
            w(
                f"| {n:,} | {label} | {opened} | {fmt(f['sent_in_window'])} / {fmt(f['received_in_window'])} | "
                f"{fmt(f['lost_in_window'])} | {fmt(r.get('p50'))} | {fmt(r.get('p90'))} | {fmt(r.get('p99'))} | "
                f"{fmt(r.get('p999'))} | {fmt(r.get('max'))} | {add50} | {add99} | {fmt(run['send_lag_ms'].get('p99'))} |"
            )
    w("")

    # ---- cores ------------------------------------------------------------------
    w("## Where the cores went")
    w("")
    w(
        "CPU over each measured window, in cores (2 = the whole machine): Airlock, the "
        "simulator, the load tool, and everything else (*other*: the machine's busy time "
        "minus those three, e.g. a compiler). Airlock's kernel share (stime) is in "
        "brackets. *µs/msg* is Airlock's CPU time per relayed message (each echoed "
        "chunk is two: client → provider and provider → client). The last CPU column "
        "puts the three programs on one scale: CPU time per WebSocket message read or "
        "written (the tool and the simulator read or write each message once, Airlock "
        "reads and writes each one)."
    )
    w("")
    w("| sessions | path | messages/s (chunks + echoes) | Airlock cores (kernel) | Airlock µs/msg | simulator | load tool | other | machine busy | steal | µs per message read or written: Airlock / simulator / tool | Airlock VmRSS end MiB | attempts |")
    w("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for n in sizes:
        for label, run in zip(("direct", "Airlock"), active[n]):
            if not run:
                continue
            al, sim, tool, m = proc(run, "airlock"), proc(run, "simulator"), proc(run, "realtime-load"), run["machine"]
            rate = relayed_per_sec(run)
            per_msg = "—"
            if label == "Airlock" and rate > 0 and al.get("cpu_cores") is not None:
                per_msg = fmt(al["cpu_cores"] * 1e6 / rate, 1)
            busy = m["busy_cores"]
            sat = " (saturated)" if busy >= 0.9 * (m.get("cpus") or 2) else ""
            w(
                f"| {n:,} | {label} | {fmt(rate, 0)} | "
                f"{fmt(al.get('cpu_cores'))} ({fmt(al.get('cpu_sys_cores'))}) | {per_msg} | "
                f"{fmt(sim.get('cpu_cores'))} | {fmt(tool.get('cpu_cores'))} | {fmt(m['other_cores'])} | "
                f"{fmt(busy)}{sat} | {fmt(m.get('steal_cores'))} | {per_op_text(run, label == 'Airlock')} | "
                f"{mib(al.get('rss_kib_end'))} | {run.get('attempts', 1)} |"
            )
    w("")

    # ---- profile ------------------------------------------------------------------
    dso = os.path.join(out, "perf-dso.txt")
    syms = os.path.join(out, "perf-symbols.txt")
    if os.path.exists(dso) and profile:
        w("## Profile of Airlock under the largest active load")
        w("")
        al = proc(profile, "airlock")
        w(
            f"A separate run ({profile['sessions_requested']:,} active sessions, "
            f"RTT p99 {fmt(profile['rtt_ms'].get('p99'))} ms, Airlock {fmt(al.get('cpu_cores'))} cores, "
            f"machine {fmt(profile['machine']['busy_cores'])} cores busy) with "
            "`perf record -F 499 -p AIRLOCK_PID` for 10 s inside its window "
            "(no call graphs: the release build has no frame pointers). Share of "
            "Airlock's samples by object:"
        )
        w("")
        w("```")
        for line in open(dso):
            if re.match(r"^\s+[0-9.]+%", line):
                w(line.rstrip())
        w("```")
        w("")
        w("Top symbols:")
        w("")
        w("```")
        for line in open(syms):
            if re.match(r"^\s+[0-9.]+%", line):
                w(re.sub(r"\s+-\s+-\s*$", "", line.rstrip()).rstrip())
        w("```")
        w("")

    # ---- idle -------------------------------------------------------------------------
    if idle:
        w("## Idle sessions: memory")
        w("")
        al, sim, tool, m = proc(idle, "airlock"), proc(idle, "simulator"), proc(idle, "realtime-load"), idle["machine"]
        w(
            f"A fresh simulator and Airlock; {idle['sessions_requested']:,} sessions opened at "
            f"{idle['ramp_per_sec']:.0f}/s (set-up in {idle['ramp_secs']:.1f} s; setup p99 "
            f"{fmt(idle['setup_ms'].get('p99'))} ms), held {idle['window_secs']:.0f} s after a "
            f"{meta.get('warmup')} s settle, then each sent one chunk whose echo proves both of its "
            "sockets were still open. *Before* = each process's VmRSS as the tool started, before "
            "any session; *held* = at the end of the hold; per session = (held − before) ÷ sessions held."
        )
        w("")
        w("| process | VmRSS before MiB | VmRSS held MiB | peak MiB | growth MiB | KiB per session | descriptors held |")
        w("|---|---|---|---|---|---|---|")
        for label, p in (("Airlock", al), ("simulator", sim), ("load tool", tool)):
            w(
                f"| {label} | {mib(p.get('rss_kib_before'))} | {mib(p.get('rss_kib_end'))} | "
                f"{mib(p.get('rss_kib_peak'))} | {mib(p.get('rss_growth_kib'))} | "
                f"{fmt(p.get('rss_growth_per_session_kib'), 1)} | {fmt(p.get('fds_end'))} |"
            )
        w("")
        held = idle["held"]
        per = al.get("rss_growth_per_session_kib")
        w(
            f"Sessions held: {held:,} (opened {idle['opened']:,}, failed to open "
            f"{idle['failed_to_open']:,}, ended early {idle['ended_early']:,}); probe echoes "
            f"{idle['probe']['echoed']:,} of {idle['probe']['sent']:,} "
            f"(probe RTT p50 {fmt(idle['probe']['rtt_ms'].get('p50'))} ms, max "
            f"{fmt(idle['probe']['rtt_ms'].get('max'))} ms, all {idle['probe']['sent']:,} sent at once)."
            + (f" Failures: {idle['failures']}." if idle["failures"] else "")
        )
        w("")
        if per is not None and al.get("rss_kib_before") is not None:
            at10k = (al["rss_kib_before"] + per * TARGET_IDLE_SESSIONS) / 1024
            w(
                f"Extrapolated Airlock VmRSS at {TARGET_IDLE_SESSIONS:,} idle sessions: "
                f"{at10k:,.0f} MiB ({mib(al['rss_kib_before'])} MiB at rest + {fmt(per, 1)} KiB × {TARGET_IDLE_SESSIONS:,}); "
                f"it would need {2 * TARGET_IDLE_SESSIONS + (meta.get('airlock_fds_at_rest') or 0):,} descriptors "
                f"(Airlock had {meta.get('airlock_fds_at_rest')} open at rest)."
            )
            w("")
        w(
            f"Kernel memory is not in VmRSS: over the run the machine's slab grew "
            f"{fmt((m['slab_kib_end'] - m['slab_kib_before']) / 1024, 1)} MiB "
            f"({fmt(m.get('slab_growth_per_session_kib'), 1)} KiB per session, covering the "
            "4 socket ends of its two loopback connections plus their files and epoll entries; "
            "Airlock's own 2 ends are about half). TCP buffer memory "
            f"(`/proc/net/sockstat` mem) went from {fmt(m['tcp_buffer_kib_before'])} KiB to "
            f"{fmt(m['tcp_buffer_kib_end'])} KiB: idle sockets hold no buffered data."
        )
        w("")

    # ---- raw -------------------------------------------------------------------------
    w("## Raw JSON")
    w("")
    w("Each run's report from `realtime-load` (the kept attempt).")
    w("")
    runs = []
    for n in sizes:
        runs += [(f"active-direct-{n}", active[n][0]), (f"active-airlock-{n}", active[n][1])]
    if profile:
        runs.append(("profile-run", profile))
    if idle:
        runs.append((os.path.basename(idle_path[0])[:-5], idle))
    for name, run in runs:
        if not run:
            continue
        w(f"<details><summary>{name}</summary>")
        w("")
        w("```json")
        w(json.dumps(run, indent=2))
        w("```")
        w("")
        w("</details>")
        w("")
    with open(report, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")


if __name__ == "__main__":
    main()
