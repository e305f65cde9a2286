// Package leaderelect elects one leader among the replicas of a component
// through a coordination.k8s.io Lease, with the semantics kube-scheduler
// and kube-controller-manager get from client-go's tools/leaderelection:
//
//   - the Lease's spec names the holder, when it was acquired and last
//     renewed, its duration and the number of transitions;
//   - a candidate takes the Lease when it has no holder, or when the
//     candidate has not seen its spec change for leaseDurationSeconds,
//     measured on the candidate's own clock from when it saw the change
//     (so the replicas' clocks need not agree);
//   - the leader renews every RetryPeriod, and stops leading when no
//     renewal succeeded within RenewDeadline;
//   - every write is a compare-and-swap on the Lease's resourceVersion, so
//     two candidates cannot both take it.
//
// It is written over internal/kube's Lease client rather than imported:
// client-go's leaderelection and resourcelock packages link client-go's
// whole typed clientset and its scheme (10.6 MB of the release binary).
// It differs from upstream where wasmpod needs it to: Run waits for
// OnStartedLeading to return (the term's components have stopped) before
// it releases the Lease and returns, so a graceful handover never runs
// two leaders' components at once; a release writes only over a Lease
// this candidate still holds. Coordinated leader election (LeaseCandidate)
// is not implemented.
package leaderelect

import (
	"context"
	"errors"
	"math/rand/v2"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/klog/v2"
	"k8s.io/utils/clock"

	typedcoordinationv1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/coordination/v1"
)

// JitterFactor is how much longer than RetryPeriod a candidate may wait
// between attempts (up to RetryPeriod × (1+JitterFactor)), as upstream's,
// so that candidates started together do not keep colliding.
const JitterFactor = 1.2

// EventRecorder records the "<identity> became leader" and "<identity>
// stopped leading" Events on the Lease.
type EventRecorder interface {
	Eventf(obj runtime.Object, eventType, reason, message string, args ...any)
}

// LeaseLock names the Lease a candidate campaigns for and who it is.
type LeaseLock struct {
	// LeaseMeta names the Lease (its namespace and name).
	LeaseMeta metav1.ObjectMeta
	Client    typedcoordinationv1.LeasesGetter
	// Identity is this candidate's holderIdentity (unique per process:
	// upstream's is hostname_UUID).
	Identity string
	// EventRecorder, when set, records the election's Events.
	EventRecorder EventRecorder
}

// Callbacks are called as leadership changes.
type Callbacks struct {
	// OnStartedLeading runs (in a goroutine of its own) once the Lease is
	// acquired; ctx ends when leadership ends, and it must return then.
	OnStartedLeading func(ctx context.Context)
	// OnNewLeader, when set, is told each holder this candidate observes.
	OnNewLeader func(identity string)
}

// Config configures a LeaderElector.
type Config struct {
	Lock *LeaseLock
	// LeaseDuration is how long a candidate waits, from when it saw the
	// Lease last change, before it takes the Lease over; RenewDeadline how
	// long the leader keeps trying to renew before it stops leading;
	// RetryPeriod the interval between attempts.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	Callbacks                                 Callbacks
	// ReleaseOnCancel releases the Lease (no holder, a one-second
	// duration) when Run's ctx ends while leading, once OnStartedLeading
	// has returned: a follower takes over on its next attempt instead of
	// after LeaseDuration.
	ReleaseOnCancel bool
	// Clock measures lease durations (default the real clock). Attempts
	// are paced by real time.
	Clock clock.Clock
}

// LeaderElector is one candidate for one Lease.
type LeaderElector struct {
	cfg Config
	clk clock.Clock

	mu sync.Mutex
	// lease is the Lease as last read or written.
	lease *coordinationv1.Lease
	// changedAt is when (on clk) this candidate saw lease's spec change.
	changedAt time.Time
	// reported is the holder last told to OnNewLeader.
	reported string
}

// New checks cfg and returns its LeaderElector.
func New(cfg Config) (*LeaderElector, error) {
	switch {
	case cfg.Lock == nil:
		return nil, errors.New("leader election: no lock")
	case cfg.Lock.Identity == "":
		return nil, errors.New("leader election: the lock has no identity")
	case cfg.Callbacks.OnStartedLeading == nil:
		return nil, errors.New("leader election: no OnStartedLeading callback")
	case cfg.LeaseDuration <= 0 || cfg.RenewDeadline <= 0 || cfg.RetryPeriod <= 0:
		return nil, errors.New("leader election: the lease duration, renew deadline and retry period must be positive")
	case cfg.LeaseDuration <= cfg.RenewDeadline:
		return nil, errors.New("leader election: the lease duration must be longer than the renew deadline")
	case cfg.RenewDeadline <= time.Duration(JitterFactor*float64(cfg.RetryPeriod)):
		return nil, errors.New("leader election: the renew deadline must be longer than JitterFactor times the retry period")
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.RealClock{}
	}
	return &LeaderElector{cfg: cfg, clk: clk}, nil
}

// Run campaigns until this candidate holds the Lease or ctx ends. Holding
// it, it runs OnStartedLeading and renews until ctx ends or no renewal
// succeeds within RenewDeadline; then it ends OnStartedLeading's ctx,
// waits for it to return, releases the Lease if ReleaseOnCancel, and
// returns true. It returns false if ctx ended before the Lease was held.
func (le *LeaderElector) Run(ctx context.Context) bool {
	if !le.campaign(ctx) {
		return false
	}
	le.event("became leader")
	term, end := context.WithCancel(ctx)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		le.cfg.Callbacks.OnStartedLeading(term)
	}()
	le.hold(term)
	end()
	<-stopped
	le.event("stopped leading")
	if le.cfg.ReleaseOnCancel && ctx.Err() != nil {
		le.release()
	}
	return true
}

// GetLeader is the holder of the Lease as last observed ("" if none).
func (le *LeaderElector) GetLeader() string {
	le.mu.Lock()
	defer le.mu.Unlock()
	return holderOf(le.lease)
}

// IsLeader reports whether this candidate held the Lease when it last
// observed it.
func (le *LeaderElector) IsLeader() bool { return le.GetLeader() == le.cfg.Lock.Identity }

// campaign attempts to take the Lease every RetryPeriod (jittered) until
// it succeeds (true) or ctx ends (false).
func (le *LeaderElector) campaign(ctx context.Context) bool {
	klog.FromContext(ctx).Info("Campaigning for the leader lease", "lease", le.describe(), "identity", le.cfg.Lock.Identity)
	for {
		if le.attempt(ctx) {
			klog.FromContext(ctx).Info("Acquired the leader lease", "lease", le.describe())
			return true
		}
		if !sleep(ctx, jittered(le.cfg.RetryPeriod)) {
			return false
		}
	}
}

// hold renews the Lease every RetryPeriod until ctx ends or no renewal
// succeeded for RenewDeadline (of real time: a renewal's own deadline).
func (le *LeaderElector) hold(ctx context.Context) {
	last := time.Now()
	for sleep(ctx, le.cfg.RetryPeriod) {
		rctx, cancel := context.WithDeadline(ctx, last.Add(le.cfg.RenewDeadline))
		ok := le.attempt(rctx)
		cancel()
		switch {
		case ok:
			last = time.Now()
		case ctx.Err() != nil:
			return
		case time.Since(last) >= le.cfg.RenewDeadline:
			klog.FromContext(ctx).Info("Could not renew the leader lease within the renew deadline; stopping leading", "lease", le.describe(), "renewDeadline", le.cfg.RenewDeadline)
			return
		}
	}
}

// attempt reads the Lease and writes this candidate in as its holder if
// the Lease is free, expired or already this candidate's; it reports
// whether this candidate holds the Lease afterwards. Conflicts and
// errors count as not holding it (the next attempt reads afresh).
func (le *LeaderElector) attempt(ctx context.Context) bool {
	leases := le.cfg.Lock.Client.Leases(le.cfg.Lock.LeaseMeta.Namespace)
	now := le.clk.Now()
	cur, err := leases.Get(ctx, le.cfg.Lock.LeaseMeta.Name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		created, err := leases.Create(ctx, &coordinationv1.Lease{
			ObjectMeta: metav1.ObjectMeta{Namespace: le.cfg.Lock.LeaseMeta.Namespace, Name: le.cfg.Lock.LeaseMeta.Name},
			Spec:       le.heldSpec(coordinationv1.LeaseSpec{}, now, true, true),
		}, metav1.CreateOptions{})
		if err != nil {
			klog.FromContext(ctx).V(2).Info("Could not create the leader lease", "lease", le.describe(), "err", err)
			return false
		}
		le.observe(created, now)
		return true
	}
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Could not read the leader lease", "lease", le.describe(), "err", err)
		return false
	}
	le.observe(cur, now)
	holder := holderOf(cur)
	if holder != "" && holder != le.cfg.Lock.Identity && !le.expired(now) {
		return false
	}
	next := cur.DeepCopy()
	next.Spec = le.heldSpec(cur.Spec, now, false, holder != le.cfg.Lock.Identity)
	updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
	if err != nil {
		klog.FromContext(ctx).V(2).Info("Could not write the leader lease", "lease", le.describe(), "err", err)
		return false
	}
	le.observe(updated, now)
	return true
}

// heldSpec is spec with this candidate holding the Lease, renewed at now.
// A Lease taken from another holder (or from none, after a release) sets
// its acquire time and counts a transition; a new Lease (created) starts
// at none.
func (le *LeaderElector) heldSpec(spec coordinationv1.LeaseSpec, now time.Time, created, taken bool) coordinationv1.LeaseSpec {
	id := le.cfg.Lock.Identity
	secs := int32(le.cfg.LeaseDuration / time.Second)
	at := metav1.NewMicroTime(now)
	var transitions int32
	if spec.LeaseTransitions != nil {
		transitions = *spec.LeaseTransitions
	}
	if taken && !created {
		transitions++
	}
	if taken || spec.AcquireTime == nil {
		spec.AcquireTime = &at
	}
	spec.HolderIdentity = &id
	spec.LeaseDurationSeconds = &secs
	spec.RenewTime = &at
	spec.LeaseTransitions = &transitions
	return spec
}

// observe records lease as read or written at now: a spec other than the
// one seen before restarts the lease's duration on this candidate's clock.
// A new holder is told to OnNewLeader.
func (le *LeaderElector) observe(lease *coordinationv1.Lease, now time.Time) {
	le.mu.Lock()
	if le.lease == nil || !sameSpec(&le.lease.Spec, &lease.Spec) {
		le.changedAt = now
	}
	le.lease = lease
	holder := holderOf(lease)
	tell := le.cfg.Callbacks.OnNewLeader != nil && holder != le.reported
	le.reported = holder
	le.mu.Unlock()
	if tell {
		go le.cfg.Callbacks.OnNewLeader(holder)
	}
}

// expired reports whether the Lease last observed has gone unchanged for
// its duration by now.
func (le *LeaderElector) expired(now time.Time) bool {
	le.mu.Lock()
	defer le.mu.Unlock()
	var secs int32
	if le.lease != nil && le.lease.Spec.LeaseDurationSeconds != nil {
		secs = *le.lease.Spec.LeaseDurationSeconds
	}
	return !now.Before(le.changedAt.Add(time.Duration(secs) * time.Second))
}

// release gives the Lease up, if this candidate still holds it, so that a
// follower need not wait for it to expire: no holder, a one-second
// duration, the transitions kept. A conflict (the Lease changed since it
// was read) is retried within RenewDeadline.
func (le *LeaderElector) release() {
	ctx, cancel := context.WithTimeout(context.Background(), le.cfg.RenewDeadline)
	defer cancel()
	leases := le.cfg.Lock.Client.Leases(le.cfg.Lock.LeaseMeta.Namespace)
	for ctx.Err() == nil {
		cur, err := leases.Get(ctx, le.cfg.Lock.LeaseMeta.Name, metav1.GetOptions{})
		if err != nil || holderOf(cur) != le.cfg.Lock.Identity {
			return // gone, unreadable, or already another's
		}
		now := le.clk.Now()
		at := metav1.NewMicroTime(now)
		none, one := "", int32(1)
		next := cur.DeepCopy()
		next.Spec.HolderIdentity = &none
		next.Spec.LeaseDurationSeconds = &one
		next.Spec.AcquireTime, next.Spec.RenewTime = &at, &at
		updated, err := leases.Update(ctx, next, metav1.UpdateOptions{})
		if err == nil {
			le.observe(updated, now)
			return
		}
		if !apierrors.IsConflict(err) {
			klog.Info("Could not release the leader lease", "lease", le.describe(), "err", err)
			return
		}
	}
}

// event records "<identity> <what>" on the Lease last observed.
func (le *LeaderElector) event(what string) {
	le.mu.Lock()
	lease := le.lease
	le.mu.Unlock()
	if le.cfg.Lock.EventRecorder == nil || lease == nil {
		return
	}
	subject := &coordinationv1.Lease{ObjectMeta: lease.ObjectMeta}
	subject.Kind, subject.APIVersion = "Lease", coordinationv1.SchemeGroupVersion.String()
	le.cfg.Lock.EventRecorder.Eventf(subject, corev1.EventTypeNormal, "LeaderElection", "%v %v", le.cfg.Lock.Identity, what)
}

func (le *LeaderElector) describe() string {
	return le.cfg.Lock.LeaseMeta.Namespace + "/" + le.cfg.Lock.LeaseMeta.Name
}

func holderOf(lease *coordinationv1.Lease) string {
	if lease == nil || lease.Spec.HolderIdentity == nil {
		return ""
	}
	return *lease.Spec.HolderIdentity
}

// sameSpec compares the election's fields of two Lease specs.
func sameSpec(a, b *coordinationv1.LeaseSpec) bool {
	return eqPtr(a.HolderIdentity, b.HolderIdentity) && eqPtr(a.LeaseDurationSeconds, b.LeaseDurationSeconds) &&
		eqPtr(a.LeaseTransitions, b.LeaseTransitions) && eqTime(a.AcquireTime, b.AcquireTime) && eqTime(a.RenewTime, b.RenewTime)
}

func eqPtr[T comparable](a, b *T) bool { return (a == nil) == (b == nil) && (a == nil || *a == *b) }

func eqTime(a, b *metav1.MicroTime) bool {
	return (a == nil) == (b == nil) && (a == nil || a.Equal(b))
}

// jittered is d lengthened by up to JitterFactor × d.
func jittered(d time.Duration) time.Duration {
	return d + time.Duration(rand.Float64()*JitterFactor*float64(d))
}

// sleep waits d of real time, or until ctx ends (false).
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
