package network

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
)

// TestHostPortInUse: a host port another socket holds is an error that
// says EADDRINUSE and names the address family, protocol and address as
// the kubelet's hostport opener does ("listen tcp4 127.0.0.1:P: bind:
// address already in use"), for TCP and UDP; closing a hostPort frees the
// port for the next one.
func TestHostPortInUse(t *testing.T) {
	n := newNet(t, Config{})
	addPod(t, n, "default", "a", ipA)

	tcp, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer tcp.Close()
	udp, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer udp.Close()
	for _, c := range []struct {
		proto, family string
		port          int
	}{
		{"TCP", "tcp4", tcp.Addr().(*net.TCPAddr).Port},
		{"UDP", "udp4", udp.LocalAddr().(*net.UDPAddr).Port},
	} {
		addr := netip.AddrPortFrom(lo, uint16(c.port))
		_, err := n.ListenHostPort(addr, c.proto, ipA, 80)
		if !errors.Is(err, syscall.EADDRINUSE) {
			t.Errorf("%s hostPort %s in use: %v, want EADDRINUSE", c.proto, addr, err)
			continue
		}
		if want := fmt.Sprintf("listen %s %s: bind: address already in use", c.family, addr); !strings.HasSuffix(err.Error(), want) {
			t.Errorf("%s hostPort error %q, want it to end in %q", c.proto, err, want)
		}
		var op *net.OpError
		if !errors.As(err, &op) || op.Op != "listen" || op.Net != c.family {
			t.Errorf("%s hostPort error %#v is no listen OpError of %s", c.proto, op, c.family)
		}
	}

	// An IPv4-mapped address binds IPv4.
	hp, err := n.ListenHostPort(netip.MustParseAddrPort("[::ffff:127.0.0.1]:0"), "TCP", ipA, 80)
	if err != nil {
		t.Fatal(err)
	}
	got := hp.(interface{ Addr() net.Addr }).Addr().(*net.TCPAddr).AddrPort()
	if !got.Addr().Is4() || got.Addr() != lo {
		t.Errorf("IPv4-mapped hostPort listens on %s", got)
	}
	// Closed, its port is free for the next hostPort.
	hp.Close()
	hp2, err := n.ListenHostPort(got, "TCP", ipA, 80)
	if err != nil {
		t.Fatalf("port %d not free after its hostPort closed: %v", got.Port(), err)
	}
	hp2.Close()
}
