#!/usr/bin/env bash
# Before/after in one run: builds the criterion benches of BASE (a git revision) in a worktree
# with its own target directory (two checkouts must never share one: cargo names the workspace's
# artifacts alike), then runs BASE and the working tree alternately, ROUNDS times, with the
# same filters. Compare the rounds: the spread between a side's own rounds is the noise.
#
#   benches/compare.sh 6cf6add                      # place_order on both stores, MemoryStore
#   ROUNDS=3 STORES='postgres/place_order' benches/compare.sh HEAD~3
set -euo pipefail
cd "$(dirname "$0")/.."
base_rev="${1:?usage: benches/compare.sh BASE_REVISION}"
rounds="${ROUNDS:-2}"
stores_filter="${STORES:-sqlite/full\+group/place_order|postgres/place_order}"
core_filter="${CORE:-memory/place_order}"
root="$(pwd)"
base_dir="${BASE_DIR:-/tmp/inventory-bench-base}"
base_target="${BASE_TARGET:-/tmp/inventory-bench-base-target}"

rm -rf "$base_dir"
git worktree prune
git worktree add --detach "$base_dir" "$base_rev" >/dev/null
trap 'git worktree remove --force "$base_dir" >/dev/null 2>&1 || true' EXIT

executable() { # target-dir bench-name: the newest bench executable
    ls -t "$1"/release/deps/"$2"-* | grep -v '\.d$' | head -1
}
(cd "$base_dir" && CARGO_TARGET_DIR="$base_target" cargo bench -p inventory-benches --bench stores --bench core --no-run)
cargo bench -p inventory-benches --bench stores --bench core --no-run

run() { # label dir executable filter
    echo "### $1"
    (cd "$2" && "$3" --bench "$4" --noplot 2>&1 | grep -E '^[a-z].*/|thrpt:' | grep -v '%')
}
for round in $(seq 1 "$rounds"); do
    run "round $round base stores" "$base_dir" "$(executable "$base_target" stores)" "$stores_filter"
    run "round $round after stores" "$root" "$(executable "$root/target" stores)" "$stores_filter"
    run "round $round base core" "$base_dir" "$(executable "$base_target" core)" "$core_filter"
    run "round $round after core" "$root" "$(executable "$root/target" core)" "$core_filter"
done
