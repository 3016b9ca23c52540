#!/usr/bin/env bash
# Reproduces every figure of benches/README.md in one go: the criterion benchmarks, then the
# goose load test with its same-run baseline on SQLite and on PostgreSQL (with pgbench -N),
# then the light-client figures (wrk, pgbench's one-hot-row rate) and the flash sale on both.
#
#   benches/run.sh                 # everything (about 40 minutes on 2 cores)
#   benches/run.sh --run-time 5    # extra arguments go to both `loadtest all` runs
#   SKIP_CRITERION=1 benches/run.sh
#
# Needs PostgreSQL at TEST_DATABASE_URL (default postgres://postgres@127.0.0.1:5432/test) and
# pgbench (Debian: postgresql-client) and wrk (Debian: wrk). Results: target/bench-results/ (text and JSON).
set -euo pipefail
cd "$(dirname "$0")/.."

export TEST_DATABASE_URL="${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}"
out="${BENCH_OUT:-target/bench-results}"
mkdir -p "$out"

echo "== machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
cargo build --release -p inventory-server -p inventory-benches --bins

if [ -z "${SKIP_CRITERION:-}" ]; then
    echo "== criterion: core, stores, http"
    cargo bench -p inventory-benches 2>&1 | tee "$out/criterion.txt"
fi

echo "== load test: SQLite"
target/release/loadtest all --json "$out/loadtest-sqlite.json" "$@" | tee "$out/loadtest-sqlite.txt"
echo "== load test: PostgreSQL"
target/release/loadtest all --postgres --json "$out/loadtest-postgres.json" "$@" | tee "$out/loadtest-postgres.txt"
echo "== light client (wrk) and flash sale: SQLite, then PostgreSQL"
target/release/loadtest wrk --json "$out/wrk-sqlite.json" | tee "$out/wrk-sqlite.txt"
target/release/loadtest wrk --postgres --json "$out/wrk-postgres.json" | tee "$out/wrk-postgres.txt"
target/release/loadtest flash-sale | tee "$out/flash-sqlite.txt"
target/release/loadtest flash-sale --postgres | tee "$out/flash-postgres.txt"
echo "== done: $out (load average now $(cut -d' ' -f1-3 /proc/loadavg))"
