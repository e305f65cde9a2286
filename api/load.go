package api

import (
	"fmt"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// LoadPods defaults and validates every Pod of docs, for a command that
// runs pods (verb names it in messages, e.g. "wasmpod run"; "" says "here").
// Documents of any other kind are refused. It returns the Pods, in order,
// when all are valid; otherwise nil and an ErrorList with one entry per
// problem. The Pods are the documents' own objects, defaulted in place.
func LoadPods(docs []Document, opts Options, verb string) ([]*corev1.Pod, error) {
	where := "here"
	if verb != "" {
		where = fmt.Sprintf("by %q", verb)
	}
	var pods []*corev1.Pod
	var errs ErrorList
	seen := map[string]bool{} // namespace/name of the Pods so far
	for i := range docs {
		doc := &docs[i]
		pod, ok := doc.Object.(*corev1.Pod)
		if !ok {
			errs = append(errs, &Error{Source: doc.Source, Index: doc.Index, Item: doc.Item, Line: doc.Line,
				Detail: fmt.Sprintf("kind %s is not supported %s (only Pod)", kindOf(doc), where)})
			continue
		}
		SetDefaultsPod(pod)
		fieldErrs := ValidatePod(pod, opts)
		if key := pod.Namespace + "/" + pod.Name; pod.Name != "" && seen[key] {
			fieldErrs = append(fieldErrs, field.Duplicate(field.NewPath("metadata", "name"), pod.Name))
		} else {
			seen[key] = true
		}
		for _, fe := range fieldErrs {
			errs = append(errs, fromField(doc, "Pod", pod.Name, fe))
		}
		if len(fieldErrs) == 0 {
			pods = append(pods, pod)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return pods, nil
}

func kindOf(doc *Document) string {
	if k := doc.Kind(); k != "" {
		return k
	}
	return fmt.Sprintf("%T", doc.Object)
}
