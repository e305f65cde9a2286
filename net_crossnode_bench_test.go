package wasmpod

// BenchmarkCrossNodePodToPodTCP: Go guests (netbench) on two nodes' pod
// networks joined by the agents' tunnel (network/overlay: mTLS + yamux over
// loopback), against the same guests on one node's network and host-native
// Go over loopback TCP, in the same run (issue 15 §5's benchmark).

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"fmt"
	"math/big"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/client-go/util/cert"

	"github.com/wasmpod/wasmpod/network"
	"github.com/wasmpod/wasmpod/network/overlay"
)

// crossNodeEnv is netEnv's engine and network (node a, 10.244.1.0/24)
// with a second node's network (b, 10.244.2.0/24), linked by overlays.
func crossNodeEnv(b *testing.B) (e *netEnv, netB *network.Network) {
	e = newNetEnv(b)
	netB = network.New(network.Config{DenyEgress: true})
	b.Cleanup(func() { netB.Close() })
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		b.Fatal(err)
	}
	caCert, err := cert.NewSelfSignedCACert(cert.Config{CommonName: "bench-ca"}, caKey)
	if err != nil {
		b.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	var peers []overlay.Peer
	var ovs []*overlay.Overlay
	for i, nw := range []*network.Network{e.Net, netB} {
		name := fmt.Sprintf("node-%d", i+1)
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		der, err := x509.CreateCertificate(rand.Reader, &x509.Certificate{SerialNumber: big.NewInt(int64(i + 2)),
			Subject:   pkix.Name{CommonName: "system:node:" + name, Organization: []string{"system:nodes"}},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), KeyUsage: x509.KeyUsageDigitalSignature,
			ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}, caCert, key.Public(), caKey)
		if err != nil {
			b.Fatal(err)
		}
		pair := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		ov, err := overlay.New(overlay.Config{Network: nw, NodeName: name, Certificate: pair, CA: pool, Listener: ln})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { ov.Close() })
		ovs = append(ovs, ov)
		peers = append(peers, overlay.Peer{Node: name, Addr: ln.Addr().(*net.TCPAddr).AddrPort(),
			PodCIDRs: []netip.Prefix{netip.MustParsePrefix(fmt.Sprintf("10.244.%d.0/24", i+1))}})
	}
	for _, ov := range ovs {
		if err := ov.SetPeers(peers); err != nil {
			b.Fatal(err)
		}
	}
	return e, netB
}

func addBenchPod(b *testing.B, nw *network.Network, name, ip string) network.PodNet {
	pn, err := nw.AddPod(network.PodInfo{Namespace: "default", Name: name, Hostname: name, IP: netip.MustParseAddr(ip)})
	if err != nil {
		b.Fatal(err)
	}
	return pn
}

// BenchmarkCrossNodePodToPodTCP reports the cross-node figures and
// x-in-node / x-loopback: the cross-node figure divided by the in-node
// one and by loopback's (throughput: higher is better; connect: lower is
// better).
func BenchmarkCrossNodePodToPodTCP(b *testing.B) {
	b.Run("throughput", func(b *testing.B) {
		e, netB := crossNodeEnv(b)
		cli := e.Pod("client", "10.244.1.10")
		local := e.Pod("server-a", "10.244.1.11")
		remote := addBenchPod(b, netB, "server-b", "10.244.2.10")
		e.start("server-b/sink", remote, "sink", ":7000")
		e.start("server-a/sink", local, "sink", ":7000")
		total := b.N * netStreamBytes
		args := func(dst string) []string {
			return []string{"stream", dst + ":7000", strconv.Itoa(total), strconv.Itoa(netChunk)}
		}
		c := e.start("client/stream-b", cli, args("10.244.2.10")...)
		b.SetBytes(netStreamBytes)
		b.ResetTimer()
		crossTime, out := c.run()
		b.StopTimer()
		if !strings.Contains(out, fmt.Sprintf("sent %d", total)) {
			b.Fatalf("client output:\n%s", out)
		}
		localTime, _ := e.start("client/stream-a", cli, args("10.244.1.11")...).run()
		nativeTotal := max(total, 4*netStreamBytes)
		native := nativeStream(b, nativeTotal)
		mbps := func(bytes int, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }
		cross, in, loop := mbps(total, crossTime), mbps(total, localTime), mbps(nativeTotal, native)
		b.ReportMetric(cross, "guest-MB/s")
		b.ReportMetric(in, "in-node-MB/s")
		b.ReportMetric(loop, "loopback-MB/s")
		b.ReportMetric(cross/in, "x-in-node")
		b.ReportMetric(cross/loop, "x-loopback")
	})
	b.Run("connect", func(b *testing.B) {
		e, netB := crossNodeEnv(b)
		cli := e.Pod("client", "10.244.1.10")
		local := e.Pod("server-a", "10.244.1.11")
		remote := addBenchPod(b, netB, "server-b", "10.244.2.10")
		e.start("server-b/closer", remote, "closer", ":7000")
		e.start("server-a/closer", local, "closer", ":7000")
		n := b.N * netConnects
		c := e.start("client/connect-b", cli, "connect", "10.244.2.10:7000", strconv.Itoa(n))
		b.ResetTimer()
		crossTime, out := c.run()
		b.StopTimer()
		if !strings.Contains(out, fmt.Sprintf("connects %d", n)) {
			b.Fatalf("client output:\n%s", out)
		}
		crossDial := outputNs(b, out, "dial-ns")
		localTime, lout := e.start("client/connect-a", cli, "connect", "10.244.1.11:7000", strconv.Itoa(n)).run()
		localDial := outputNs(b, lout, "dial-ns")
		native, nativeDial := nativeConnect(b, netConnects) // bounded: TIME_WAIT sockets
		per := func(d time.Duration, k int) float64 { return float64(d.Nanoseconds()) / float64(k) }
		crossNs, inNs, loopNs := per(crossTime, n), per(localTime, n), per(native, netConnects)
		b.ReportMetric(crossNs, "ns/connect")
		b.ReportMetric(inNs, "in-node-ns/connect")
		b.ReportMetric(loopNs, "loopback-ns/connect")
		b.ReportMetric(crossNs/inNs, "x-in-node")
		b.ReportMetric(crossNs/loopNs, "x-loopback")
		b.ReportMetric(per(crossDial, n)/per(localDial, n), "dial-x-in-node")
		b.ReportMetric(per(crossDial, n)/per(nativeDial, netConnects), "dial-x-loopback")
	})
}
