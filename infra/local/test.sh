#!/usr/bin/env bash
# The whole test suite: starts the local test stack when it is not running, then lint
# and every test of every crate. This is the README's test command; CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")/../.."

. infra/local/stack.sh

bash infra/checks/run.sh
# Licenses and banned crates (deny.toml); cargo-deny is installed from crates.io when absent.
if ! cargo deny --version >/dev/null 2>&1; then
  cargo install cargo-deny --locked
fi
cargo deny --log-level error check licenses bans
cargo clippy --workspace --all-targets --locked -- -D warnings
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --locked --no-fail-fast
else
  cargo test --workspace --locked --no-fail-fast
fi
