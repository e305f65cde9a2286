package apiserver

// node_authz.go: what a node's credential (system:node:<name> in
// system:nodes, bootstrap.go) may do, a subset of kube-apiserver's Node
// authorizer and the system:node role, and what the unauthenticated and
// bootstrap users may do for joining. Anything it does not allow goes on
// to RBAC.
//
// A node may read Nodes, Pods, Services, Endpoints, EndpointSlices,
// RuntimeClasses and Namespaces; write its own Node (and status) and
// Lease; write the status of, and delete, pods bound to it; create and
// patch Events; get the ConfigMaps, Secrets, PersistentVolumeClaims and
// ServiceAccounts its pods reference, and request tokens for those
// ServiceAccounts; create TokenReviews and SubjectAccessReviews (its
// kubelet API's delegated checks); open its own reverse tunnel; read the
// module store (GET /wasmpod/modules/, /wasmpod/tags/). Differences from upstream:
// creates (a Node, a Lease) are not checked by name, which upstream's
// NodeRestriction admission does, and references are found by listing the
// node's pods at each request instead of upstream's graph.

import (
	"context"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	bootstrapapi "k8s.io/cluster-bootstrap/token/api"
)

// nodeName is the node of a node's user, "" for any other user.
func nodeName(u user.Info) string {
	if !inGroup(u, GroupNodes) {
		return ""
	}
	if n, ok := strings.CutPrefix(u.GetName(), NodeUserPrefix); ok {
		return n
	}
	return ""
}

// authorizeJoining decides the requests of joining and of nodes; ok is
// false when it has no opinion (RBAC decides).
func (s *Server) authorizeJoining(ctx context.Context, a authorizer.AttributesRecord) bool {
	// kubeadm's RBAC Role on cluster-info for system:anonymous (and so
	// for everyone).
	if a.ResourceRequest && a.Verb == "get" && a.APIGroup == "" && a.Resource == "configmaps" && a.Subresource == "" &&
		a.Namespace == metav1NamespacePublic && a.Name == bootstrapapi.ConfigMapClusterInfo {
		return true
	}
	if !a.ResourceRequest && a.Path == NodeCredentialPath && inGroup(a.User, bootstrapapi.BootstrapDefaultGroup) {
		return true
	}
	// kubeadm's bindings for bootstrap tokens: system:node-bootstrapper
	// (create, get, list, watch CSRs) and the nodeclient ClusterRole
	// (csr.go approves their node client requests).
	if a.ResourceRequest && a.APIGroup == "certificates.k8s.io" && a.Resource == "certificatesigningrequests" && inGroup(a.User, bootstrapapi.BootstrapDefaultGroup) {
		return a.Subresource == "" && (a.Verb == "create" || a.Verb == "get" || a.Verb == "list" || a.Verb == "watch") ||
			a.Subresource == "nodeclient" && a.Verb == "create"
	}
	node := nodeName(a.User)
	if node == "" {
		return false
	}
	if !a.ResourceRequest {
		// Its own reverse tunnel; reading the module store, from which it
		// pulls wasmpod.local images (nodeagent/modules.go).
		return a.Verb == "get" && (a.Path == TunnelPath+node || strings.HasPrefix(a.Path, ModulesPath) || strings.HasPrefix(a.Path, TagsPath))
	}
	read := a.Verb == "get" || a.Verb == "list" || a.Verb == "watch"
	write := a.Verb == "update" || a.Verb == "patch"
	switch a.APIGroup + "/" + a.Resource {
	case "/nodes":
		return read || a.Verb == "create" || ((write || a.Verb == "delete") && a.Name == node && (a.Subresource == "" || a.Subresource == "status"))
	case "coordination.k8s.io/leases":
		return a.Namespace == "kube-node-lease" && (read || a.Verb == "create" || ((write || a.Verb == "delete") && a.Name == node))
	case "/pods":
		switch {
		case read && a.Subresource == "":
			return true
		case (write && a.Subresource == "status") || (a.Verb == "delete" && a.Subresource == ""):
			p, err := s.Get(ctx, s.resources["/pods"], a.Namespace, a.Name)
			return err == nil && p.(*corev1.Pod).Spec.NodeName == node
		}
	case "certificates.k8s.io/certificatesigningrequests":
		// upstream's system:node role, and the selfnodeclient ClusterRole
		// kubeadm binds to system:nodes (csr.go).
		return (read || a.Verb == "create") && a.Subresource == "" || a.Verb == "create" && a.Subresource == "selfnodeclient"
	case "/events", "events.k8s.io/events":
		return a.Verb == "create" || write
	case "authorization.k8s.io/subjectaccessreviews", "authentication.k8s.io/tokenreviews":
		return a.Verb == "create" // the kubelet API's delegated authn/authz, as the system:node role
	case "/services", "/endpoints", "discovery.k8s.io/endpointslices", "node.k8s.io/runtimeclasses", "/namespaces":
		return read
	case "/configmaps", "/secrets", "/persistentvolumeclaims", "/serviceaccounts":
		if a.Resource == "serviceaccounts" && a.Subresource == "token" && a.Verb == "create" ||
			a.Verb == "get" && a.Subresource == "" {
			return s.nodeReferences(ctx, node, a.Resource, a.Namespace, a.Name)
		}
	}
	return false
}

// nodeReferences: a pod bound to node references the object.
func (s *Server) nodeReferences(ctx context.Context, node, resource, ns, name string) bool {
	obj, err := s.List(ctx, s.resources["/pods"], ns, metav1.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return false
	}
	for i := range obj.(*corev1.PodList).Items {
		if podReferences(&obj.(*corev1.PodList).Items[i], resource, name) {
			return true
		}
	}
	return false
}

// podReferences: pod uses the ConfigMap, Secret, PVC or ServiceAccount
// name (volumes, projected sources, env, envFrom, image pull secrets).
func podReferences(pod *corev1.Pod, resource, name string) bool {
	if resource == "serviceaccounts" {
		sa := pod.Spec.ServiceAccountName
		if sa == "" {
			sa = "default"
		}
		return sa == name
	}
	if resource == "configmaps" && name == rootCAConfigMap {
		return true // the projected ServiceAccount volumes' CA
	}
	if resource == "secrets" {
		for _, r := range pod.Spec.ImagePullSecrets {
			if r.Name == name {
				return true
			}
		}
	}
	for _, v := range pod.Spec.Volumes {
		switch {
		case resource == "configmaps" && v.ConfigMap != nil && v.ConfigMap.Name == name,
			resource == "secrets" && v.Secret != nil && v.Secret.SecretName == name,
			resource == "persistentvolumeclaims" && v.PersistentVolumeClaim != nil && v.PersistentVolumeClaim.ClaimName == name:
			return true
		case v.Projected != nil:
			for _, src := range v.Projected.Sources {
				if resource == "configmaps" && src.ConfigMap != nil && src.ConfigMap.Name == name ||
					resource == "secrets" && src.Secret != nil && src.Secret.Name == name {
					return true
				}
			}
		}
	}
	var all []corev1.Container
	all = append(all, pod.Spec.InitContainers...)
	all = append(all, pod.Spec.Containers...)
	for _, e := range pod.Spec.EphemeralContainers {
		all = append(all, corev1.Container(e.EphemeralContainerCommon))
	}
	for _, c := range all {
		for _, f := range c.EnvFrom {
			if resource == "configmaps" && f.ConfigMapRef != nil && f.ConfigMapRef.Name == name ||
				resource == "secrets" && f.SecretRef != nil && f.SecretRef.Name == name {
				return true
			}
		}
		for _, e := range c.Env {
			if e.ValueFrom == nil {
				continue
			}
			if resource == "configmaps" && e.ValueFrom.ConfigMapKeyRef != nil && e.ValueFrom.ConfigMapKeyRef.Name == name ||
				resource == "secrets" && e.ValueFrom.SecretKeyRef != nil && e.ValueFrom.SecretKeyRef.Name == name {
				return true
			}
		}
	}
	return false
}
