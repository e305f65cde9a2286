package wasmpod

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/record"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/wasmpod/wasmpod/apiserver"
	"github.com/wasmpod/wasmpod/controllers/cronjob"
	"github.com/wasmpod/wasmpod/controllers/daemonset"
	"github.com/wasmpod/wasmpod/controllers/deployment"
	"github.com/wasmpod/wasmpod/controllers/disruption"
	"github.com/wasmpod/wasmpod/controllers/endpoints"
	"github.com/wasmpod/wasmpod/controllers/garbagecollector"
	"github.com/wasmpod/wasmpod/controllers/job"
	"github.com/wasmpod/wasmpod/controllers/kubernetesservice"
	"github.com/wasmpod/wasmpod/controllers/namespace"
	"github.com/wasmpod/wasmpod/controllers/nodeipam"
	"github.com/wasmpod/wasmpod/controllers/nodelifecycle"
	"github.com/wasmpod/wasmpod/controllers/podautoscaler"
	"github.com/wasmpod/wasmpod/controllers/podgc"
	"github.com/wasmpod/wasmpod/controllers/replicaset"
	"github.com/wasmpod/wasmpod/controllers/rootcacertpublisher"
	"github.com/wasmpod/wasmpod/controllers/serviceaccount"
	"github.com/wasmpod/wasmpod/controllers/tainteviction"
	"github.com/wasmpod/wasmpod/controllers/ttlafterfinished"
	"github.com/wasmpod/wasmpod/internal/kube/kubernetes"
	"github.com/wasmpod/wasmpod/internal/kubeutil"
	"github.com/wasmpod/wasmpod/internal/metrics"
	"github.com/wasmpod/wasmpod/scheduler"
)

// schedulerBinder binds through the API, as kube-scheduler's DefaultBinder,
// and records the scheduler's events.
type schedulerBinder struct {
	client   kubernetes.Interface
	recorder record.EventRecorder
}

func (b *schedulerBinder) Bind(ctx context.Context, pod *corev1.Pod, node string) error {
	// The Scheduled event is stamped (time and name) before the binding is
	// written: a node agent that reacts to the binding before Bind returns
	// here stamps its Pulling later, so kubectl describe's sort (by time,
	// then name) lists Scheduled first.
	now := metav1.Now()
	err := b.client.CoreV1().Pods(pod.Namespace).Bind(ctx, &corev1.Binding{
		ObjectMeta: metav1.ObjectMeta{Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID},
		Target:     corev1.ObjectReference{Kind: "Node", Name: node},
	}, metav1.CreateOptions{})
	if err != nil {
		return err
	}
	// Written synchronously, not through the event broadcaster, so that it
	// precedes the node agent's first events (Pulling) as it does upstream,
	// where a kubelet is a network hop away.
	_, err = b.client.CoreV1().Events(pod.Namespace).Create(ctx, &corev1.Event{
		ObjectMeta:          metav1.ObjectMeta{Name: fmt.Sprintf("%s.%x", pod.Name, now.UnixNano()), Namespace: pod.Namespace},
		InvolvedObject:      corev1.ObjectReference{Kind: "Pod", Namespace: pod.Namespace, Name: pod.Name, UID: pod.UID, APIVersion: "v1", ResourceVersion: pod.ResourceVersion},
		Reason:              "Scheduled",
		Message:             fmt.Sprintf("Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node),
		Source:              corev1.EventSource{Component: "default-scheduler"},
		FirstTimestamp:      now,
		LastTimestamp:       now,
		Count:               1,
		Type:                corev1.EventTypeNormal,
		ReportingController: "default-scheduler",
	}, metav1.CreateOptions{})
	if err != nil {
		b.recorder.Eventf(pod, corev1.EventTypeNormal, "Scheduled", "Successfully assigned %s/%s to %s", pod.Namespace, pod.Name, node)
	}
	return nil
}

func (b *schedulerBinder) Unschedulable(ctx context.Context, pod *corev1.Pod, msg string) error {
	b.recorder.Event(pod, corev1.EventTypeWarning, "FailedScheduling", msg)
	for attempt := 0; attempt < 5; attempt++ {
		cur, err := b.client.CoreV1().Pods(pod.Namespace).Get(ctx, pod.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if cur.UID != pod.UID || cur.Spec.NodeName != "" {
			return nil
		}
		cond := corev1.PodCondition{Type: corev1.PodScheduled, Status: corev1.ConditionFalse, Reason: corev1.PodReasonUnschedulable, Message: msg, LastTransitionTime: metav1.Now()}
		found := false
		for i, c := range cur.Status.Conditions {
			if c.Type == corev1.PodScheduled {
				found = true
				if c.Status == cond.Status && c.Reason == cond.Reason && c.Message == cond.Message {
					return nil
				}
				if c.Status == cond.Status {
					cond.LastTransitionTime = c.LastTransitionTime
				}
				cur.Status.Conditions[i] = cond
			}
		}
		if !found {
			cur.Status.Conditions = append(cur.Status.Conditions, cond)
		}
		_, err = b.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, cur, metav1.UpdateOptions{})
		if err == nil || !isConflict(err) {
			return err
		}
	}
	return nil
}

// SetAPIServerAddress tells the cluster where its API server listens for
// pods and other in-cluster clients (an IP the pods can reach, and the
// port): the "kubernetes" Service in the default namespace (ClusterIP
// 10.96.0.1, port 443 "https") gets it as its endpoints, as upstream's
// advertise address. Until it is called the Service has no endpoints.
// `serve` calls it with its TCP listener's address. In an HA control
// plane the replica that leads kube-controller-manager keeps the Service,
// with its own address.
func (c *Cluster) SetAPIServerAddress(addr netip.AddrPort) {
	c.mu.Lock()
	c.apiAddr = addr
	ks := c.kubeSvc
	c.mu.Unlock()
	if ks != nil {
		ks.SetAddress(addr)
	}
}

// startScheduler runs the scheduler fed by the plane's informers until
// its context ends.
func (c *Cluster) startScheduler(p *plane) error {
	ctx, client, f := p.ctx, c.client, p.informers
	fw, err := scheduler.NewFramework(scheduler.Options{})
	if err != nil {
		return err
	}
	rec, stopEvents := kubeutil.EventRecorder(ctx, client, "default-scheduler")
	p.onStop(stopEvents)
	s := scheduler.New(fw, &schedulerBinder{client: client, recorder: rec}, c.cfg.Clock)
	// This plane's scheduler counts in the cluster's registry until the
	// plane ends (a replica that leads again starts from zero).
	if _, err := scheduler.NewMetrics(&unregistering{Registerer: c.metrics, p: p}, s); err != nil {
		return err
	}

	nodeInf := f.Core().V1().Nodes().Informer()
	nodeInf.AddEventHandler(kubeutil.Typed(s.OnNodeAdd, s.OnNodeUpdate, s.OnNodeDelete))
	podInf := f.Core().V1().Pods().Informer()
	podInf.AddEventHandler(kubeutil.Typed(s.OnPodAdd, s.OnPodUpdate, s.OnPodDelete))
	f.Start(ctx.Done())
	syncCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for typ, ok := range f.WaitForCacheSync(syncCtx.Done()) {
		if !ok {
			return fmt.Errorf("scheduler: informer for %v did not sync", typ)
		}
	}
	p.goRun(func() { s.Run(ctx) })
	return nil
}

// startControllers runs kube-controller-manager's controllers (and the
// kubernetes Service's reconciler) on the plane's informers until its
// context ends. reserved are the pod ranges of this process's own nodes,
// which the node IPAM controller does not hand out.
func (c *Cluster) startControllers(p *plane, reserved []string) error {
	ctx, cfg := p.ctx, c.cfg
	nlc := nodelifecycle.New(c.client, cfg.Clock, cfg.NodeMonitorGracePeriod)
	p.runController(&nlc.Informers, nlc.Run)
	// Taint-based eviction of the pods of nodes with NoExecute taints
	// (the unreachable one above), after their tolerationSeconds.
	tec := tainteviction.New(c.client, cfg.Clock)
	p.runController(&tec.Informers, tec.Run)
	// Pod ranges for Nodes that join without one (wasmpod agent), as
	// kube-controller-manager's --allocate-node-cidrs; the in-process
	// nodes' configured ranges are reserved.
	ipam, err := nodeipam.New(c.client, cfg.ClusterCIDR, cfg.NodeCIDRMaskSize, reserved)
	if err != nil {
		return err
	}
	p.runController(&ipam.Informers, ipam.Run)
	pgc := podgc.New(c.client, cfg.Clock, podgc.Threshold(cfg.TerminatedPodGCThreshold))
	p.runController(&pgc.Informers, pgc.Run)
	rsc := replicaset.New(c.client, cfg.Clock)
	p.runController(&rsc.Informers, rsc.Run)
	jc := job.New(c.client, cfg.Clock)
	p.runController(&jc.Informers, jc.Run)
	ttlc := ttlafterfinished.New(c.client, cfg.Clock)
	p.runController(&ttlc.Informers, ttlc.Run)
	dsc := daemonset.New(c.client, cfg.Clock)
	p.runController(&dsc.Informers, dsc.Run)
	dc := deployment.New(c.client, cfg.Clock)
	p.runController(&dc.Informers, dc.Run)
	cjc := cronjob.New(c.client, cfg.Clock)
	p.runController(&cjc.Informers, cjc.Run)
	pdbc := disruption.New(c.client, cfg.Clock)
	p.runController(&pdbc.Informers, pdbc.Run)
	hpac := podautoscaler.New(c.client, cfg.Clock)
	p.runController(&hpac.Informers, hpac.Run)
	gcMeta, err := metadata.NewForConfig(c.server.InProcessConfig(c.handler))
	if err != nil {
		return err
	}
	gcc := garbagecollector.New(c.client, gcMeta, cfg.Clock)
	gcc.Shared = p.informers
	p.goRun(func() { gcc.Run(ctx) })
	nsc := namespace.New(c.server)
	p.goRun(func() { nsc.Run(ctx) })
	// csrapproving and csrsigning with the cluster CA, and csrcleaner
	// (apiserver/csr.go).
	p.goRun(func() { c.server.RunCSRController(ctx, cfg.Clock) })
	p.goRun(func() { c.server.RunCSRCleaner(ctx, cfg.Clock) })
	epc := endpoints.New(c.client)
	p.runController(&epc.Informers, epc.Run)
	sac := serviceaccount.New(c.client)
	p.runController(&sac.Informers, sac.Run)

	// The kubernetes Service (SetAPIServerAddress) and kube-root-ca.crt
	// (SetRootCA) of this plane, given what the cluster was told so far.
	ks := kubernetesservice.New(c.client)
	rc := rootcacertpublisher.New(c.client)
	c.mu.Lock()
	c.kubeSvc, c.rootCA = ks, rc
	addr, ca := c.apiAddr, c.rootCAPEM
	c.mu.Unlock()
	p.onStop(func() {
		c.mu.Lock()
		if c.kubeSvc == ks {
			c.kubeSvc, c.rootCA = nil, nil
		}
		c.mu.Unlock()
	})
	if addr.IsValid() {
		ks.SetAddress(addr)
	}
	if len(ca) > 0 {
		rc.SetCA(ca)
	}
	p.goRun(func() { ks.Run(ctx) })
	p.runController(&rc.Informers, rc.Run)
	return nil
}

// setupMetrics makes the control plane's registry: the API server's
// request metrics, the storage's size and the controllers' workqueues
// (internal/metrics); the scheduler adds its own while it runs
// (startScheduler).
func (c *Cluster) setupMetrics() (err error) {
	c.metrics = metrics.NewRegistry()
	if c.apiMetrics, err = apiserver.NewMetrics(c.metrics); err != nil {
		return err
	}
	if c.cfg.Store == StoreBbolt {
		// Upstream's apiserver_storage_size_bytes (etcd's database file;
		// here the bbolt file's size, read at each scrape). A memory store
		// has no file; an etcd store's size is etcd's own metric.
		path := StorePath(c.cfg.DataDir)
		if err := c.metrics.Register(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "apiserver_storage_size_bytes",
			Help:        "Size of the storage database file physically allocated in bytes.",
			ConstLabels: prometheus.Labels{"storage_cluster_id": "bbolt"}}, func() float64 {
			fi, err := os.Stat(path)
			if err != nil {
				return 0
			}
			return float64(fi.Size())
		})); err != nil {
			return err
		}
	}
	return metrics.RegisterWorkqueue(c.metrics)
}

// Metrics is the API server's metrics (HandlerOptions.Metrics of the
// handlers serve makes over the same server), serving the control plane's
// registry at /metrics.
func (c *Cluster) Metrics() *apiserver.Metrics { return c.apiMetrics }

// MetricsRegistry is the control plane's registry.
func (c *Cluster) MetricsRegistry() *prometheus.Registry { return c.metrics }

// unregistering registers collectors and unregisters them when the plane
// ends.
type unregistering struct {
	prometheus.Registerer
	p *plane
}

func (u *unregistering) Register(col prometheus.Collector) error {
	if err := u.Registerer.Register(col); err != nil {
		return err
	}
	u.p.onStop(func() { u.Registerer.Unregister(col) })
	return nil
}
