package fake

import (
	"context"

	v1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	restclient "k8s.io/client-go/rest"
	testing "k8s.io/client-go/testing"
)

// Bind records a create of the pod's binding subresource.
func (c *fakePods) Bind(ctx context.Context, binding *v1.Binding, opts metav1.CreateOptions) error {
	action := testing.NewCreateSubresourceActionWithOptions(v1.SchemeGroupVersion.WithResource("pods"), binding.Name, "binding", binding.Namespace, binding, opts)
	_, err := c.Fake.Invokes(action, binding)
	return err
}

// EvictV1 records a create of the pod's eviction subresource.
func (c *fakePods) EvictV1(ctx context.Context, eviction *policyv1.Eviction) error {
	action := testing.NewCreateSubresourceAction(v1.SchemeGroupVersion.WithResource("pods"), eviction.Name, "eviction", eviction.Namespace, eviction)
	_, err := c.Fake.Invokes(action, eviction)
	return err
}

// GetLogs records a get of the pod's log subresource; the request it
// returns has no server to go to.
func (c *fakePods) GetLogs(name string, opts *v1.PodLogOptions) *restclient.Request {
	action := testing.NewGetSubresourceAction(v1.SchemeGroupVersion.WithResource("pods"), c.Namespace(), "log", name)
	_, _ = c.Fake.Invokes(action, &v1.Pod{})
	return &restclient.Request{}
}
