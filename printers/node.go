package printers

// The node.k8s.io kinds' columns and cells, as upstream's AddHandlers and
// printRuntimeClass (k8s.io/kubernetes/pkg/printers/internalversion).

import (
	nodev1 "k8s.io/api/node/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func init() {
	register(nodev1.SchemeGroupVersion.WithKind("RuntimeClass"), &nodev1.RuntimeClassList{}, []metav1.TableColumnDefinition{
		nameColumn,
		{Name: "Handler", Type: "string", Description: "RuntimeClass Handler"},
		ageColumn,
	}, printRuntimeClass)
}

func printRuntimeClass(rc *nodev1.RuntimeClass, o *options) []any {
	return []any{rc.Name, rc.Handler, translateTimestampSince(rc.CreationTimestamp, o.now)}
}
