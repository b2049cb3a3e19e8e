#!/usr/bin/env bash
# Builds the Lambda functions of infra/template.yaml for arm64 (provided.al2023) with
# cargo-lambda, zips each bootstrap and prints its size.
#
#   bash infra/lambda/build.sh [function ...]     (default: every function)
#
# Installs cargo-lambda and ziglang (PyPI) into .venv/lambda and the Rust target
# aarch64-unknown-linux-gnu when absent. CARGO_TARGET_DIR is honoured (default target/).
# Zips land in $CARGO_TARGET_DIR/lambda/<function>.zip.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
# shellcheck source=infra/lambda/common.sh
source infra/lambda/common.sh

functions=("$@")
if [ ${#functions[@]} -eq 0 ]; then
  functions=("${FUNCTIONS[@]}")
fi

ensure_cargo_lambda
rustup target add aarch64-unknown-linux-gnu >/dev/null

# Every function must be a bin target of its crate (the template's `Binary:` name).
cargo metadata --no-deps --format-version 1 | python3 -c '
import json, sys
bins = {(p["name"], t["name"]) for p in json.load(sys.stdin)["packages"] for t in p["targets"] if "bin" in t["kind"]}
missing = [f"{f} ({p})" for f, p in zip(sys.argv[1::2], sys.argv[2::2]) if (p, f) not in bins]
sys.exit("no [[bin]] target for: " + ", ".join(missing) if missing else 0)
' $(for function in "${functions[@]}"; do echo "$function $(package_of "$function")"; done)

target_dir="${CARGO_TARGET_DIR:-$root/target}"
bin_args=()
for function in "${functions[@]}"; do
  bin_args+=(-p "$(package_of "$function")" --bin "$function")
done

started=$(date +%s)
cargo lambda build --release --arm64 "${bin_args[@]}"
elapsed=$(( $(date +%s) - started ))

printf '\n%-12s %12s %8s\n' function "zip bytes" "zip MB"
for function in "${functions[@]}"; do
  dir="$target_dir/lambda/$function"
  (cd "$dir" && rm -f "$function.zip" && zip -q -X "$function.zip" bootstrap)
  bytes=$(stat -c %s "$dir/$function.zip")
  printf '%-12s %12d %8.2f\n' "$function" "$bytes" "$(echo "$bytes / 1048576" | bc -l)"
done
printf '\nbuilt in %d s (cargo lambda build --release --arm64)\n' "$elapsed"
