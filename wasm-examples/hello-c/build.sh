#!/bin/sh
# Builds hello.wasm, next to this script, from hello.c with clang and
# wasi-libc for WASI preview 1 (wasm32-wasi). pod.yaml's image is
# ./hello.wasm, so run this first:
#
#   sh wasm-examples/hello-c/build.sh
#   go run ./cli/wasmpod run wasm-examples/hello-c/pod.yaml
#
# Debian/Ubuntu: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32
# $CC overrides the compiler (a clang that targets wasm32-wasi, with a
# WASI sysroot: add --sysroot=... through $CFLAGS if it needs one).
set -eu
cd "$(dirname "$0")"
cc=${CC:-clang}
if ! command -v "$cc" >/dev/null 2>&1; then
	echo "build.sh: $cc not found; on Debian or Ubuntu: apt-get install clang lld wasi-libc libclang-rt-dev-wasm32" >&2
	exit 1
fi
# shellcheck disable=SC2086 # CFLAGS is a list of flags
set -- --target=wasm32-wasi -O2 -Wall ${CFLAGS:-} hello.c -o hello.wasm
echo "in $(pwd): $cc $*"
"$cc" "$@"
echo "built $(pwd)/hello.wasm ($(wc -c <hello.wasm) bytes)"
