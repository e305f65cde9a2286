#!/usr/bin/env bash
# Regenerates internal/kube's clientset and informers with k8s.io/code-generator
# at the version of go.mod's k8s.io/client-go (`just kube-gen`).
set -euo pipefail
cd "$(dirname "$0")"
root=$(cd ../.. && pwd)
ver=$(cd "$root" && go list -m -f '{{.Version}}' k8s.io/client-go)
pkg=github.com/wasmpod/wasmpod/internal/kube
# The group-versions wasmpod serves (apiserver's resource table), one per group.
gvs=core/v1,apps/v1,batch/v1,policy/v1,discovery/v1,coordination/v1,node/v1,rbac/v1,authentication/v1,authorization/v1,autoscaling/v1,autoscaling/v2,events/v1
inputs=()
IFS=, read -ra list <<<"$gvs"
for gv in "${list[@]}"; do inputs+=("k8s.io/api/$gv"); done
# Everything generated goes; the hand-written *_expansion.go files (the
# methods client-go's typed clients have beyond the generated ones) stay,
# and client-gen leaves their interfaces out of generated_expansion.go.
if [ -d kubernetes ] || [ -d informers ]; then
	find kubernetes informers -name '*.go' \( ! -name '*_expansion.go' -o -name generated_expansion.go \) -delete
	find kubernetes informers -type d -empty -delete
fi
cd "$root"
go run "k8s.io/code-generator/cmd/client-gen@$ver" \
	--go-header-file /dev/null \
	--plural-exceptions Endpoints:Endpoints \
	--clientset-name kubernetes \
	--input-base k8s.io/api \
	--input "$gvs" \
	--output-dir internal/kube \
	--output-pkg "$pkg"
# The fakes (kubernetes/fake, typed/*/*/fake) are for the pods agent's
# tests, which predate this package; only tests import them.
# No Discovery(): k8s.io/client-go/discovery imports k8s.io/client-go/kubernetes/scheme,
# which registers every Kubernetes API group, the cost this package exists to avoid.
nodiscovery() {
	perl -0pi -e '
	s/\n\tdiscovery "k8s.io\/client-go\/discovery"//;
	s/\n\tDiscovery\(\) discovery\.DiscoveryInterface\w*//;
	s/\n\t\*discovery\.DiscoveryClient//;
	s/\n\/\/ Discovery retrieves the DiscoveryClient\nfunc \(c \*Clientset\) Discovery\(\).*?\n}\n//s;
	s/\n\tcs\.DiscoveryClient, err = discovery\.NewDiscoveryClientForConfigAndClient\(.*?\n\t}\n//s;
	s/\n\tcs\.DiscoveryClient = discovery\.NewDiscoveryClient\(c\)\n//;
	' "$1"
	if grep -n 'discovery\.' "$1"; then
		echo "gen.sh: $1 still uses k8s.io/client-go/discovery" >&2
		exit 1
	fi
}
nodiscovery internal/kube/kubernetes/clientset.go
go run "k8s.io/code-generator/cmd/informer-gen@$ver" \
	--go-header-file /dev/null \
	--plural-exceptions Endpoints:Endpoints \
	--single-directory \
	--versioned-clientset-package "$pkg/kubernetes" \
	--listers-package k8s.io/client-go/listers \
	--output-dir internal/kube/informers \
	--output-pkg "$pkg/informers" \
	"${inputs[@]}"
# The node agent's build (cmd/wasmpod-agent with the tag wasmpod_node, as
# `just agent` builds it) imports only the groups a node uses: every
# k8s.io/api package registers all its kinds in its init, so an import links
# the kinds' code. Its clientset, scheme, informer factory and generic
# informer are generated over those groups alone into *_node.go files of the
# same packages, under the tag; the full files get the negated tag; the
# typed clients and group informers are shared.
node_gvs=core/v1,discovery/v1,coordination/v1,node/v1,authentication/v1,authorization/v1
node_inputs=()
IFS=, read -ra list <<<"$node_gvs"
for gv in "${list[@]}"; do node_inputs+=("k8s.io/api/$gv"); done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
go run "k8s.io/code-generator/cmd/client-gen@$ver" \
	--go-header-file /dev/null \
	--plural-exceptions Endpoints:Endpoints \
	--clientset-name kubernetes \
	--input-base k8s.io/api \
	--input "$node_gvs" \
	--output-dir "$tmp" \
	--output-pkg "$pkg"
nodiscovery "$tmp/kubernetes/clientset.go"
go run "k8s.io/code-generator/cmd/informer-gen@$ver" \
	--go-header-file /dev/null \
	--plural-exceptions Endpoints:Endpoints \
	--single-directory \
	--versioned-clientset-package "$pkg/kubernetes" \
	--listers-package k8s.io/client-go/listers \
	--output-dir "$tmp/informers" \
	--output-pkg "$pkg/informers" \
	"${node_inputs[@]}"
for f in kubernetes/clientset.go kubernetes/scheme/register.go informers/factory.go informers/generic.go; do
	dst=internal/kube/$f
	{ printf '//go:build !wasmpod_node\n\n'; cat "$dst"; } >"$tmp/full.go"
	mv "$tmp/full.go" "$dst"
	{ printf '//go:build wasmpod_node\n\n'; cat "$tmp/$f"; } >"${dst%.go}_node.go"
done
gofmt -w internal/kube
