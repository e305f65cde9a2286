package apiserver

import (
	"context"
	"regexp"
	"strings"
	"testing"

	autoscalingv2 "k8s.io/api/autoscaling/v2"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"
)

const exampleHPADeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: php-apache
spec:
  replicas: 1
  selector:
    matchLabels:
      run: php-apache
  template:
    metadata:
      labels:
        run: php-apache
    spec:
      containers:
      - name: php-apache
        image: wasmpod.local/web:1
        resources:
          requests:
            cpu: 200m
`

// The kubernetes.io HPA walkthrough's autoscaling/v2 manifest, with a
// behavior that sets only scaleDown's window.
const exampleHPA = `apiVersion: autoscaling/v2
kind: HorizontalPodAutoscaler
metadata:
  name: php-apache
spec:
  scaleTargetRef:
    apiVersion: apps/v1
    kind: Deployment
    name: php-apache
  minReplicas: 1
  maxReplicas: 10
  metrics:
  - type: Resource
    resource:
      name: cpu
      target:
        type: Utilization
        averageUtilization: 50
  behavior:
    scaleDown:
      stabilizationWindowSeconds: 60
`

// TestHPAKubectl: kubectl autoscale creates an autoscaling/v2 HPA with the
// defaults; kubectl get hpa prints upstream's columns; a behavior is
// filled in; status written through /status is kept apart from the spec.
func TestHPAKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	k.run(t, "apply", "-f", writeManifest(t, "deploy.yaml", exampleHPADeployment))
	if out := k.run(t, "autoscale", "deployment", "php-apache", "--cpu-percent=50", "--min=1", "--max=5"); !strings.Contains(out, "horizontalpodautoscaler.autoscaling/php-apache autoscaled") {
		t.Fatalf("kubectl autoscale: %s", out)
	}
	out := k.run(t, "get", "hpa")
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 || !regexp.MustCompile(`^NAME\s+REFERENCE\s+TARGETS\s+MINPODS\s+MAXPODS\s+REPLICAS\s+AGE$`).MatchString(lines[0]) ||
		!regexp.MustCompile(`^php-apache\s+Deployment/php-apache\s+cpu: <unknown>/50%\s+1\s+5\s+0\s+\S+$`).MatchString(lines[1]) {
		t.Fatalf("kubectl get hpa:\n%s", out)
	}
	cs := e.client(t, "http")
	ctx := context.Background()
	hpas := cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	hpa, err := hpas.Get(ctx, "php-apache", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas != 1 || hpa.Spec.MaxReplicas != 5 || hpa.Spec.ScaleTargetRef.APIVersion != "apps/v1" ||
		len(hpa.Spec.Metrics) != 1 || *hpa.Spec.Metrics[0].Resource.Target.AverageUtilization != 50 || hpa.Spec.Behavior != nil {
		t.Fatalf("autoscaled spec %+v", hpa.Spec)
	}

	// Defaults: minReplicas 1, a cpu 80% metric, a behavior filled in.
	bare, err := hpas.Create(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Name: "bare"},
		Spec: autoscalingv2.HorizontalPodAutoscalerSpec{MaxReplicas: 3,
			ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "php-apache"},
			Behavior:       &autoscalingv2.HorizontalPodAutoscalerBehavior{ScaleDown: &autoscalingv2.HPAScalingRules{StabilizationWindowSeconds: ptr.To[int32](60)}}},
		Status: autoscalingv2.HorizontalPodAutoscalerStatus{DesiredReplicas: 7}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *bare.Spec.MinReplicas != 1 || bare.Spec.Metrics[0].Resource.Name != "cpu" || *bare.Spec.Metrics[0].Resource.Target.AverageUtilization != 80 || bare.Status.DesiredReplicas != 0 {
		t.Fatalf("defaults: %+v status %+v", bare.Spec, bare.Status)
	}
	up, down := bare.Spec.Behavior.ScaleUp, bare.Spec.Behavior.ScaleDown
	if *up.StabilizationWindowSeconds != 0 || *up.SelectPolicy != autoscalingv2.MaxChangePolicySelect || len(up.Policies) != 2 ||
		up.Policies[0] != (autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PodsScalingPolicy, Value: 4, PeriodSeconds: 15}) ||
		up.Policies[1] != (autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}) {
		t.Fatalf("scaleUp defaults %+v", up)
	}
	if *down.StabilizationWindowSeconds != 60 || *down.SelectPolicy != autoscalingv2.MaxChangePolicySelect || len(down.Policies) != 1 ||
		down.Policies[0] != (autoscalingv2.HPAScalingPolicy{Type: autoscalingv2.PercentScalingPolicy, Value: 100, PeriodSeconds: 15}) {
		t.Fatalf("scaleDown defaults %+v", down)
	}

	// Status goes through /status only, and shows in TARGETS and REPLICAS.
	hpa.Status = autoscalingv2.HorizontalPodAutoscalerStatus{CurrentReplicas: 2, DesiredReplicas: 3,
		CurrentMetrics: []autoscalingv2.MetricStatus{{Type: autoscalingv2.ResourceMetricSourceType,
			Resource: &autoscalingv2.ResourceMetricStatus{Name: "cpu", Current: autoscalingv2.MetricValueStatus{AverageUtilization: ptr.To[int32](72)}}}}}
	if _, err := hpas.UpdateStatus(ctx, hpa, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
	if out := k.run(t, "get", "hpa", "php-apache", "--no-headers"); !regexp.MustCompile(`^php-apache\s+Deployment/php-apache\s+cpu: 72%/50%\s+1\s+5\s+2\s+\S+\n$`).MatchString(out) {
		t.Fatalf("kubectl get hpa after status:\n%s", out)
	}
	// kubectl describe reads it through autoscaling/v2 with its events.
	if out := k.run(t, "describe", "hpa", "php-apache"); !regexp.MustCompile(`(?m)^Reference:\s+Deployment/php-apache$`).MatchString(out) ||
		!regexp.MustCompile(`(?m)^Min replicas:\s+1$`).MatchString(out) || !regexp.MustCompile(`(?m)^Deployment pods:\s+2 current / 3 desired$`).MatchString(out) {
		t.Fatalf("kubectl describe hpa:\n%s", out)
	}
	k.run(t, "apply", "-f", writeManifest(t, "hpa.yaml", exampleHPA))
	if out := k.run(t, "get", "horizontalpodautoscalers.autoscaling", "php-apache", "-o", "jsonpath={.spec.maxReplicas} {.spec.behavior.scaleUp.policies[0].type} {.status.currentReplicas}"); out != "10 Pods 2" {
		t.Fatalf("after apply: %q", out)
	}
	// Server-side apply knows the kind's schema.
	k.run(t, "apply", "--server-side", "--force-conflicts", "-f", writeManifest(t, "hpa.yaml", strings.Replace(exampleHPA, "maxReplicas: 10", "maxReplicas: 4", 1)))
	if out := k.run(t, "get", "hpa", "php-apache", "-o", "jsonpath={.spec.maxReplicas}"); out != "4" {
		t.Fatalf("after server-side apply: maxReplicas %q", out)
	}
	if out := k.run(t, "get", "all"); !strings.Contains(out, "horizontalpodautoscaler.autoscaling/php-apache") {
		t.Fatalf("kubectl get all has no HPA:\n%s", out)
	}
}

func TestHPAValidationKubectl(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	for _, c := range []struct{ name, body, want string }{
		{"max-zero", strings.Replace(exampleHPA, "maxReplicas: 10", "maxReplicas: 0", 1), `spec.maxReplicas: Required value: must be set and greater than 0`},
		{"max-negative", strings.Replace(exampleHPA, "maxReplicas: 10", "maxReplicas: -2", 1), `spec.maxReplicas: Invalid value: -2: must be greater than or equal to 1`},
		{"max-lt-min", strings.Replace(exampleHPA, "minReplicas: 1", "minReplicas: 12", 1), "spec.maxReplicas: Invalid value: 10: must be greater than or equal to `minReplicas`"},
		{"min-zero", strings.Replace(exampleHPA, "minReplicas: 1", "minReplicas: 0", 1), `spec.minReplicas: Invalid value: 0: must be greater than or equal to 1`},
		{"no-kind", strings.Replace(exampleHPA, "    kind: Deployment\n", "", 1), `spec.scaleTargetRef.kind: Required value`},
		{"bad-utilization", strings.Replace(exampleHPA, "averageUtilization: 50", "averageUtilization: 0", 1),
			`spec.metrics[0].resource.target.averageUtilization: Invalid value: 0: must be greater than 0`},
		{"bad-type", strings.Replace(exampleHPA, "  - type: Resource", "  - type: Magic", 1),
			`spec.metrics[0].type: Unsupported value: "Magic": supported values: "ContainerResource", "External", "Object", "Pods", "Resource"`},
		{"bad-window", strings.Replace(exampleHPA, "stabilizationWindowSeconds: 60", "stabilizationWindowSeconds: 4000", 1),
			`spec.behavior.scaleDown.stabilizationWindowSeconds: Invalid value: 4000: must be less than or equal to 3600`},
		{"bad-policy", strings.Replace(exampleHPA, "stabilizationWindowSeconds: 60", "policies:\n      - type: Percent\n        value: 0\n        periodSeconds: 2000", 1),
			`spec.behavior.scaleDown.policies[0].value: Invalid value: 0: must be greater than zero`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, stderr, code := k.fail(t, "apply", "-f", writeManifest(t, c.name+".yaml", c.body))
			if code != 1 || !strings.Contains(stderr, `The HorizontalPodAutoscaler "php-apache" is invalid: `) || !strings.Contains(stderr, c.want) {
				t.Errorf("exit %d, stderr:\n%s\nwant exit 1 and %q", code, stderr, c.want)
			}
		})
	}
}

// TestHPAStatusValidation: a /status write with a negative currentReplicas
// or desiredReplicas is refused with upstream's field errors (through
// client-go and kubectl's --subresource=status patch); a sound one passes.
func TestHPAStatusValidation(t *testing.T) {
	e := newEnv(t, HandlerOptions{})
	k := newKubectl(t, e.srv.URL)
	k.run(t, "apply", "-f", writeManifest(t, "hpa.yaml", exampleHPA))
	cs := e.client(t, "http")
	ctx := context.Background()
	hpas := cs.AutoscalingV2().HorizontalPodAutoscalers("default")
	hpa, err := hpas.Get(ctx, "php-apache", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	bad := hpa.DeepCopy()
	bad.Status.CurrentReplicas, bad.Status.DesiredReplicas = -1, -3
	_, err = hpas.UpdateStatus(ctx, bad, metav1.UpdateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), `status.currentReplicas: Invalid value: -1: must be greater than or equal to 0`) ||
		!strings.Contains(err.Error(), `status.desiredReplicas: Invalid value: -3: must be greater than or equal to 0`) {
		t.Fatalf("negative replicas through /status: %v", err)
	}
	_, stderr, code := k.fail(t, "patch", "hpa", "php-apache", "--subresource=status", "--type=merge", "-p", `{"status":{"desiredReplicas":-2}}`)
	if code != 1 || !strings.Contains(stderr, `The HorizontalPodAutoscaler "php-apache" is invalid: status.desiredReplicas: Invalid value: -2: must be greater than or equal to 0`) {
		t.Fatalf("kubectl patch --subresource=status: exit %d\n%s", code, stderr)
	}
	good := hpa.DeepCopy()
	good.Status.CurrentReplicas, good.Status.DesiredReplicas = 2, 3
	if got, err := hpas.UpdateStatus(ctx, good, metav1.UpdateOptions{}); err != nil || got.Status.DesiredReplicas != 3 {
		t.Fatalf("a sound status: %v %+v", err, got)
	}
}
