#!/usr/bin/env bash
# Soak of `encore serve`: sustained POST /skill on loopback (90 % known, 10 % unknown
# artists) at CONNECTIONS connections for SECONDS seconds while `encore refresh` and the
# similarity job run; prints requests, errors, p50/p99/max latency and the server's RSS.
#
#   bash bench/soak.sh [SECONDS] [CONNECTIONS]      (default: 180 64)
#
# The data directory (target/soak-data, git-ignored; ENCORE_SOAK_DIR overrides) is prepared
# once: a backfill of the data set and one job run. CARGO_TARGET_DIR is honoured.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-180}
connections=${2:-64}
data=${ENCORE_SOAK_DIR:-$root/target/soak-data}
catalog="$root/../shared/data/spotify_songs.csv.gz"
target="${CARGO_TARGET_DIR:-$root/target}"

[ -f "$catalog" ] || { echo "the data set is missing at $catalog" >&2; exit 1; }
cargo build --quiet --release -p encore-local --bin encore --manifest-path "$root/Cargo.toml"
encore="$target/release/encore"
if [ ! -f "$data/soak-ready" ]; then
    "$encore" --data-dir "$data" backfill --catalog "$catalog" >/dev/null
    "$encore" --data-dir "$data" similarity run >/dev/null
    touch "$data/soak-ready"
fi
"$encore" bench soak --data-dir "$data" --catalog "$catalog" \
    --seconds "$seconds" --connections "$connections"
