package apiserver

// services.go is the Service strategy: upstream defaulting and validation,
// cluster IP allocation from ServiceCIDR and node port allocation from
// NodePortRange.
//
// Allocation contract: the store is the record of what is allocated — an
// IP or node port is taken while a Service holding it exists — so deleting
// a Service (or changing it to a type that holds none) releases its values
// at once, and nothing leaks when a create fails. Creates and updates of
// Services are serialized within the Server (Resource.serialize), and each
// allocation scans the stored Services, so concurrent creates never get
// the same value. (Several API servers over one shared store would need a
// shared allocation record; wasmpod runs one.)
//
// A Service of type LoadBalancer is accepted and gets node ports, but no
// load balancer: status.loadBalancer stays empty (pending), as upstream on
// a cluster without a cloud provider.

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Service address ranges.
var (
	// ServiceCIDR is where cluster IPs come from.
	ServiceCIDR = netip.MustParsePrefix("10.96.0.0/12")
	// KubernetesServiceIP (the first address of ServiceCIDR) is reserved
	// for the "kubernetes" Service: it is given only when requested.
	KubernetesServiceIP = netip.MustParseAddr("10.96.0.1")
)

// The node port range (inclusive), as upstream's default.
const (
	NodePortMin = 30000
	NodePortMax = 32767
)

// SetDefaultsService applies upstream's defaults to a Service spec:
// type ClusterIP, sessionAffinity None, protocol TCP, targetPort = port,
// internalTrafficPolicy Cluster, externalTrafficPolicy Cluster (NodePort
// and LoadBalancer), allocateLoadBalancerNodePorts true, and single-stack
// IPv4 families for Services that get a cluster IP.
func SetDefaultsService(svc *corev1.Service) {
	sp := &svc.Spec
	if sp.Type == "" {
		sp.Type = corev1.ServiceTypeClusterIP
	}
	if sp.SessionAffinity == "" {
		sp.SessionAffinity = corev1.ServiceAffinityNone
	}
	if sp.SessionAffinity == corev1.ServiceAffinityClientIP && (sp.SessionAffinityConfig == nil || sp.SessionAffinityConfig.ClientIP == nil || sp.SessionAffinityConfig.ClientIP.TimeoutSeconds == nil) {
		timeout := corev1.DefaultClientIPServiceAffinitySeconds
		sp.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: &timeout}}
	}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.Protocol == "" {
			p.Protocol = corev1.ProtocolTCP
		}
		if p.TargetPort == intstr.FromInt32(0) || p.TargetPort == intstr.FromString("") {
			p.TargetPort = intstr.FromInt32(p.Port)
		}
	}
	if sp.Type == corev1.ServiceTypeExternalName {
		return
	}
	if sp.InternalTrafficPolicy == nil {
		cluster := corev1.ServiceInternalTrafficPolicyCluster
		sp.InternalTrafficPolicy = &cluster
	}
	if (sp.Type == corev1.ServiceTypeNodePort || sp.Type == corev1.ServiceTypeLoadBalancer) && sp.ExternalTrafficPolicy == "" {
		sp.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyCluster
	}
	if sp.Type == corev1.ServiceTypeLoadBalancer && sp.AllocateLoadBalancerNodePorts == nil {
		t := true
		sp.AllocateLoadBalancerNodePorts = &t
	}
	if sp.ClusterIP == "" && len(sp.ClusterIPs) > 0 {
		sp.ClusterIP = sp.ClusterIPs[0]
	}
	if len(sp.IPFamilies) == 0 {
		sp.IPFamilies = []corev1.IPFamily{corev1.IPv4Protocol}
	}
	if sp.IPFamilyPolicy == nil {
		single := corev1.IPFamilyPolicySingleStack
		sp.IPFamilyPolicy = &single
	}
}

func prepareServiceCreate(s *Server, obj runtime.Object) error {
	svc := obj.(*corev1.Service)
	SetDefaultsService(svc)
	svc.Status = corev1.ServiceStatus{}
	return nil
}

func validateService(s *Server, obj runtime.Object) error {
	svc := obj.(*corev1.Service)
	if errs := validateServiceSpec(svc); len(errs) > 0 {
		return invalid("Service", svc.Name, errs)
	}
	if errs := s.allocateService(svc, nil); len(errs) > 0 {
		return invalid("Service", svc.Name, errs)
	}
	return nil
}

// validateServiceUpdate keeps allocated values a client left out (as
// upstream's patchAllocatedValues), refuses changing the cluster IP, and
// allocates what a type change needs.
func validateServiceUpdate(s *Server, obj, old runtime.Object) error {
	svc, o := obj.(*corev1.Service), old.(*corev1.Service)
	SetDefaultsService(svc)
	if needsClusterIP(svc) && needsClusterIP(o) {
		if svc.Spec.ClusterIP == "" && len(svc.Spec.ClusterIPs) == 0 {
			svc.Spec.ClusterIP, svc.Spec.ClusterIPs = o.Spec.ClusterIP, o.Spec.ClusterIPs
		}
		if len(svc.Spec.ClusterIPs) == 0 && svc.Spec.ClusterIP == o.Spec.ClusterIP {
			svc.Spec.ClusterIPs = o.Spec.ClusterIPs
		}
	}
	if needsNodePorts(svc) && needsNodePorts(o) {
		for i := range svc.Spec.Ports {
			p := &svc.Spec.Ports[i]
			if p.NodePort != 0 {
				continue
			}
			for _, op := range o.Spec.Ports {
				if op.Port == p.Port && op.Protocol == p.Protocol {
					p.NodePort = op.NodePort
				}
			}
		}
	}
	errs := validateServiceSpec(svc)
	if needsClusterIP(svc) && needsClusterIP(o) && svc.Spec.ClusterIP != o.Spec.ClusterIP {
		errs = append(errs, field.Invalid(field.NewPath("spec", "clusterIP"), svc.Spec.ClusterIP, "field is immutable"))
	}
	if len(errs) > 0 {
		return invalid("Service", svc.Name, errs)
	}
	if errs := s.allocateService(svc, o); len(errs) > 0 {
		return invalid("Service", svc.Name, errs)
	}
	return nil
}

// needsClusterIP: ClusterIP, NodePort and LoadBalancer Services hold a
// cluster IP (or are headless: "None").
func needsClusterIP(svc *corev1.Service) bool { return svc.Spec.Type != corev1.ServiceTypeExternalName }

// needsNodePorts: NodePort Services, and LoadBalancer Services unless
// allocateLoadBalancerNodePorts is false.
func needsNodePorts(svc *corev1.Service) bool {
	switch svc.Spec.Type {
	case corev1.ServiceTypeNodePort:
		return true
	case corev1.ServiceTypeLoadBalancer:
		return svc.Spec.AllocateLoadBalancerNodePorts == nil || *svc.Spec.AllocateLoadBalancerNodePorts
	}
	return false
}

var supportedServiceTypes = []string{string(corev1.ServiceTypeClusterIP), string(corev1.ServiceTypeExternalName), string(corev1.ServiceTypeLoadBalancer), string(corev1.ServiceTypeNodePort)}

// validateServiceSpec checks a defaulted Service with upstream's rules
// and messages (pkg/apis/core/validation.ValidateService).
func validateServiceSpec(svc *corev1.Service) field.ErrorList {
	var errs field.ErrorList
	sp := &svc.Spec
	specPath := field.NewPath("spec")
	for _, msg := range validation.IsDNS1035Label(svc.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), svc.Name, msg))
	}
	typeOK := false
	for _, t := range supportedServiceTypes {
		typeOK = typeOK || string(sp.Type) == t
	}
	if !typeOK {
		errs = append(errs, field.NotSupported(specPath.Child("type"), sp.Type, supportedServiceTypes))
	}
	headless := sp.ClusterIP == corev1.ClusterIPNone
	if sp.Type == corev1.ServiceTypeExternalName {
		if sp.ClusterIP != "" || len(sp.ClusterIPs) > 0 {
			errs = append(errs, field.Forbidden(specPath.Child("clusterIPs"), "may not be set for ExternalName services"))
		}
		if sp.ExternalName == "" {
			errs = append(errs, field.Required(specPath.Child("externalName"), ""))
		} else {
			name := strings.TrimSuffix(sp.ExternalName, ".")
			for _, msg := range validation.IsDNS1123Subdomain(name) {
				errs = append(errs, field.Invalid(specPath.Child("externalName"), sp.ExternalName, msg))
			}
		}
	} else if len(sp.Ports) == 0 && !headless {
		errs = append(errs, field.Required(specPath.Child("ports"), ""))
	}
	if sp.ClusterIP != "" && !headless {
		if _, err := netip.ParseAddr(sp.ClusterIP); err != nil {
			errs = append(errs, field.Invalid(specPath.Child("clusterIP"), sp.ClusterIP, "must be empty, 'None', or a valid IP address"))
		}
	}
	if len(sp.ClusterIPs) > 0 && sp.ClusterIP != "" && sp.ClusterIPs[0] != sp.ClusterIP {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), sp.ClusterIPs[0], "must match `spec.clusterIP`"))
	}
	if len(sp.ClusterIPs) > 1 {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs"), sp.ClusterIPs, "this cluster is not configured for dual-stack services"))
	}
	for i, f := range sp.IPFamilies {
		if f != corev1.IPv4Protocol {
			errs = append(errs, field.Invalid(specPath.Child("ipFamilies").Index(i), f, "not configured on this cluster"))
		}
	}
	if p := sp.IPFamilyPolicy; p != nil && *p == corev1.IPFamilyPolicyRequireDualStack {
		errs = append(errs, field.Invalid(specPath.Child("ipFamilyPolicy"), *p, "this cluster is not configured for dual-stack services"))
	}
	if headless && (sp.Type == corev1.ServiceTypeNodePort || sp.Type == corev1.ServiceTypeLoadBalancer) {
		errs = append(errs, field.Invalid(specPath.Child("clusterIPs").Index(0), sp.ClusterIP, fmt.Sprintf("may not be set to 'None' for %s services", sp.Type)))
	}

	portsPath := specPath.Child("ports")
	names := map[string]bool{}
	type key struct {
		proto corev1.Protocol
		port  int32
	}
	seen, nodePorts := map[key]bool{}, map[key]bool{}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		pp := portsPath.Index(i)
		if len(sp.Ports) > 1 && p.Name == "" {
			errs = append(errs, field.Required(pp.Child("name"), ""))
		} else if p.Name != "" {
			for _, msg := range validation.IsDNS1123Label(p.Name) {
				errs = append(errs, field.Invalid(pp.Child("name"), p.Name, msg))
			}
			if names[p.Name] {
				errs = append(errs, field.Duplicate(pp.Child("name"), p.Name))
			}
			names[p.Name] = true
		}
		for _, msg := range validation.IsValidPortNum(int(p.Port)) {
			errs = append(errs, field.Invalid(pp.Child("port"), p.Port, msg))
		}
		if p.Protocol != corev1.ProtocolTCP && p.Protocol != corev1.ProtocolUDP {
			errs = append(errs, field.NotSupported(pp.Child("protocol"), p.Protocol, []string{string(corev1.ProtocolTCP), string(corev1.ProtocolUDP)}))
		}
		switch p.TargetPort.Type {
		case intstr.Int:
			for _, msg := range validation.IsValidPortNum(p.TargetPort.IntValue()) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort.IntVal, msg))
			}
		case intstr.String:
			for _, msg := range validation.IsValidPortName(p.TargetPort.StrVal) {
				errs = append(errs, field.Invalid(pp.Child("targetPort"), p.TargetPort.StrVal, msg))
			}
		}
		k := key{p.Protocol, p.Port}
		if seen[k] {
			errs = append(errs, field.Duplicate(pp, fmt.Sprintf("%d/%s", p.Port, p.Protocol)))
		}
		seen[k] = true
		if p.NodePort != 0 {
			if sp.Type != corev1.ServiceTypeNodePort && sp.Type != corev1.ServiceTypeLoadBalancer {
				errs = append(errs, field.Forbidden(pp.Child("nodePort"), fmt.Sprintf("may not be used when `type` is '%s'", sp.Type)))
			} else if p.NodePort < NodePortMin || p.NodePort > NodePortMax {
				errs = append(errs, field.Invalid(pp.Child("nodePort"), p.NodePort,
					fmt.Sprintf("provided port is not in the valid range. The range of valid ports is %d-%d", NodePortMin, NodePortMax)))
			}
			nk := key{p.Protocol, p.NodePort}
			if nodePorts[nk] {
				errs = append(errs, field.Duplicate(pp.Child("nodePort"), p.NodePort))
			}
			nodePorts[nk] = true
		}
	}
	if len(sp.Selector) > 0 {
		errs = append(errs, metav1validation.ValidateLabels(sp.Selector, specPath.Child("selector"))...)
	}
	switch sp.SessionAffinity {
	case corev1.ServiceAffinityNone, corev1.ServiceAffinityClientIP:
	default:
		errs = append(errs, field.NotSupported(specPath.Child("sessionAffinity"), sp.SessionAffinity, []string{string(corev1.ServiceAffinityClientIP), string(corev1.ServiceAffinityNone)}))
	}
	if c := sp.SessionAffinityConfig; c != nil && c.ClientIP != nil && c.ClientIP.TimeoutSeconds != nil {
		if t := *c.ClientIP.TimeoutSeconds; t <= 0 || t > maxClientIPAffinitySeconds {
			errs = append(errs, field.Invalid(specPath.Child("sessionAffinityConfig", "clientIP", "timeoutSeconds"), t,
				fmt.Sprintf("must be greater than 0 and less than or equal to %d", maxClientIPAffinitySeconds)))
		}
	}
	if p := sp.InternalTrafficPolicy; p != nil && *p != corev1.ServiceInternalTrafficPolicyCluster && *p != corev1.ServiceInternalTrafficPolicyLocal {
		errs = append(errs, field.NotSupported(specPath.Child("internalTrafficPolicy"), *p, []string{string(corev1.ServiceInternalTrafficPolicyCluster), string(corev1.ServiceInternalTrafficPolicyLocal)}))
	}
	if p := sp.ExternalTrafficPolicy; p != "" {
		if sp.Type != corev1.ServiceTypeNodePort && sp.Type != corev1.ServiceTypeLoadBalancer {
			errs = append(errs, field.Invalid(specPath.Child("externalTrafficPolicy"), p, "may only be set when `type` is 'NodePort' or 'LoadBalancer'"))
		} else if p != corev1.ServiceExternalTrafficPolicyCluster && p != corev1.ServiceExternalTrafficPolicyLocal {
			errs = append(errs, field.NotSupported(specPath.Child("externalTrafficPolicy"), p, []string{string(corev1.ServiceExternalTrafficPolicyCluster), string(corev1.ServiceExternalTrafficPolicyLocal)}))
		}
	}
	return errs
}

// allocateService gives svc its cluster IP and node ports, checking the
// requested ones; old is the stored Service on update (its own values are
// not in use by others). It runs under Resource.serialize.
func (s *Server) allocateService(svc, old *corev1.Service) field.ErrorList {
	r := s.resources["/services"]
	kvs, _, err := s.store.List(context.Background(), r.prefix(""))
	if err != nil {
		return field.ErrorList{field.InternalError(field.NewPath("spec"), fmt.Errorf("listing services: %w", err))}
	}
	usedIPs := map[netip.Addr]bool{}
	usedPorts := map[int32]bool{}
	for _, kv := range kvs {
		o, err := s.decode(r, kv)
		if err != nil {
			continue
		}
		other := o.(*corev1.Service)
		if other.Namespace == svc.Namespace && other.Name == svc.Name {
			continue // this Service itself (on update)
		}
		if ip, err := netip.ParseAddr(other.Spec.ClusterIP); err == nil {
			usedIPs[ip] = true
		}
		for _, p := range other.Spec.Ports {
			if p.NodePort != 0 {
				usedPorts[p.NodePort] = true
			}
		}
	}
	var errs field.ErrorList
	sp := &svc.Spec
	if needsClusterIP(svc) && sp.ClusterIP != corev1.ClusterIPNone {
		ipPath := field.NewPath("spec", "clusterIP")
		if sp.ClusterIP == "" {
			ip, ok := firstFreeIP(usedIPs)
			if !ok {
				errs = append(errs, field.InternalError(ipPath, fmt.Errorf("failed to allocate a serviceIP: range is full")))
			}
			sp.ClusterIP = ip.String()
		} else if ip, err := netip.ParseAddr(sp.ClusterIP); err == nil {
			switch {
			case !ServiceCIDR.Contains(ip) || ip == ServiceCIDR.Addr() || ip == lastAddr(ServiceCIDR):
				errs = append(errs, field.Invalid(ipPath, sp.ClusterIP,
					fmt.Sprintf("provided IP is not in the valid range. The range of valid IPs is %s", ServiceCIDR)))
			case usedIPs[ip]:
				errs = append(errs, field.Invalid(ipPath, sp.ClusterIP, "provided IP is already allocated"))
			}
			sp.ClusterIP = ip.String()
		}
	}
	if needsClusterIP(svc) && sp.ClusterIP != "" {
		sp.ClusterIPs = []string{sp.ClusterIP}
	}
	if !needsNodePorts(svc) {
		return errs
	}
	mine := map[int32]bool{}
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort == 0 {
			continue
		}
		if usedPorts[p.NodePort] {
			errs = append(errs, field.Invalid(field.NewPath("spec", "ports").Index(i).Child("nodePort"), p.NodePort, "provided port is already allocated"))
		}
		mine[p.NodePort] = true
	}
	next := int32(NodePortMin)
	for i := range sp.Ports {
		p := &sp.Ports[i]
		if p.NodePort != 0 {
			continue
		}
		for next <= NodePortMax && (usedPorts[next] || mine[next]) {
			next++
		}
		if next > NodePortMax {
			errs = append(errs, field.InternalError(field.NewPath("spec", "ports").Index(i).Child("nodePort"), fmt.Errorf("failed to allocate a nodePort: range is full")))
			break
		}
		p.NodePort = next
		mine[next] = true
	}
	return errs
}

// firstFreeIP is the lowest free address of ServiceCIDR, skipping the
// network address, KubernetesServiceIP and the broadcast address.
func firstFreeIP(used map[netip.Addr]bool) (netip.Addr, bool) {
	last := lastAddr(ServiceCIDR)
	for ip := KubernetesServiceIP.Next(); ip.IsValid() && ip.Less(last); ip = ip.Next() {
		if !used[ip] {
			return ip, true
		}
	}
	return netip.Addr{}, false
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	host := 32 - p.Bits()
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
	v |= (1 << host) - 1
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// maxClientIPAffinitySeconds is upstream's limit on
// sessionAffinityConfig.clientIP.timeoutSeconds (one day).
const maxClientIPAffinitySeconds = 86400
