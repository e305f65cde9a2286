#!/bin/sh
# Builds hello.wasm next to this script from main.rs with Debian's rustc and
# its wasm32-wasi standard library (apt-get install rustc libstd-rust-dev-wasm32).
# /usr/bin/rustc by default: a rustup rustc earlier in PATH usually lacks the
# target. RUSTC=/path/to/rustc picks another one that has it. The target is
# wasm32-wasip1 where the std has that name (Rust 1.78 and later), else
# wasm32-wasi (Debian 12's rustc 1.63).
set -eu
cd "$(dirname "$0")"
rustc=${RUSTC:-/usr/bin/rustc}
if ! [ -x "$rustc" ]; then
  echo "build.sh: $rustc not found; install it with: apt-get install rustc libstd-rust-dev-wasm32" >&2
  exit 1
fi
target=wasm32-wasi
if [ -d "$("$rustc" --print sysroot)/lib/rustlib/wasm32-wasip1" ]; then
  target=wasm32-wasip1
fi
echo "build.sh: in $(pwd): $rustc --edition 2021 --target $target -O -C debuginfo=0 -C strip=debuginfo main.rs -o hello.wasm"
"$rustc" --edition 2021 --target "$target" -O -C debuginfo=0 -C strip=debuginfo main.rs -o hello.wasm
echo "build.sh: built $(pwd)/hello.wasm ($(wc -c <hello.wasm) bytes)"
