#!/bin/sh
# Builds hello.wasm next to this script from main.rs with Debian's rustc and
# its wasm32-wasi standard library (apt-get install rustc libstd-rust-dev-wasm32).
# /usr/bin/rustc by default: a rustup rustc earlier in PATH usually lacks the
# wasm32-wasi target. RUSTC=/path/to/rustc picks another one that has it.
set -eu
cd "$(dirname "$0")"
rustc=${RUSTC:-/usr/bin/rustc}
if ! [ -x "$rustc" ]; then
  echo "build.sh: $rustc not found; install it with: apt-get install rustc libstd-rust-dev-wasm32" >&2
  exit 1
fi
echo "build.sh: in $(pwd): $rustc --edition 2021 --target wasm32-wasi -O -C debuginfo=0 -C strip=debuginfo main.rs -o hello.wasm"
"$rustc" --edition 2021 --target wasm32-wasi -O -C debuginfo=0 -C strip=debuginfo main.rs -o hello.wasm
echo "build.sh: built $(pwd)/hello.wasm ($(wc -c <hello.wasm) bytes)"
