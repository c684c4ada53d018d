#!/usr/bin/env bash
# Runs every benchmark and regenerates docs/benchmarks.md (each writes its own marked block; the hand-written notes
# stay) and the plots under docs/benchmarks/. About 45–60 minutes on 2 cores; run it on a quiet machine
# (`uptime` under 0.5) with PostgreSQL and RabbitMQ up. `bench/run-all.sh --quick` runs short versions (to check the
# harness, not for figures: it writes to a temporary copy of the report and says where).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=false
[ "${1:-}" = "--quick" ] && quick=true
out=docs/benchmarks.md
if $quick; then
  tmp="$(mktemp -d)"
  cp "$out" "$tmp/benchmarks.md"
  out="$tmp/benchmarks.md"
fi
plots="$(dirname "$out")/benchmarks"
mkdir -p "$plots"
step() { echo; echo "==> $*  (load average: $(cut -d' ' -f1-3 /proc/loadavg))"; }

step "build (release)"
cargo build --release --locked -p pinit -p pinit-bench

step "whole system under load (both run modes)"
if $quick; then
  cargo run --release -q -p pinit-bench --bin load -- --rates 50,100 --step-secs 3 --warmup-secs 1 --members 20 --out "$out"
else
  cargo run --release -q -p pinit-bench --bin load -- --out "$out"
fi

step "notification dispatch (scenarios A and B)"
if $quick; then
  cargo run --release -q -p pinit-bench --bin push-dispatch -- --members 2000 --spread-schedules 200 --spread-secs 5 --replicas 1 --out "$out"
else
  cargo run --release -q -p pinit-bench --bin push-dispatch -- --out "$out"
fi

step "messaging: commit to consumer"
cdf="$(mktemp)"
if $quick; then
  PINIT_BENCH_CDF="$cdf" PINIT_BENCH_SECS=2 PINIT_BENCH_RATE=200 cargo bench -q -p pinit-messaging --bench commit_to_consumer
else
  PINIT_BENCH_CDF="$cdf" cargo bench -q -p pinit-messaging --bench commit_to_consumer
fi
cargo run --release -q -p pinit-bench --bin plot-latency -- "$cdf" "$plots/commit-to-consumer.svg"
rm -f "$cdf"

if ! $quick; then
  step "task service against pgbench"
  cargo run --release -q -p pinit-bench --bin task-throughput -- --out "$out"
  step "calendars"
  cargo run --release -q -p pinit-bench --bin calendar -- --out "$out"
fi

step "done: $out and $plots/"
