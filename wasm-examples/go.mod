module github.com/wasmpod/wasmpod/wasm-examples

go 1.24
