# wasmpod developer tasks. The first two mirror the README's set-up commands.

# Run the demo: a WASM HTTP server reachable from the host (curl http://127.0.0.1:8080/).
run:
    go run ./cli/wasmpod run wasm-examples/hostport/pod.yaml

# Run every test (the main module, then the guest examples' module).
test:
    go test -timeout 30m ./... && (cd wasm-examples && go test ./...)

# The checks CI runs: gofmt, vet, tests, the newcomer test, bounded fuzzing.
ci:
    bash .ci/run

# Benchmarks with ratios to their in-run baselines.
bench:
    go test -run '^$' -bench . -benchtime 20x .

# The controllers (issue 13), once each: a ReplicaSet 0 -> 1,000 -> 0 against the direct
# pod start, a Job of 1,000 completions against bare pods, and CPU at rest with 100
# Deployments against an empty cluster.
bench-controllers:
    go test -run '^$' -bench 'BenchmarkReplicaSetScale$|BenchmarkJobCompletions$|BenchmarkControllersAtRest$' -benchtime 1x -timeout 30m .

# A warm `run` of hello as a user types it, against raw wazero (wasmpod's own time).
bench-run:
    go test -run '^$' -bench WarmRunHello -benchtime 10x ./cli/wasmpod/

# File I/O through a mounted volume, against the same guest on raw wazero's own WASI.
bench-fileio:
    go test -run '^$' -bench BenchmarkFileIO -benchtime 1s ./runtime/wazero/

# The upstream WASI preview-1 test suite (a checkout of WebAssembly/wasi-testsuite
# with its built tests) through wasmpod's engine, and raw wazero's WASI alongside:
# just wasi-testsuite ~/src/wasi-testsuite
wasi-testsuite DIR:
    WASI_TESTSUITE="$(realpath {{DIR}})" WASI_TESTSUITE_WAZERO=1 go test -count=1 -timeout 30m -run 'TestWASITestsuite$' -v ./internal/wasitestsuite/

# The same suite and table through the wasmtime engine (cgo, the wasmtime build tag):
# just wasi-testsuite-wasmtime ~/src/wasi-testsuite
wasi-testsuite-wasmtime DIR:
    WASI_TESTSUITE="$(realpath {{DIR}})" WASI_TESTSUITE_ENGINE=wasmtime CGO_ENABLED=1 go test -tags wasmtime -count=1 -timeout 30m -run 'TestWASITestsuite$' -v ./internal/wasitestsuite/

# The newcomer test (CI runs it): a fresh clone, HOME and cache; the README's main
# command in a terminal, Ctrl-C, then every example as the README says.
newcomer:
    bash .ci/newcomer

# The 30-minute soak: serve under churn, log floods, slow clients and kill -9
# (the test suite runs a 90 s version of it).
soak:
    WASMPOD_SOAK_DURATION=30m go test -count=1 -timeout 45m -run 'TestSoak$' -v ./cli/wasmpod/

# Every fuzz target for a while each (CI runs each for a fixed number of executions):
# just fuzz 5m
fuzz TIME="60s":
    bash .ci/fuzz {{TIME}}

# Build the wasmpod binary into ./wasmpod.
build:
    go build -o wasmpod ./cli/wasmpod

# Build tags of the release: grpc-go without golang.org/x/net/trace (and the
# html/template it links), which wasmpod does not use;
# BenchmarkReleaseFootprint builds with the same tags.
release_tags := "grpcnotrace"

# The release binary (CGO off, no paths, no symbol tables) into ./wasmpod,
# for another platform with GOOS/GOARCH set: GOOS=linux GOARCH=arm64 just release
release:
    CGO_ENABLED=0 go build -tags {{release_tags}} -trimpath -ldflags "-s -w" -o wasmpod ./cli/wasmpod
    @ls -l wasmpod

# The node agent alone (`wasmpod agent` without the control plane and kubectl verbs),
# built as the release is, into ./wasmpod-agent (BenchmarkAgentFootprint measures it).
# The tag wasmpod_node gives it internal/kube's clientset, scheme and informer
# factory of the node's API groups only (internal/kube/gen.sh).
agent_tags := release_tags + ",wasmpod_node"
agent:
    CGO_ENABLED=0 go build -tags {{agent_tags}} -trimpath -ldflags "-s -w" -o wasmpod-agent ./cmd/wasmpod-agent
    @ls -l wasmpod-agent

# The cross-build matrix CI runs (CGO off): linux amd64/arm64/arm(v7)/riscv64,
# darwin/arm64, windows/amd64.
cross:
    bash .ci/cross

# What the release binary is made of, by module (or: just size package):
# an unstripped build of the same source, summed by hack/sizetable.
size BY="module":
    CGO_ENABLED=0 go build -tags {{release_tags}} -trimpath -o "${TMPDIR:-/tmp}/wasmpod-size" ./cli/wasmpod
    go run ./hack/sizetable -by {{BY}} "${TMPDIR:-/tmp}/wasmpod-size"

# Format and vet.
fmt:
    gofmt -w $(git ls-files '*.go')

vet:
    go vet ./...
    cd wasm-examples && GOOS=wasip1 GOARCH=wasm go vet ./...

# Run any example: just example hello
example NAME:
    go run ./cli/wasmpod run wasm-examples/{{NAME}}/pod.yaml

# Regenerate internal/openapi's OpenAPI definitions of the served types with
# k8s.io/kube-openapi's openapi-gen (the version go.mod requires).
openapi-gen:
    go generate ./internal/openapi/

# Regenerate internal/kube's typed clientset and informers of the served API
# group-versions with k8s.io/code-generator (the version of go.mod's client-go).
kube-gen:
    go generate ./internal/kube/
