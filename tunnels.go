package wasmpod

// tunnels.go: the replicas of an HA control plane record which of them
// holds each agent's reverse tunnel, in the etcd they share (the etcd
// store's records beside the API's keyspace, <prefix>/meta/tunnels/NODE:
// the holder's URL), so that the others relay to it
// (apiserver/tunnelrelay.go).

import (
	"context"
	"fmt"
	"net/netip"
	"net/url"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/store/etcd"
)

// tunnelRegistry is the registry of the cluster's tunnels, nil when its
// store is not shared (not etcd).
func (c *Cluster) tunnelRegistry() apiserver.TunnelRegistry {
	es, ok := c.store.(*etcd.Store)
	if !ok {
		return nil
	}
	return &etcdTunnels{es: es, c: c}
}

type etcdTunnels struct {
	es *etcd.Store
	c  *Cluster
}

// maxHolderURL bounds a holder record read back (written by a replica).
const maxHolderURL = 512

// Self is the URL of the API server's address (SetAPIServerAddress: serve's
// TCP listener), "" before it has one.
func (t *etcdTunnels) Self() string {
	t.c.mu.Lock()
	addr := t.c.apiAddr
	t.c.mu.Unlock()
	if !addr.IsValid() {
		return ""
	}
	return (&url.URL{Scheme: "https", Host: netip.AddrPortFrom(addr.Addr(), addr.Port()).String()}).String()
}

func (t *etcdTunnels) Record(ctx context.Context, node, u string) error {
	return t.es.MetaPut(ctx, "tunnels/"+node, []byte(u))
}

func (t *etcdTunnels) Holder(ctx context.Context, node string) (string, error) {
	b, found, err := t.es.MetaGet(ctx, "tunnels/"+node)
	if err != nil || !found {
		return "", err
	}
	if len(b) > maxHolderURL {
		return "", fmt.Errorf("the record of %s's tunnel holder is %d bytes, over %d", node, len(b), maxHolderURL)
	}
	return string(b), nil
}
