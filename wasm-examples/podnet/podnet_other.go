//go:build !wasip1

package podnet

import (
	"context"
	"net"
)

var dialer net.Dialer

func dialContext(ctx context.Context, network, address string) (net.Conn, error) {
	return dialer.DialContext(ctx, network, address)
}

func listen(network, address string) (net.Listener, error) { return net.Listen(network, address) }

func listenPacket(network, address string) (net.PacketConn, error) {
	return net.ListenPacket(network, address)
}

func lookupHost(ctx context.Context, host string) ([]string, error) {
	return net.DefaultResolver.LookupHost(ctx, host)
}
