package fake

import (
	v1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	testing "k8s.io/client-go/testing"
)

var events = v1.SchemeGroupVersion.WithResource("events")

// CreateWithEventNamespace records a create of event in its own namespace.
func (c *fakeEvents) CreateWithEventNamespace(event *v1.Event) (*v1.Event, error) {
	obj, err := c.Fake.Invokes(testing.NewCreateAction(events, event.Namespace, event), event)
	if obj == nil {
		return nil, err
	}
	return obj.(*v1.Event), err
}

// UpdateWithEventNamespace records an update of event in its own namespace.
func (c *fakeEvents) UpdateWithEventNamespace(event *v1.Event) (*v1.Event, error) {
	obj, err := c.Fake.Invokes(testing.NewUpdateAction(events, event.Namespace, event), event)
	if obj == nil {
		return nil, err
	}
	return obj.(*v1.Event), err
}

// PatchWithEventNamespace records a strategic merge patch of event in its
// own namespace.
func (c *fakeEvents) PatchWithEventNamespace(event *v1.Event, data []byte) (*v1.Event, error) {
	action := testing.NewPatchAction(events, event.Namespace, event.Name, types.StrategicMergePatchType, data)
	obj, err := c.Fake.Invokes(action, event)
	if obj == nil {
		return nil, err
	}
	return obj.(*v1.Event), err
}
