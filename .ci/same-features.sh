#!/usr/bin/env bash
# Fails when `cargo test` would build a crate with other features than `cargo run` (dev-dependencies
# unify features of shared crates), which makes the README's second command rebuild Polars.
set -euo pipefail
cd "$(dirname "$0")/.."
tree() { cargo tree --prefix none -f '{p}|{f}' -e "$1" | sed 's/ (\*)$//' | sort -u; }
run=$(tree normal,build)
test=$(tree normal,build,dev)
# Only crates in both builds matter; a crate only the tests use is built once anyway.
diff <(printf '%s\n' "$run") <(grep -F -f <(printf '%s\n' "$run" | cut -d'|' -f1 | sed 's/$/|/') <<<"$test") && {
  echo "same-features: cargo run and cargo test resolve the same features"; exit 0; }
echo "same-features: the crates above get other features under cargo test; turn those on in [dependencies] too" >&2
exit 1
