package network

// stats.go: a pod's network counters, as the kubelet's Summary reads an
// interface's (rxBytes/txBytes) and Prometheus exposes them per pod
// (pods/metrics.go: wasmpod_pod_network_*). Only traffic that leaves the
// pod's loopback is counted, as the kubelet reports the pod's eth0, not lo:
// bytes its containers read from and wrote to stream sockets connected to
// another address, and datagrams received from or sent to one; the stream
// connections it opened (outbound) and accepted (inbound), and those open
// now. The counters are atomics bumped on the socket calls' paths.

import (
	"net/netip"
	"sync/atomic"
)

// Stats are a pod network's counters since it was added.
type Stats struct {
	RxBytes, TxBytes uint64
	// ConnectionsIn and ConnectionsOut count the stream connections the pod
	// accepted and opened; OpenConnections are those not yet closed.
	ConnectionsIn, ConnectionsOut uint64
	OpenConnections               int64
}

// StatsReader is implemented by the PodNets of a Network.
type StatsReader interface {
	NetStats() Stats
}

type podCounters struct {
	rx, tx         atomic.Uint64
	connIn, conOut atomic.Uint64
	open           atomic.Int64
}

// NetStats implements StatsReader.
func (p *pod) NetStats() Stats {
	c := &p.stats
	return Stats{RxBytes: c.rx.Load(), TxBytes: c.tx.Load(), ConnectionsIn: c.connIn.Load(),
		ConnectionsOut: c.conOut.Load(), OpenConnections: c.open.Load()}
}

// counted: whether traffic with peer is the pod's (not its loopback).
func counted(peer netip.AddrPort) bool {
	return peer.IsValid() && !isLoopback(peer.Addr())
}

// countRx and countTx add n bytes exchanged with peer to s's pod.
func (s *sock) countRx(n int, peer netip.AddrPort) {
	if n > 0 && s.pod != nil && counted(peer) {
		s.pod.stats.rx.Add(uint64(n))
	}
}

func (s *sock) countTx(n int, peer netip.AddrPort) {
	if n > 0 && s.pod != nil && counted(peer) {
		s.pod.stats.tx.Add(uint64(n))
	}
}

// countConn counts s, a pod's stream socket now connected to peer (s.mu
// held), as an open connection until it closes.
func (s *sock) countConn(inbound bool, peer netip.AddrPort) {
	if s.pod == nil || s.connCounted || !counted(peer) {
		return
	}
	s.connCounted = true
	if inbound {
		s.pod.stats.connIn.Add(1)
	} else {
		s.pod.stats.conOut.Add(1)
	}
	s.pod.stats.open.Add(1)
}
