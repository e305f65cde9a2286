// Package kubeutil holds small helpers for client-go informers shared by the
// controllers, the node agent and the control plane.
package kubeutil

import "k8s.io/client-go/tools/cache"

// Object returns an informer event's object as a T. A deletion the
// informer missed arrives as a cache.DeletedFinalStateUnknown; its last
// known object is used.
func Object[T any](o any) (T, bool) {
	if t, ok := o.(cache.DeletedFinalStateUnknown); ok {
		o = t.Obj
	}
	v, ok := o.(T)
	return v, ok
}

// Typed returns handlers that call add, update (with the new object) or
// del with the event's object when it is a T.
func Typed[T any](add, update, del func(T)) cache.ResourceEventHandlerFuncs {
	on := func(fn func(T)) func(any) {
		return func(o any) {
			if v, ok := Object[T](o); ok {
				fn(v)
			}
		}
	}
	upd := on(update)
	return cache.ResourceEventHandlerFuncs{AddFunc: on(add), UpdateFunc: func(_, o any) { upd(o) }, DeleteFunc: on(del)}
}

// OnEvery returns handlers that call fn with the object of every add,
// update (the new object) and delete event whose object is a T.
func OnEvery[T any](fn func(T)) cache.ResourceEventHandlerFuncs { return Typed(fn, fn, fn) }
