package nodeagent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"sync"
	"time"

	"k8s.io/client-go/rest"
)

// failoverDialTimeout bounds one connection attempt to one API server.
const failoverDialTimeout = 5 * time.Second

// FailoverConfig returns a copy of cfg whose connections go to the first of
// servers that accepts one, starting with the one that accepted the last:
// an agent given the API servers of an HA control plane's replicas (issue 15
// §4) moves to another when its current one stops answering, as kubelets
// behind a load-balanced address do. Requests on a connection that breaks
// fail as before; client-go's retries and the informers' relists open a
// new one. servers are URLs of cfg.Host's scheme (https://HOST:PORT); TLS
// is verified as for cfg.Host, so each replica's serving certificate must
// name cfg.Host's host (kubeadm's controlPlaneEndpoint). A server that
// accepts connections but does not answer is not detected here (HTTP/2's
// health checks end such a connection).
func FailoverConfig(cfg *rest.Config, servers []string) (*rest.Config, error) {
	if cfg.Dial != nil {
		return nil, errors.New("agent: API server failover: the configuration already has its own dialer")
	}
	base, err := url.Parse(cfg.Host)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("agent: API server failover: the API server %q is not a URL", cfg.Host)
	}
	d := &failoverDialer{}
	for _, s := range servers {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" || u.Scheme != base.Scheme || (u.Path != "" && u.Path != "/") {
			return nil, fmt.Errorf("agent: --failover-server %q: want %s://HOST:PORT as the other servers", s, base.Scheme)
		}
		addr := u.Host
		if u.Port() == "" {
			addr = net.JoinHostPort(u.Hostname(), map[string]string{"https": "443", "http": "80"}[u.Scheme])
		}
		d.addrs = append(d.addrs, addr)
	}
	if len(d.addrs) == 0 {
		return nil, errors.New("agent: API server failover: no servers")
	}
	out := rest.CopyConfig(cfg)
	out.Dial = d.dial
	return out, nil
}

type failoverDialer struct {
	addrs []string
	d     net.Dialer

	mu  sync.Mutex
	cur int // the index of the server that accepted the last connection
}

// dial ignores the address asked for (cfg.Host's) and tries the servers
// from the current one on.
func (f *failoverDialer) dial(ctx context.Context, network, _ string) (net.Conn, error) {
	f.mu.Lock()
	start := f.cur
	f.mu.Unlock()
	var errs []error
	for i := range f.addrs {
		j := (start + i) % len(f.addrs)
		dctx, cancel := context.WithTimeout(ctx, failoverDialTimeout)
		c, err := f.d.DialContext(dctx, network, f.addrs[j])
		cancel()
		if err == nil {
			f.mu.Lock()
			f.cur = j
			f.mu.Unlock()
			return c, nil
		}
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

// tunnelTargets are the API configurations an agent with a reverse tunnel
// opens one to: api's server and every failover server, each dialled
// directly (none through the failover dialer) and verified under api's
// host name, as FailoverConfig's connections are. Every replica of an HA
// control plane reaches the agent's kubelet API only through a tunnel the
// agent opened to that replica (apiserver/tunnel.go keeps them in
// memory), so the agent keeps one to each, as upstream's konnectivity
// agents keep one to every konnectivity server. A load-balanced address
// naming several replicas is one target here: only the replica the
// balancer picks gets a tunnel.
func tunnelTargets(api *rest.Config, servers []string) ([]*rest.Config, error) {
	base, err := url.Parse(api.Host)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("agent: reverse tunnel: the API server %q is not a URL", api.Host)
	}
	seen := map[string]bool{}
	var out []*rest.Config
	for _, s := range append([]string{api.Host}, servers...) {
		u, err := url.Parse(s)
		if err != nil || u.Host == "" {
			return nil, fmt.Errorf("agent: reverse tunnel: the API server %q is not a URL", s)
		}
		if seen[u.Host] {
			continue
		}
		seen[u.Host] = true
		c := rest.CopyConfig(api)
		c.Dial = nil
		c.Host = u.Scheme + "://" + u.Host + base.Path
		if c.TLSClientConfig.ServerName == "" {
			c.TLSClientConfig.ServerName = base.Hostname()
		}
		out = append(out, c)
	}
	return out, nil
}
