package pods

// env_hostaliases.go: spec.hostAliases in the pod's name resolution. The
// kubelet writes them into the pod's /etc/hosts, which the resolver reads
// before DNS; a WASM pod resolves through its PodNet (network.PodNet
// Lookup), so the containers get a PodNet whose Lookup answers the
// aliases first, with every IP given for the name in spec order, and
// passes every other name to the pod network.

import (
	"context"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/wasmpod/wasmpod/network"
)

type aliasNet struct {
	network.PodNet
	hosts map[string][]netip.Addr
}

func (a *aliasNet) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	if ips, ok := a.hosts[strings.TrimSuffix(strings.ToLower(name), ".")]; ok {
		return append([]netip.Addr(nil), ips...), nil
	}
	return a.PodNet.Lookup(ctx, name)
}

// withHostAliases wraps the pod's network with its hostAliases (pn itself
// when it has none). Entries with an IP that does not parse are left out
// (the API refuses them).
func withHostAliases(pn network.PodNet, aliases []corev1.HostAlias) network.PodNet {
	if pn == nil || len(aliases) == 0 {
		return pn
	}
	hosts := map[string][]netip.Addr{}
	for _, ha := range aliases {
		ip, err := netip.ParseAddr(ha.IP)
		if err != nil {
			continue
		}
		for _, h := range ha.Hostnames {
			h = strings.TrimSuffix(strings.ToLower(h), ".")
			hosts[h] = append(hosts[h], ip.Unmap())
		}
	}
	return &aliasNet{PodNet: pn, hosts: hosts}
}
