#!/usr/bin/env bash
# k-NN speed: the engine (standardize + exact top-10) against scikit-learn's
# NearestNeighbors(kd_tree, n_jobs=2) on the same synthetic clustered data, in one run.
#
#   bash bench/knn.sh [N ...]        (default: 100000 1000000)
#
# For each N: generate the data once and dump it to CSV, run the engine on that file with
# a brute-force check of 20,000 artists, run scikit-learn on the same file, compare the
# two neighbour files, and print a table. Files go to target/knn-bench (git-ignored).
# scikit-learn is installed from PyPI into .venv/bench (git-ignored) on first use.
# CARGO_TARGET_DIR is honoured (a separate one avoids waiting on other builds' lock).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/knn-bench"
venv="$root/.venv/bench"
seed=7
k=10
check=20000
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)

mkdir -p "$work"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sklearn, threadpoolctl" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn threadpoolctl
fi
cargo build --quiet --release -p encore-similarity --example knn-bench --manifest-path "$root/Cargo.toml"
engine="${CARGO_TARGET_DIR:-$root/target}/release/examples/knn-bench"

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines here for old OpenBLAS
# builds) slow a current numpy down: unset both for the scikit-learn run only.
sklearn() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$@"; }

last_seconds() { grep '^knn_seconds=' "$1" | tail -1 | cut -d= -f2; }

rows=()
for n in "${sizes[@]}"; do
    data="$work/artists-$n.csv"
    echo "== N=$n: generating $data" >&2
    "$engine" --artists "$n" --seed "$seed" --k 0 --dump "$data" > /dev/null

    echo "== N=$n: engine (with a brute-force check of $check artists)" >&2
    "$engine" --input "$data" --k "$k" --output "$work/engine-$n.csv" --check "$check" | tee "$work/engine-$n.log" >&2
    rust=$(last_seconds "$work/engine-$n.log")
    verdict=$(grep '^brute_force_check' "$work/engine-$n.log")

    echo "== N=$n: scikit-learn" >&2
    sklearn "$root/bench/knn_sklearn.py" --input "$data" --k "$k" --jobs 2 --output "$work/sklearn-$n.csv" | tee "$work/sklearn-$n.log" >&2
    py=$(last_seconds "$work/sklearn-$n.log")
    agreement=$(sklearn "$root/bench/compare_neighbours.py" "$work/engine-$n.csv" "$work/sklearn-$n.csv")

    rows+=("$(printf '%9s  %8.2f  %10.2f  %7.1fx  %s | sklearn vs engine: %s' \
        "$n" "$rust" "$py" "$(awk -v a="$py" -v b="$rust" 'BEGIN { print a / b }')" "$verdict" "$agreement")")
done

printf '\n%9s  %8s  %10s  %8s  %s\n' "N" "rust s" "sklearn s" "speed-up" "exactness"
printf '%s\n' "${rows[@]}"
if printf '%s\n' "${rows[@]}" | grep -q 'different_sets=[1-9]'; then
    echo "note: a non-zero different_sets above is a mismatch to investigate" >&2
fi
