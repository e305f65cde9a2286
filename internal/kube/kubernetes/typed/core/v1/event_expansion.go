package v1

import (
	"context"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
)

// EventExpansion is client-go's event sink over this client, for
// k8s.io/client-go/tools/record's EventBroadcaster.StartRecordingToSink:
// each call writes the event into its own namespace, whatever namespace the
// client was made for.
type EventExpansion interface {
	CreateWithEventNamespace(event *corev1.Event) (*corev1.Event, error)
	UpdateWithEventNamespace(event *corev1.Event) (*corev1.Event, error)
	PatchWithEventNamespace(event *corev1.Event, data []byte) (*corev1.Event, error)
}

func (c *events) CreateWithEventNamespace(event *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.GetClient().Post().Namespace(event.Namespace).Resource("events").
		Body(event).Do(context.TODO()).Into(out)
	return out, err
}

func (c *events) UpdateWithEventNamespace(event *corev1.Event) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.GetClient().Put().Namespace(event.Namespace).Resource("events").Name(event.Name).
		Body(event).Do(context.TODO()).Into(out)
	return out, err
}

func (c *events) PatchWithEventNamespace(event *corev1.Event, data []byte) (*corev1.Event, error) {
	out := &corev1.Event{}
	err := c.GetClient().Patch(types.StrategicMergePatchType).Namespace(event.Namespace).
		Resource("events").Name(event.Name).Body(data).Do(context.TODO()).Into(out)
	return out, err
}

// EventSinkImpl adapts an event client to record.EventSink (the method set
// client-go's typed core/v1 EventSinkImpl has).
type EventSinkImpl struct{ Interface EventInterface }

func (e *EventSinkImpl) Create(event *corev1.Event) (*corev1.Event, error) {
	return e.Interface.CreateWithEventNamespace(event)
}

func (e *EventSinkImpl) Update(event *corev1.Event) (*corev1.Event, error) {
	return e.Interface.UpdateWithEventNamespace(event)
}

func (e *EventSinkImpl) Patch(event *corev1.Event, data []byte) (*corev1.Event, error) {
	return e.Interface.PatchWithEventNamespace(event, data)
}
