package network

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"strings"
)

const ndots = 5

// Lookup implements PodNet: cluster names with the pod's search path
// (<ns>.svc.<domain>, svc.<domain>, <domain>; ndots 5), "localhost", IP
// literals, and host names through the host resolver when egress is
// allowed. Unknown names give an error wrapping ErrNoSuchHost.
func (p *pod) Lookup(ctx context.Context, name string) ([]netip.Addr, error) {
	n := p.n
	orig := name
	name = strings.ToLower(strings.TrimSpace(name))
	if ip, err := netip.ParseAddr(name); err == nil {
		return []netip.Addr{ip.Unmap()}, nil
	}
	abs := strings.HasSuffix(name, ".")
	name = strings.TrimSuffix(name, ".")
	if !validName(name) {
		return nil, fmt.Errorf("lookup %q: invalid name: %w", orig, ErrNoSuchHost)
	}
	if name == "localhost" || strings.HasSuffix(name, ".localhost") {
		return []netip.Addr{netip.AddrFrom4([4]byte{127, 0, 0, 1})}, nil
	}
	dom := n.cfg.ClusterDomain
	var cands []string
	search := []string{p.info.Namespace + ".svc." + dom, "svc." + dom, dom}
	if abs || strings.Count(name, ".") >= ndots {
		cands = append(cands, name)
	}
	if !abs {
		for _, s := range search {
			cands = append(cands, name+"."+s)
		}
		if strings.Count(name, ".") < ndots {
			cands = append(cands, name)
		}
	}
	for _, c := range cands {
		if c == dom || strings.HasSuffix(c, "."+dom) {
			if addrs := n.resolveCluster(strings.TrimSuffix(c, "."+dom)); len(addrs) > 0 {
				return addrs, nil
			}
		}
	}
	if name == dom || strings.HasSuffix(name, "."+dom) || n.cfg.DenyEgress {
		return nil, fmt.Errorf("lookup %s: %w", orig, ErrNoSuchHost)
	}
	addrs, err := n.cfg.Resolver.LookupNetIP(ctx, "ip", name)
	if err != nil {
		var de *net.DNSError
		if errors.As(err, &de) && de.IsNotFound {
			return nil, fmt.Errorf("lookup %s: %w", orig, ErrNoSuchHost)
		}
		return nil, fmt.Errorf("lookup %s: %w", orig, err)
	}
	for i := range addrs {
		addrs[i] = addrs[i].Unmap()
	}
	return addrs, nil
}

func validName(name string) bool {
	if name == "" || len(name) > 253 {
		return false
	}
	for _, l := range strings.Split(name, ".") {
		if l == "" || len(l) > 63 {
			return false
		}
		for _, r := range l {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
				return false
			}
		}
	}
	return true
}

// resolveCluster answers a name relative to the cluster domain.
func (n *Network) resolveCluster(rel string) []netip.Addr {
	l := strings.Split(rel, ".")
	n.mu.RLock()
	defer n.mu.RUnlock()
	switch {
	case len(l) == 3 && l[2] == "svc": // svc.ns.svc
		svc := n.services[l[1]+"/"+l[0]]
		if svc == nil {
			return nil
		}
		if !svc.Headless() {
			return []netip.Addr{svc.ClusterIP}
		}
		var out []netip.Addr
		for _, sp := range svc.ports {
			for _, ep := range sp.Endpoints {
				if !slices.Contains(out, ep.Addr()) {
					out = append(out, ep.Addr())
				}
			}
		}
		return out
	case len(l) == 4 && l[3] == "svc": // hostname.subdomain.ns.svc
		svc := n.services[l[2]+"/"+l[1]]
		if svc == nil || !svc.Headless() {
			return nil
		}
		if a, ok := svc.Hostnames[l[0]]; ok { // an endpoint's hostname, any node's pod
			return []netip.Addr{a}
		}
		for _, p := range n.pods { // this node's pods (a Service without endpoints yet)
			if p.info.Namespace != l[2] || p.info.Hostname != l[0] || p.info.Subdomain != l[1] {
				continue
			}
			listed, hasEndpoints := false, false
			for _, sp := range svc.ports {
				for _, ep := range sp.Endpoints {
					hasEndpoints = true
					listed = listed || ep.Addr() == p.info.IP
				}
			}
			if listed || (!hasEndpoints && len(svc.ports) == 0) {
				return []netip.Addr{p.info.IP}
			}
		}
	case len(l) == 3 && l[2] == "pod": // a-b-c-d.ns.pod
		if ip, err := netip.ParseAddr(strings.ReplaceAll(l[0], "-", ".")); err == nil && ip.Is4() {
			return []netip.Addr{ip}
		}
	}
	return nil
}
