package v1

import (
	"context"

	scheme "github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	rest "k8s.io/client-go/rest"
)

// PodExpansion is what client-go's pod client has beyond the generated
// methods, as far as wasmpod uses it: the binding, eviction and log
// subresources.
type PodExpansion interface {
	Bind(ctx context.Context, binding *corev1.Binding, opts metav1.CreateOptions) error
	EvictV1(ctx context.Context, eviction *policyv1.Eviction) error
	GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request
}

// Bind posts binding to the pod's binding subresource.
func (c *pods) Bind(ctx context.Context, binding *corev1.Binding, opts metav1.CreateOptions) error {
	return c.GetClient().Post().Namespace(c.GetNamespace()).Resource("pods").Name(binding.Name).
		VersionedParams(&opts, scheme.ParameterCodec).SubResource("binding").
		Body(binding).Do(ctx).Error()
}

// EvictV1 posts a policy/v1 Eviction to the pod's eviction subresource.
func (c *pods) EvictV1(ctx context.Context, eviction *policyv1.Eviction) error {
	return c.GetClient().Post().Namespace(eviction.Namespace).Resource("pods").
		Name(eviction.Name).SubResource("eviction").Body(eviction).Do(ctx).Error()
}

// GetLogs builds the request for the pod's log subresource.
func (c *pods) GetLogs(name string, opts *corev1.PodLogOptions) *rest.Request {
	return c.GetClient().Get().Namespace(c.GetNamespace()).Name(name).Resource("pods").
		SubResource("log").VersionedParams(opts, scheme.ParameterCodec)
}
