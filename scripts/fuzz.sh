#!/usr/bin/env bash
# Runs Airlock's fuzz targets (fuzz/, cargo-fuzz and libFuzzer on the
# nightly toolchain), each for SECONDS, and prints per target its executions,
# coverage, corpus and crashes. Exits non-zero if any target crashed.
#
#   ./scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS: per target (default 600, the report's length; CI runs a short
# smoke test). TARGETs: a subset (default: every target in fuzz/Cargo.toml).
#
# The checked-in seeds (fuzz/corpus/TARGET, crashing inputs found before
# among them) are read, never written: what a run finds goes to a working
# corpus beside the build, so later runs start from it. A crash's input is
# written to fuzz/artifacts/TARGET/: fix the bug, add a regression test
# beside the code, and copy the input into fuzz/corpus/TARGET/.
#
#   FUZZ_TARGET_DIR  the fuzz build's own target dir (default
#                    $CARGO_TARGET_DIR/fuzz, so the main builds are untouched)
#   AIRLOCK_CI_CACHE where cargo-fuzz is installed when missing
#                    (default ~/.cache/airlock-ci; it goes in tools/)
set -euo pipefail
cd "$(dirname "$0")/.."
repo="$PWD"

seconds="${1:-600}"
shift || true
[[ "$seconds" =~ ^[0-9]+$ ]] || { echo "fuzz.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2; }

if ! cargo +nightly --version >/dev/null 2>&1; then
  echo "fuzz.sh: the nightly toolchain is missing (cargo-fuzz needs it): rustup toolchain install nightly" >&2
  exit 1
fi

tools="${AIRLOCK_CI_CACHE:-$HOME/.cache/airlock-ci}/tools"
export PATH="$tools/bin:$PATH"
cargo_fuzz_version="0.13.2"
if ! cargo fuzz --version 2>/dev/null | grep -qF "$cargo_fuzz_version"; then
  echo "==> installing cargo-fuzz $cargo_fuzz_version into $tools"
  cargo install cargo-fuzz --version "$cargo_fuzz_version" --locked --root "$tools"
fi

target_dir="${FUZZ_TARGET_DIR:-${CARGO_TARGET_DIR:-$repo/target}/fuzz}"
if [[ $# -gt 0 ]]; then
  targets=("$@")
else
  mapfile -t targets < <(sed -n 's/^name = "\(.*\)"$/\1/p' fuzz/Cargo.toml | grep -v '^airlock-fuzz$')
fi

# No sanitizer: the targets look for panics (overflow checks and debug
# assertions are on) and broken properties in safe Rust; AddressSanitizer
# would also instrument the bundled SQLite's C code (and stop on its ODR
# report) while doubling the build and halving the executions.
echo "==> building ${#targets[@]} fuzz targets (nightly, optimized, debug assertions, no sanitizer)"
build_started=$SECONDS
cargo +nightly fuzz build --fuzz-dir fuzz --target-dir "$target_dir" \
  --sanitizer none --debug-assertions --codegen-units 16
echo "    built in $((SECONDS - build_started)) s"

bin_dir="$target_dir/x86_64-unknown-linux-gnu/release"
summary=()
crashed=()
for target in "${targets[@]}"; do
  seeds="fuzz/corpus/$target"
  [[ -d "$seeds" ]] || { echo "fuzz.sh: $target has no seed corpus at $seeds" >&2; exit 1; }
  work="$target_dir/corpus/$target"
  artifacts="fuzz/artifacts/$target"
  log="$target_dir/logs/$target.log"
  mkdir -p "$work" "$artifacts" "$(dirname "$log")"
  echo "==> $target for ${seconds} s"
  set +e
  "$bin_dir/$target" "$work" "$seeds" \
    -max_total_time="$seconds" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1
  rc=$?
  set -e
  stat() { sed -n "s/^stat::$1: *//p" "$log" | tail -1; }
  execs="$(stat number_of_executed_units)"
  rate="$(stat average_exec_per_sec)"
  cov="$(grep -aEo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1)"
  corpus="$(ls "$work" | wc -l)"
  if [[ $rc -ne 0 ]]; then
    crashed+=("$target")
    echo "    CRASH (exit $rc); the input is in $artifacts/; the end of $log:"
    grep -aE 'panicked at|ERROR: |SUMMARY|Test unit written|^Base64' "$log" | head -20 | sed 's/^/      /'
    summary+=("$(printf '%-20s %12s %8s/s  %-22s corpus %6s  CRASH' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus")")
  else
    summary+=("$(printf '%-20s %12s %8s/s  %-22s corpus %6s  ok' "$target" "${execs:-?}" "${rate:-?}" "${cov:-?}" "$corpus")")
  fi
done

echo
echo "==> fuzzing: ${seconds} s per target"
printf '%-20s %12s %10s  %-22s %13s  %s\n' target executions rate coverage corpus result
printf '%s\n' "${summary[@]}"
if [[ ${#crashed[@]} -gt 0 ]]; then
  echo "fuzz.sh: crashes in: ${crashed[*]}" >&2
  exit 1
fi
