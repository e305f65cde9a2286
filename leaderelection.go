package wasmpod

import (
	"context"
	"fmt"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/uuid"
	"k8s.io/client-go/tools/record"
	"k8s.io/klog/v2"

	"github.com/wasmpod/wasmpod/internal/kube/informers"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes/scheme"
	typedcorev1 "github.com/wasmpod/wasmpod/internal/kube/kubernetes/typed/core/v1"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/leaderelect"
)

// The Leases the replicas of an HA control plane elect their leaders
// through, named as upstream's: the scheduler's and the controller
// manager's, in kube-system.
const (
	SchedulerLease         = "kube-scheduler"
	ControllerManagerLease = "kube-controller-manager"
)

// Upstream's defaults (component-base's LeaderElectionConfiguration, the
// --leader-elect-* flags of kube-scheduler and kube-controller-manager).
const (
	DefaultLeaseDuration = 15 * time.Second
	DefaultRenewDeadline = 10 * time.Second
	DefaultRetryPeriod   = 2 * time.Second
)

// LeaderElectionConfig configures how the replicas of a control plane on a
// shared store (etcd) elect the one that runs the scheduler and the one
// that runs the controllers, as kube-scheduler's and
// kube-controller-manager's --leader-elect* flags.
type LeaderElectionConfig struct {
	// Disabled runs the scheduler and the controllers in this process
	// without an election (--leader-elect=false): only for a control plane
	// that is the store's single user. Without etcd there is never an
	// election.
	Disabled bool
	// LeaseDuration is how long a follower waits after the leader's last
	// renewal before it takes the lease over (--leader-elect-lease-duration,
	// default 15 s); RenewDeadline how long the leader keeps retrying a
	// renewal before it stops leading (--leader-elect-renew-deadline, 10 s);
	// RetryPeriod the interval between attempts
	// (--leader-elect-retry-period, 2 s).
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
	// Identity names this replica in the Leases' holderIdentity (default
	// hostname_UUID, as upstream).
	Identity string
}

func (lc *LeaderElectionConfig) setDefaults() error {
	if lc.LeaseDuration == 0 {
		lc.LeaseDuration = DefaultLeaseDuration
	}
	if lc.RenewDeadline == 0 {
		lc.RenewDeadline = DefaultRenewDeadline
	}
	if lc.RetryPeriod == 0 {
		lc.RetryPeriod = DefaultRetryPeriod
	}
	switch {
	case lc.LeaseDuration < time.Second || lc.RenewDeadline < 0 || lc.RetryPeriod < 0:
		return fmt.Errorf("invalid configuration: leaderElection durations (--leader-elect-lease-duration %v, --leader-elect-renew-deadline %v, --leader-elect-retry-period %v) must be positive, the lease duration at least 1s (a Lease holds whole seconds)",
			lc.LeaseDuration, lc.RenewDeadline, lc.RetryPeriod)
	case lc.LeaseDuration <= lc.RenewDeadline:
		return fmt.Errorf("invalid configuration: leaderElection.leaseDuration (--leader-elect-lease-duration) %v must be greater than renewDeadline (--leader-elect-renew-deadline) %v", lc.LeaseDuration, lc.RenewDeadline)
	case lc.RenewDeadline <= time.Duration(leaderelect.JitterFactor*float64(lc.RetryPeriod)):
		return fmt.Errorf("invalid configuration: leaderElection.renewDeadline (--leader-elect-renew-deadline) %v must be greater than %v times retryPeriod (--leader-elect-retry-period) %v", lc.RenewDeadline, leaderelect.JitterFactor, lc.RetryPeriod)
	}
	if lc.Identity == "" {
		host, err := os.Hostname()
		if err != nil || host == "" {
			host = "wasmpod"
		}
		// As kube-controller-manager: hostname_UUID, unique per process.
		lc.Identity = host + "_" + string(uuid.NewUUID())
	}
	return nil
}

// plane is a group of control-plane components started together on one
// informer factory: for the cluster's life when there is no election, or
// for one leadership term. stop waits for its goroutines and runs its
// stop functions in reverse.
type plane struct {
	ctx       context.Context
	informers informers.SharedInformerFactory
	wg        sync.WaitGroup
	mu        sync.Mutex
	stops     []func()
}

func (p *plane) goRun(f func()) {
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		f()
	}()
}

// runController runs a controller that returns an error (logged by the
// controller itself; it returns when the plane's context ends) on the
// plane's shared informer factory.
func (p *plane) runController(informers *informers.SharedInformerFactory, run func(context.Context) error) {
	*informers = p.informers
	p.goRun(func() { _ = run(p.ctx) })
}

func (p *plane) onStop(f func()) {
	p.mu.Lock()
	p.stops = append(p.stops, f)
	p.mu.Unlock()
}

func (p *plane) stop() {
	p.wg.Wait()
	p.mu.Lock()
	stops := p.stops
	p.stops = nil
	p.mu.Unlock()
	for i := len(stops) - 1; i >= 0; i-- {
		stops[i]()
	}
}

// elect campaigns for lease name in kube-system until ctx ends. Each time
// this replica acquires it, start runs the lease's components on a plane
// of their own (informers started anew, so that controllers whose state
// lives in memory resync from the store); when the lease is lost (a
// renewal did not succeed within RenewDeadline) or start fails, the
// plane's context ends, its components are waited for, and the replica
// campaigns again. On Close the lease is released (ReleaseOnCancel), so a
// follower takes over within RetryPeriod rather than LeaseDuration.
func (c *Cluster) elect(ctx context.Context, name string, start func(*plane) error) {
	lc := c.cfg.LeaderElection
	// Not bound to ctx: "stopped leading" is recorded after ctx ends.
	bc := record.NewBroadcaster()
	bc.StartRecordingToSink(&typedcorev1.EventSinkImpl{Interface: c.client.CoreV1().Events("")})
	defer bc.Shutdown()
	lock := &leaderelect.LeaseLock{
		LeaseMeta:     metav1.ObjectMeta{Namespace: metav1.NamespaceSystem, Name: name},
		Client:        c.client.CoordinationV1(),
		Identity:      lc.Identity,
		EventRecorder: bc.NewRecorder(scheme.Scheme, corev1.EventSource{Component: name}),
	}
	for ctx.Err() == nil {
		termCtx, cancelTerm := context.WithCancel(ctx)
		failed := false
		le, err := leaderelect.New(leaderelect.Config{
			Lock:            lock,
			LeaseDuration:   lc.LeaseDuration,
			RenewDeadline:   lc.RenewDeadline,
			RetryPeriod:     lc.RetryPeriod,
			ReleaseOnCancel: true,
			Callbacks: leaderelect.Callbacks{OnStartedLeading: func(lctx context.Context) {
				c.progressf("leader election: %s acquired lease kube-system/%s", lc.Identity, name)
				p := &plane{ctx: lctx, informers: kubeutil.NewSharedFactory(c.client)}
				p.onStop(p.informers.Shutdown)
				if err := start(p); err != nil {
					klog.Errorf("%s: %v; giving up the lease", name, err)
					c.progressf("leader election: %s: %v; giving up the lease", name, err)
					failed = true
					cancelTerm()
				}
				<-lctx.Done()
				p.stop()
				c.progressf("leader election: %s stopped leading kube-system/%s", lc.Identity, name)
			}},
		})
		if err != nil { // checked by setDefaults
			cancelTerm()
			klog.Errorf("leader election %s: %v", name, err)
			return
		}
		// Run returns once this term's components have stopped (and the
		// lease is released if ctx ended), or at once if ctx ends first.
		le.Run(termCtx)
		cancelTerm()
		if failed { // let another replica try before this one again
			select {
			case <-ctx.Done():
			case <-time.After(lc.LeaseDuration):
			}
		}
	}
}

func (c *Cluster) progressf(format string, args ...any) {
	if c.cfg.Progress != nil {
		fmt.Fprintf(c.cfg.Progress, "wasmpod: "+format+"\n", args...)
	}
}
