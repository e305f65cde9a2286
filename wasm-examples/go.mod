module github.com/wasmpod/wasmpod/wasm-examples

go 1.26.0

require github.com/stealthrocket/net v0.2.1

require (
	golang.org/x/sync v0.6.0 // indirect
	golang.org/x/sys v0.47.0 // indirect
	golang.org/x/term v0.45.0 // indirect
	mvdan.cc/sh/v3 v3.8.0 // indirect
)
