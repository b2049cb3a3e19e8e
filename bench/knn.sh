#!/usr/bin/env bash
# k-NN speed in one run: the engine (standardize + exact top-10) beside a straightforward
# kiddo 5 immutable kd-tree (f64, one query per point through rayon) and scikit-learn's
# NearestNeighbors(kd_tree, n_jobs=2), on the same synthetic clustered data.
#
#   bash bench/knn.sh [N ...]        (default: 200000 1000000)
#
# For each cluster shape (even: clusters of similar spread; varied: spreads 0.03–1.0 and
# sizes 1:20 apart) and each N: generate the data once and dump it to CSV; run the engine
# on that file with a brute-force check of 20,000 artists; run the engine and kiddo on the
# same standardized points in one process (kiddo's lists compared with the engine's);
# run scikit-learn on the same file when N <= SKLEARN_MAX (default 200000: at 1M it takes
# many minutes) and compare its neighbour file with the engine's; print a table.
# Files go to target/knn-bench (git-ignored). scikit-learn is installed from PyPI into
# .venv/bench (git-ignored) on first use. CARGO_TARGET_DIR is honoured.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
work="$root/target/knn-bench"
venv="$root/.venv/bench"
seed=7
k=10
check=20000
sklearn_max=${SKLEARN_MAX:-200000}
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(200000 1000000)

mkdir -p "$work"
if [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c "import sklearn, threadpoolctl" 2>/dev/null; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet scikit-learn threadpoolctl
fi
cargo build --quiet --release -p encore-local --bin encore --manifest-path "$root/Cargo.toml"
encore="${CARGO_TARGET_DIR:-$root/target}/release/encore"
engine() { "$encore" bench knn "$@"; }

# OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE (set on some machines here for old OpenBLAS
# builds) slow a current numpy down: unset both for the scikit-learn run only.
sklearn() { env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE "$venv/bin/python" "$@"; }

last_seconds() { grep '^knn_seconds=' "$1" | tail -1 | cut -d= -f2; }
field() { tr ' ' '\n' < "$2" | grep "^$1=" | tail -1 | cut -d= -f2; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }

echo "== load before the run: $(uptime)" >&2
rows=()
for spread in even varied; do
    for n in "${sizes[@]}"; do
        tag="$spread-$n"
        data="$work/artists-$tag.csv"
        echo "== $tag: generating $data" >&2
        engine --artists "$n" --seed "$seed" --spread "$spread" --k 0 --dump "$data" > /dev/null

        echo "== $tag: engine (with a brute-force check of $check artists)" >&2
        engine --input "$data" --k "$k" --output "$work/engine-$tag.csv" --check "$check" | tee "$work/engine-$tag.log" >&2
        rust=$(last_seconds "$work/engine-$tag.log")
        verdict=$(grep '^brute_force_check' "$work/engine-$tag.log" | sed 's/brute_force_check //')

        echo "== $tag: engine beside kiddo, same points, same process" >&2
        engine --input "$data" --k "$k" --kiddo | tee "$work/kiddo-$tag.log" >&2
        kiddo=$(field kiddo_seconds "$work/kiddo-$tag.log")
        beside=$(field engine_seconds "$work/kiddo-$tag.log")
        kiddo_sets=$(field different_sets_vs_kiddo "$work/kiddo-$tag.log")

        py="-"; py_ratio="-"; py_sets="-"
        if [ "$n" -le "$sklearn_max" ]; then
            echo "== $tag: scikit-learn" >&2
            sklearn "$root/bench/knn_sklearn.py" --input "$data" --k "$k" --jobs 2 --output "$work/sklearn-$tag.csv" | tee "$work/sklearn-$tag.log" >&2
            py=$(last_seconds "$work/sklearn-$tag.log")
            py_ratio="$(ratio "$py" "$rust")x"
            py_sets=$(sklearn "$root/bench/compare_neighbours.py" "$work/engine-$tag.csv" "$work/sklearn-$tag.csv" | sed 's/.*different_sets=//')
        fi
        rows+=("$(printf '%-7s %9s  %8.2f  %8.2f  %8.2f  %7sx  %10s  %8s  | brute force: %s; differing sets vs kiddo %s, vs sklearn %s' \
            "$spread" "$n" "$rust" "$beside" "$kiddo" "$(ratio "$kiddo" "$beside")" "$py" "$py_ratio" "$verdict" "$kiddo_sets" "$py_sets")")
    done
done
echo "== load after the run: $(uptime)" >&2

printf '\n%-7s %9s  %8s  %8s  %8s  %8s  %10s  %8s  %s\n' "spread" "N" "engine s" "beside s" "kiddo s" "vs kiddo" "sklearn s" "vs sk" "exactness"
printf '%s\n' "${rows[@]}"
if printf '%s\n' "${rows[@]}" | grep -q 'different_lists=[1-9]\|different_sets=[1-9]'; then
    echo "note: a non-zero brute-force difference above is a defect" >&2
fi
