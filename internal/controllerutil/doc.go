// Package controllerutil holds what several workload controllers share, as
// upstream's pkg/controller (controller_utils.go, controller_ref_manager.go)
// does for kube-controller-manager:
//
//   - ClaimPods: the controller-ref manager. A controller claims the active
//     pods of its namespace: pods it controls that still match its selector
//     are its; orphans (no controller ownerReference) that match are
//     adopted with a `controller: true, blockOwnerDeletion: true`
//     ownerReference (after re-reading the owner, so a deleted or re-created
//     owner never adopts); pods it controls that stopped matching are
//     released (its ownerReference removed). Both are strategic merge
//     patches that carry the pod's UID as a precondition.
//   - Expectations: per-controller counts of creations and deletions in
//     flight (deletions tracked per pod key), so a controller does not act
//     again on a stale cache; they expire after 5 minutes on the injected
//     clock.
//   - ActivePods ordering (ActivePodsWithRanks): which pods go first when
//     scaling down.
//   - PodFromTemplate / PodControl: a pod made from a pod template, named
//     <owner>-<5 random chars> by generateName, with the controller's
//     SuccessfulCreate/FailedCreate/SuccessfulDelete/FailedDelete events.
//   - SlowStartBatch: creations in batches of 1, 2, 4, … that stop at the
//     first batch with an error.
package controllerutil
