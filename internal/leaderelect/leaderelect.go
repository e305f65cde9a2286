/*
Copyright 2015 The Kubernetes Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Package leaderelect is client-go's tools/leaderelection (v0.37.2) over a
// coordination.k8s.io Lease, as kube-scheduler and kube-controller-manager
// elect their leader, for this module's generated clientset (internal/kube).
//
// It is a port, not an import: client-go's leaderelection and resourcelock
// packages import client-go's whole typed clientset (resourcelock.New takes
// a clientset, leasecandidate.go its informers), which added 10.6 MB
// (+22%) to the release binary; this package adds what the algorithm
// needs. The algorithm is upstream's, line for line (tryAcquireOrRenew,
// acquire, renew, release): a candidate takes the Lease when its
// holderIdentity is empty or when it has not seen the record change for
// leaseDurationSeconds (measured on its own clock from when it observed
// the last change, so clocks need not agree); the leader renews every
// RetryPeriod and stops leading when it could not renew within
// RenewDeadline.
//
// Left out: coordinated leader election (LeaseCandidate, Strategy,
// PreferredHolder), metrics and the healthz adaptor. Changed: Run waits
// for OnStartedLeading to return (the components it started have stopped)
// before it releases the Lease (ReleaseOnCancel) and returns, so that a
// graceful handover never has two leaders' components running at once;
// upstream releases first and lets the process exit. Clock is
// configurable.
package leaderelect

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	typedcoordinationv1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/coordination/v1"
)

// JitterFactor is the jitter of the candidates' retries, as upstream.
const JitterFactor = 1.2

// Record is the election record a Lease's spec holds
// (resourcelock.LeaderElectionRecord).
type Record struct {
	HolderIdentity       string      `json:"holderIdentity"`
	LeaseDurationSeconds int         `json:"leaseDurationSeconds"`
	AcquireTime          metav1.Time `json:"acquireTime"`
	RenewTime            metav1.Time `json:"renewTime"`
	LeaderTransitions    int         `json:"leaderTransitions"`
}

// EventRecorder records the "<identity> became leader" and "stopped
// leading" Events on the Lease.
type EventRecorder interface {
	Eventf(obj runtime.Object, eventType, reason, message string, args ...any)
}

// LeaseLock is resourcelock.LeaseLock over internal/kube's Lease client.
type LeaseLock struct {
	// LeaseMeta names the Lease (its namespace and name).
	LeaseMeta metav1.ObjectMeta
	Client    typedcoordinationv1.LeasesGetter
	// Identity is this candidate's holderIdentity.
	Identity string
	// EventRecorder, when set, records the election's Events.
	EventRecorder EventRecorder

	lease *coordinationv1.Lease
}

// Get returns the record of the Lease, and its bytes (a change of which
// is a renewal).
func (ll *LeaseLock) Get(ctx context.Context) (*Record, []byte, error) {
	lease, err := ll.Client.Leases(ll.LeaseMeta.Namespace).Get(ctx, ll.LeaseMeta.Name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	ll.lease = lease
	r := specToRecord(&lease.Spec)
	raw, err := json.Marshal(*r)
	if err != nil {
		return nil, nil, err
	}
	return r, raw, nil
}

// Create creates the Lease with the record.
func (ll *LeaseLock) Create(ctx context.Context, r Record) error {
	lease, err := ll.Client.Leases(ll.LeaseMeta.Namespace).Create(ctx, &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: ll.LeaseMeta.Name, Namespace: ll.LeaseMeta.Namespace},
		Spec:       recordToSpec(&r),
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	ll.lease = lease
	return nil
}

// Update writes the record over the Lease last read (a conflict if it
// changed since).
func (ll *LeaseLock) Update(ctx context.Context, r Record) error {
	if ll.lease == nil {
		return errors.New("lease not initialized, call get or create first")
	}
	ll.lease.Spec = recordToSpec(&r)
	lease, err := ll.Client.Leases(ll.LeaseMeta.Namespace).Update(ctx, ll.lease, metav1.UpdateOptions{})
	if err != nil {
		return err
	}
	ll.lease = lease
	return nil
}

// RecordEvent records "<identity> <s>" on the Lease.
func (ll *LeaseLock) RecordEvent(s string) {
	if ll.EventRecorder == nil || ll.lease == nil {
		return
	}
	subject := &coordinationv1.Lease{ObjectMeta: ll.lease.ObjectMeta}
	subject.Kind, subject.APIVersion = "Lease", coordinationv1.SchemeGroupVersion.String()
	ll.EventRecorder.Eventf(subject, corev1.EventTypeNormal, "LeaderElection", "%v %v", ll.Identity, s)
}

// Describe names the Lease, namespace/name.
func (ll *LeaseLock) Describe() string { return ll.LeaseMeta.Namespace + "/" + ll.LeaseMeta.Name }

func specToRecord(spec *coordinationv1.LeaseSpec) *Record {
	var r Record
	if spec.HolderIdentity != nil {
		r.HolderIdentity = *spec.HolderIdentity
	}
	if spec.LeaseDurationSeconds != nil {
		r.LeaseDurationSeconds = int(*spec.LeaseDurationSeconds)
	}
	if spec.LeaseTransitions != nil {
		r.LeaderTransitions = int(*spec.LeaseTransitions)
	}
	if spec.AcquireTime != nil {
		r.AcquireTime = metav1.Time{Time: spec.AcquireTime.Time}
	}
	if spec.RenewTime != nil {
		r.RenewTime = metav1.Time{Time: spec.RenewTime.Time}
	}
	return &r
}

func recordToSpec(r *Record) coordinationv1.LeaseSpec {
	d, t := int32(r.LeaseDurationSeconds), int32(r.LeaderTransitions)
	holder := r.HolderIdentity
	return coordinationv1.LeaseSpec{
		HolderIdentity:       &holder,
		LeaseDurationSeconds: &d,
		AcquireTime:          &metav1.MicroTime{Time: r.AcquireTime.Time},
		RenewTime:            &metav1.MicroTime{Time: r.RenewTime.Time},
		LeaseTransitions:     &t,
	}
}

// Callbacks are called as leadership changes.
type Callbacks struct {
	// OnStartedLeading runs (in a goroutine of its own) once the Lease is
	// acquired; ctx ends when leadership ends, and it must return then.
	OnStartedLeading func(ctx context.Context)
	// OnNewLeader, when set, is told each leader observed.
	OnNewLeader func(identity string)
}

// Config configures a LeaderElector (leaderelection.LeaderElectionConfig).
type Config struct {
	Lock *LeaseLock
	// LeaseDuration is how long a candidate waits, from when it saw the
	// record last change, before it takes the Lease over; RenewDeadline
	// how long the leader retries renewing before it gives up leading;
	// RetryPeriod the interval between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Callbacks                                 Callbacks
	// ReleaseOnCancel releases the Lease (holderIdentity emptied, a
	// one-second duration) when Run's ctx ends while leading, once
	// OnStartedLeading has returned: a follower takes over on its next
	// retry.
	ReleaseOnCancel bool
	// Clock is the time source (default the real clock).
	Clock clock.Clock
}

// LeaderElector is a candidate for one Lease.
type LeaderElector struct {
	config Config
	clock  clock.Clock

	observedRecord     Record
	observedRawRecord  []byte
	observedTime       time.Time
	reportedLeader     string
	observedRecordLock sync.RWMutex
}

// New checks config and returns its LeaderElector.
func New(config Config) (*LeaderElector, error) {
	switch {
	case config.LeaseDuration <= config.RenewDeadline:
		return nil, errors.New("leaseDuration must be greater than renewDeadline")
	case config.RenewDeadline <= time.Duration(JitterFactor*float64(config.RetryPeriod)):
		return nil, errors.New("renewDeadline must be greater than retryPeriod*JitterFactor")
	case config.LeaseDuration < 1 || config.RenewDeadline < 1 || config.RetryPeriod < 1:
		return nil, errors.New("leaseDuration, renewDeadline and retryPeriod must be greater than zero")
	case config.Callbacks.OnStartedLeading == nil:
		return nil, errors.New("OnStartedLeading callback must not be nil")
	case config.Lock == nil:
		return nil, errors.New("lock must not be nil")
	case config.Lock.Identity == "":
		return nil, errors.New("lock identity is empty")
	}
	c := config.Clock
	if c == nil {
		c = clock.RealClock{}
	}
	return &LeaderElector{config: config, clock: c}, nil
}

// Run campaigns until the Lease is acquired or ctx ends; once acquired it
// runs OnStartedLeading and renews until ctx ends or a renewal fails
// within RenewDeadline. It returns, having waited for OnStartedLeading
// (and released the Lease with ReleaseOnCancel), whether it led.
func (le *LeaderElector) Run(ctx context.Context) bool {
	if !le.acquire(ctx) {
		return false // ctx ended
	}
	lctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		le.config.Callbacks.OnStartedLeading(lctx)
	}()
	le.renew(lctx)
	cancel()
	<-done
	if le.config.ReleaseOnCancel {
		le.release()
	}
	return true
}

// GetLeader is the identity of the last leader observed ("" if none).
func (le *LeaderElector) GetLeader() string { return le.getObservedRecord().HolderIdentity }

// IsLeader reports whether the last leader observed is this candidate.
func (le *LeaderElector) IsLeader() bool {
	return le.getObservedRecord().HolderIdentity == le.config.Lock.Identity
}

// acquire loops calling tryAcquireOrRenew and returns true as soon as it
// succeeds, false if ctx ends first.
func (le *LeaderElector) acquire(ctx context.Context) bool {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	succeeded := false
	desc := le.config.Lock.Describe()
	logger := klog.FromContext(ctx)
	logger.Info("Attempting to acquire leader lease...", "lock", desc)
	wait.JitterUntilWithContext(ctx, func(ctx context.Context) {
		succeeded = le.tryAcquireOrRenew(ctx)
		le.maybeReportTransition()
		if !succeeded {
			logger.V(4).Info("Failed to acquire lease", "lock", desc)
			return
		}
		le.config.Lock.RecordEvent("became leader")
		logger.Info("Successfully acquired lease", "lock", desc)
		cancel()
	}, le.config.RetryPeriod, JitterFactor, true)
	return succeeded
}

// renew loops calling tryAcquireOrRenew and returns when a renewal did not
// succeed within RenewDeadline or ctx ends.
func (le *LeaderElector) renew(ctx context.Context) {
	defer le.config.Lock.RecordEvent("stopped leading")
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	logger := klog.FromContext(ctx)
	wait.UntilWithContext(ctx, func(ctx context.Context) {
		err := wait.PollUntilContextTimeout(ctx, le.config.RetryPeriod, le.config.RenewDeadline, true, func(ctx context.Context) (bool, error) {
			if err := ctx.Err(); err != nil {
				return false, err
			}
			return le.tryAcquireOrRenew(ctx), nil
		})
		le.maybeReportTransition()
		desc := le.config.Lock.Describe()
		if err == nil {
			logger.V(5).Info("Successfully renewed lease", "lock", desc)
			return
		}
		logger.Info("Failed to renew lease", "lock", desc, "err", err)
		cancel()
	}, le.config.RetryPeriod)
}

// release gives the Lease up if this candidate holds it, retrying on
// conflict (a renewal racing the cancellation).
func (le *LeaderElector) release() bool {
	ctx, cancel := context.WithTimeout(context.Background(), le.config.RenewDeadline)
	defer cancel()
	return le.tryRelease(ctx)
}

func (le *LeaderElector) tryRelease(ctx context.Context) bool {
	logger := klog.FromContext(ctx)
	old, _, err := le.config.Lock.Get(ctx)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			logger.Error(err, "error retrieving resource lock", "lock", le.config.Lock.Describe())
		}
		return false
	}
	if !le.IsLeader() {
		return true
	}
	now := metav1.NewTime(le.clock.Now())
	r := Record{LeaderTransitions: old.LeaderTransitions, LeaseDurationSeconds: 1, RenewTime: now, AcquireTime: now}
	if err := le.config.Lock.Update(ctx, r); err != nil {
		if apierrors.IsConflict(err) && ctx.Err() == nil {
			return le.tryRelease(ctx)
		}
		logger.Error(err, "Failed to release lease", "lock", le.config.Lock.Describe())
		return false
	}
	le.setObservedRecord(&r)
	return true
}

// tryAcquireOrRenew acquires the Lease if it is free or expired, or
// renews it if this candidate holds it; it reports success.
func (le *LeaderElector) tryAcquireOrRenew(ctx context.Context) bool {
	logger := klog.FromContext(ctx)
	now := metav1.NewTime(le.clock.Now())
	r := Record{
		HolderIdentity:       le.config.Lock.Identity,
		LeaseDurationSeconds: int(le.config.LeaseDuration / time.Second),
		RenewTime:            now,
		AcquireTime:          now,
	}
	// 1. The leader updates optimistically, assuming the record it
	// observed last is current.
	if le.IsLeader() && le.isLeaseValid(now.Time) {
		old := le.getObservedRecord()
		r.AcquireTime, r.LeaderTransitions = old.AcquireTime, old.LeaderTransitions
		err := le.config.Lock.Update(ctx, r)
		if err == nil {
			le.setObservedRecord(&r)
			return true
		}
		logger.V(2).Info("Failed to update lease optimistically, falling back to slow path", "lock", le.config.Lock.Describe(), "err", err)
	}
	// 2. Get or create the record.
	old, oldRaw, err := le.config.Lock.Get(ctx)
	if err != nil {
		if !apierrors.IsNotFound(err) {
			logger.Error(err, "Error retrieving lease lock", "lock", le.config.Lock.Describe())
			return false
		}
		if err = le.config.Lock.Create(ctx, r); err != nil {
			logger.Error(err, "Error initially creating lease lock", "lock", le.config.Lock.Describe())
			return false
		}
		le.setObservedRecord(&r)
		return true
	}
	// 3. A changed record restarts the lease duration.
	if !bytes.Equal(le.observedRawRecord, oldRaw) {
		le.setObservedRecord(old)
		le.observedRawRecord = oldRaw
	}
	if len(old.HolderIdentity) > 0 && le.isLeaseValid(now.Time) && !le.IsLeader() {
		logger.V(4).Info("Lease is held by and has not yet expired", "lock", le.config.Lock.Describe(), "holder", old.HolderIdentity)
		return false
	}
	// 4. Take or renew it.
	if le.IsLeader() {
		r.AcquireTime, r.LeaderTransitions = old.AcquireTime, old.LeaderTransitions
	} else {
		r.LeaderTransitions = old.LeaderTransitions + 1
	}
	if err = le.config.Lock.Update(ctx, r); err != nil {
		logger.Error(err, "Failed to update lease", "lock", le.config.Lock.Describe())
		return false
	}
	le.setObservedRecord(&r)
	return true
}

func (le *LeaderElector) maybeReportTransition() {
	holder := le.getObservedRecord().HolderIdentity
	if holder == le.reportedLeader {
		return
	}
	le.reportedLeader = holder
	if le.config.Callbacks.OnNewLeader != nil {
		go le.config.Callbacks.OnNewLeader(holder)
	}
}

func (le *LeaderElector) isLeaseValid(now time.Time) bool {
	le.observedRecordLock.RLock()
	defer le.observedRecordLock.RUnlock()
	return le.observedTime.Add(time.Second * time.Duration(le.observedRecord.LeaseDurationSeconds)).After(now)
}

func (le *LeaderElector) setObservedRecord(r *Record) {
	le.observedRecordLock.Lock()
	defer le.observedRecordLock.Unlock()
	le.observedRecord = *r
	le.observedTime = le.clock.Now()
}

func (le *LeaderElector) getObservedRecord() Record {
	le.observedRecordLock.RLock()
	defer le.observedRecordLock.RUnlock()
	return le.observedRecord
}
