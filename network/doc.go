// Package network is wasmpod's in-process virtual network: the fabric that
// every pod of one process shares (all node agents of a process use one
// *Network).
//
// Contract:
//
//   - Each pod (AddPod) has one IP and one port space per protocol, shared by
//     all its containers: binding 0.0.0.0, the pod IP or any 127.0.0.0/8
//     address occupies the pod's port, and a second bind of the same port
//     fails with EADDRINUSE until the first socket is closed. A listener bound
//     to a loopback address is reachable only from its own pod (and from
//     DialPod); one bound to the pod IP only through the pod IP.
//   - TCP runs in userspace: a connection is a pair of bounded ring buffers
//     (Config.BufferSize per direction). Connects inside the fabric complete at
//     once (Connect returns nil) or fail at once (ECONNREFUSED when there is no
//     listener). When the listener's accept queue is full the connect waits
//     (EINPROGRESS; Writable once an accept makes room, ECONNREFUSED in
//     SO_ERROR if the listener closes first), as Linux delays it rather than
//     refusing it; a connection from the host side (hostPort, NodePort,
//     DialPod) is refused at once instead. Peers see real pod IPs.
//   - Sockets are non-blocking; every error is a syscall.Errno. Poll reports the
//     events that hold now and a channel closed at the next state change of the
//     socket (replace-on-change), so pollers never busy-wait.
//   - Services (SetService) are virtual IPs in Config.ServiceCIDR: each TCP
//     connection (and each UDP datagram) to ClusterIP:port goes to one ready
//     endpoint, round robin; ECONNREFUSED when there is none. The client sees
//     the VIP as its peer, the server sees the client pod's IP. A ClusterIP
//     that no Service holds gives EHOSTUNREACH, and so does an address in
//     Config.PodCIDRs that no pod holds.
//   - DNS (PodNet.Lookup) follows the Kubernetes DNS specification with the
//     search path <ns>.svc.<domain>, svc.<domain>, <domain> and ndots 5.
//     Names outside the cluster go to the host resolver only when egress is
//     allowed; otherwise the error wraps ErrNoSuchHost.
//   - UDP: datagram sockets between pods and to Service VIPs (balanced per
//     datagram; replies appear to come from the VIP). Receive queues are
//     bounded (Config.BufferSize bytes, 1024 datagrams); excess datagrams are
//     dropped. UDP egress: a datagram socket that sends to (or connects to)
//     an address outside the cluster gets its own real host UDP socket
//     (Config.ListenPacket, unspecified address, a host-chosen port), opened
//     at that first send or connect; what it receives is queued on the
//     socket from the real sender's address (a connected socket keeps only
//     its peer's). Denied egress is EACCES, as for TCP; host errors are
//     errnos. UDP hostPorts and NodePorts are real host UDP sockets: each
//     host client address is a flow (as conntrack keeps one) with its own
//     Config.HostIP address inside the fabric; a NodePort flow picks its
//     endpoint once, through the VIP round robin. The pod's datagrams to
//     that address go back to the client from the host port. A flow expires
//     after 30 s without traffic (Linux conntrack's UDP default); one host
//     socket holds at most 4096 flows, datagrams of further clients are
//     dropped.
//   - After RemovePod, the pod's PodNet refuses new sockets with ENETDOWN.
//   - Egress: a connect to any other address opens a real host socket in the
//     background (Connect returns EINPROGRESS; the result is SO_ERROR). With
//     Config.DenyEgress the connect (or sendto) fails with EACCES, as a
//     "prohibit" route would.
//   - Host side: DialPod connects into a pod as port-forward does (through the
//     pod's loopback); DialFromNode connects to a pod IP as the kubelet's
//     probes do (only listeners on the pod IP or the unspecified address;
//     a Service VIP reaches an endpoint; any other address is
//     EHOSTUNREACH), ListenHostPort maps a real host port to a pod port
//     (hostPort, TCP or UDP), and a Service port with NodePort > 0 gets a
//     real listener (UDP: socket) on Config.HostIP:NodePort; TCP and UDP
//     may share a NodePort number. Traffic coming from the host appears
//     inside the pod as coming from Config.HostIP (DialPod: from 127.0.0.1).
//     A host port binds one address family (tcp4/udp4 for an IPv4 address;
//     "::" stays dual-stack); a port in use is ListenHostPort's error,
//     wrapping the listen's *net.OpError and EADDRINUSE ("listen tcp4
//     127.0.0.1:8080: bind: address already in use"), and nothing is bound.
//   - Host resources are bounded. A pod's socket buffers (stream data
//     written and not yet read, data from the host counting for the
//     receiving pod, and queued datagrams) are charged to its budget
//     (PodInfo.SocketBuffers, default Config.PodSocketBuffers, and
//     PodInfo.Memory when set); stream buffers grow on demand from a
//     guaranteed 4 KiB per direction, and when the budget refuses, the
//     writer's window stays closed (EAGAIN, not Writable) until the peer
//     reads; a datagram past it is dropped. Every connection a hostPort or
//     NodePort listener forwards holds one fd of Config.HostFDs for as long
//     as it lasts; past the budget, past Config.MaxPendingHostConns
//     connections the pod has not accepted, or past the pod listener's
//     backlog, a host connection is closed at once. A failing accept
//     (EMFILE...) backs off (5 ms doubling to 1 s) and never stops the
//     listener.
//   - Close releases every socket, listener and goroutine of the Network.
package network
