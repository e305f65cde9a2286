package api

import (
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// validPod is a defaulted Pod that passes validation; cases break one thing.
func validPod() *corev1.Pod {
	pod := &corev1.Pod{}
	pod.Name = "web"
	pod.Labels = map[string]string{"app": "web"}
	pod.Spec.Containers = []corev1.Container{{
		Name:         "main",
		Image:        "web.wasm",
		Ports:        []corev1.ContainerPort{{Name: "http", ContainerPort: 8080}},
		Env:          []corev1.EnvVar{{Name: "MODE", Value: "prod"}},
		VolumeMounts: []corev1.VolumeMount{{Name: "data", MountPath: "/data"}},
	}}
	pod.Spec.Volumes = []corev1.Volume{{Name: "data"}}
	SetDefaultsPod(pod)
	return pod
}

func TestValidatePod(t *testing.T) {
	tests := []struct {
		name   string
		opts   Options
		mutate func(p *corev1.Pod)
		want   []string
	}{
		{name: "valid", mutate: func(p *corev1.Pod) {}},
		{name: "valid with everything supported", opts: Options{AllowHostPath: true}, mutate: func(p *corev1.Pod) {
			c := &p.Spec.Containers[0]
			c.Env = append(c.Env,
				corev1.EnvVar{Name: "my.env-name", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.labels['app.kubernetes.io/name']"}}},
				corev1.EnvVar{Name: "IP", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "status.podIP"}}},
				corev1.EnvVar{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "side", Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}})
			c.Resources.Limits = corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("64Mi")}
			c.Resources.Requests = corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("32Mi")}
			c.LivenessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("http")}}}
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(false), AllowPrivilegeEscalation: ptr.To(false), RunAsUser: ptr.To[int64](1000)}
			p.Spec.InitContainers = []corev1.Container{
				{Name: "side", Image: "side.wasm", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyAlways), ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"ok"}}}}},
				{Name: "setup", Image: "setup.wasm"},
			}
			p.Spec.Volumes = append(p.Spec.Volumes, corev1.Volume{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/www"}}})
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](60)
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](0)
			SetDefaultsPod(p)
		}},
		{name: "metadata", mutate: func(p *corev1.Pod) {
			p.Name = "Web_1"
			p.Namespace = ""
			p.Labels = map[string]string{"bad key!": "v"}
			p.Annotations = map[string]string{"": "v"}
		}, want: []string{
			`metadata.name: Invalid value: "Web_1": a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')`,
			"metadata.namespace: Required value",
			`metadata.labels: Invalid value: "bad key!": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
			`metadata.annotations: Invalid value: "": name part must be non-empty`,
			`metadata.annotations: Invalid value: "": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')`,
		}},
		{name: "no name", mutate: func(p *corev1.Pod) { p.Name = "" }, want: []string{"metadata.name: Required value: name or generateName is required"}},
		{name: "host port twice (upstream's checkHostPortConflicts)", want: []string{
			`spec.containers[1].ports[0].hostPort: Duplicate value: "TCP//8080"`,
		}, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolTCP},
				{ContainerPort: 80, HostPort: 8080, Protocol: corev1.ProtocolUDP},         // another protocol
				{ContainerPort: 81, HostPort: 8080, HostIP: "127.0.0.2", Protocol: "TCP"}, // another host IP
			}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "second", Image: "s.wasm",
				Ports: []corev1.ContainerPort{{ContainerPort: 90, HostPort: 8080, Protocol: corev1.ProtocolTCP}}})
			SetDefaultsPod(p)
		}},
		{name: "no containers", mutate: func(p *corev1.Pod) { p.Spec.Containers = nil }, want: []string{"spec.containers: Required value: must contain at least one container"}},
		{name: "container names", want: []string{
			"spec.initContainers[1].name: Required value",
			"spec.containers[0].name: Duplicate value: \"main\"",
			"spec.containers[1].name: Invalid value: \"Side_Car\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
			"spec.containers[2].image: Invalid value: \" s.wasm\": must not have leading or trailing whitespace",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{{Name: "main", Image: "i.wasm"}, {Name: "", Image: "i.wasm"}}
			p.Spec.Containers = append(p.Spec.Containers, corev1.Container{Name: "Side_Car", Image: "s.wasm"}, corev1.Container{Name: "side-car", Image: " s.wasm"})
			SetDefaultsPod(p)
		}},
		{name: "image required", want: []string{
			"spec.containers[0].image: Required value",
		}, mutate: func(p *corev1.Pod) { p.Spec.Containers[0].Image = "" }},
		{name: "ports", want: []string{
			"spec.containers[0].ports[1].name: Duplicate value: \"http\"",
			"spec.containers[0].ports[1].containerPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
			"spec.containers[0].ports[2].name: Invalid value: \"Not_OK\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
			"spec.containers[0].ports[2].containerPort: Required value",
			"spec.containers[0].ports[2].hostPort: Invalid value: -1: must be between 1 and 65535, inclusive",
			"spec.containers[0].ports[2].protocol: Unsupported value: \"ICMP\": supported values: \"TCP\", \"UDP\", \"SCTP\"",
			"spec.containers[0].ports[3].protocol: Required value",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Ports = []corev1.ContainerPort{
				{Name: "http", ContainerPort: 80, Protocol: "TCP"},
				{Name: "http", ContainerPort: 70000, Protocol: "TCP"},
				{Name: "Not_OK", ContainerPort: 0, HostPort: -1, Protocol: "ICMP"},
				{ContainerPort: 81},
			}
		}},
		{name: "env", want: []string{
			"spec.containers[0].env[0].name: Required value",
			"spec.containers[0].env[1].name: Invalid value: \"1BAD=\": a valid environment variable name must consist of alphabetic characters, digits, '_', '-', or '.', and must not start with a digit (e.g. 'my.env-name',  or 'MY_ENV.NAME',  or 'MyEnvName1', regex used for validation is '[-._a-zA-Z][-._a-zA-Z0-9]*')",
			"spec.containers[0].env[2].valueFrom: Invalid value: \"\": may not be specified when `value` is not empty",
			"spec.containers[0].env[3].valueFrom: Invalid value: \"\": must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`",
			"spec.containers[0].env[4].valueFrom: Invalid value: \"\": may not have more than one field specified at a time",
			"spec.containers[0].env[5].valueFrom.fieldRef.fieldPath: Unsupported value: \"metadata.labels\": supported values: \"metadata.annotations['<KEY>']\", \"metadata.labels['<KEY>']\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\", \"spec.nodeName\", \"spec.serviceAccountName\", \"status.hostIP\", \"status.podIP\", \"status.podIPs\"",
			"spec.containers[0].env[6].valueFrom.fieldRef.fieldPath: Invalid value: \"metadata.labels['bad key']\": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')",
			"spec.containers[0].env[7].valueFrom.fieldRef.apiVersion: Required value",
			"spec.containers[0].env[8].valueFrom.configMapKeyRef.name: Required value",
			"spec.containers[0].env[9].valueFrom.resourceFieldRef.containerName: Not found: \"ghost\"",
			"spec.containers[0].env[9].valueFrom.resourceFieldRef.resource: Unsupported value: \"limits.gpu\": supported values: \"limits.cpu\", \"limits.memory\", \"requests.cpu\", \"requests.memory\"",
			"spec.containers[0].env[10].valueFrom.resourceFieldRef.divisor: Invalid value: \"2\": only divisor's values 1m and 1 are supported with the cpu resource",
		}, mutate: func(p *corev1.Pod) {
			fr := func(path string) *corev1.EnvVarSource {
				return &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}}
			}
			p.Spec.Containers[0].Env = []corev1.EnvVar{
				{Name: ""},
				{Name: "1BAD=", Value: "x"},
				{Name: "BOTH", Value: "x", ValueFrom: fr("metadata.name")},
				{Name: "NONE", ValueFrom: &corev1.EnvVarSource{}},
				{Name: "TWO", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: "metadata.uid"}, ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}},
				{Name: "PATHS", ValueFrom: fr("metadata.labels")},
				{Name: "LABEL", ValueFrom: fr("metadata.labels['bad key']")},
				{Name: "NOVER", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
				{Name: "CM", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{Key: "k"}}},
				{Name: "RES", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{ContainerName: "ghost", Resource: "limits.gpu"}}},
				{Name: "DIV", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "requests.cpu", Divisor: resource.MustParse("2")}}},
			}
		}},
		{name: "volume mounts", want: []string{
			"spec.containers[0].volumeMounts[1].mountPath: Invalid value: \"/data/\": must be unique",
			"spec.containers[0].volumeMounts[2].name: Not found: \"ghost\"",
			"spec.containers[0].volumeMounts[2].mountPath: Invalid value: \"relative\": must be an absolute path",
			"spec.containers[0].volumeMounts[3].name: Required value",
			"spec.containers[0].volumeMounts[3].mountPath: Required value",
			"spec.containers[0].volumeMounts.subPath: Invalid value: \"../up\": must not contain '..'",
			"spec.containers[0].volumeMounts[5].mountPropagation: Forbidden: not supported by wasmpod: mounts do not propagate into or out of a WASM module",
			// Upstream's validateLocalDescendingPath reports both.
			"spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs/../x\": must be a relative path",
			"spec.containers[0].volumeMounts.subPath: Invalid value: \"/abs/../x\": must not contain '..'",
			"spec.containers[0].volumeMounts[7].subPathExpr: Invalid value: \"/$(X)/..\": subPathExpr and subPath are mutually exclusive",
			"spec.containers[0].volumeMounts.subPathExpr: Invalid value: \"/$(X)/..\": must be a relative path",
			"spec.containers[0].volumeMounts.subPathExpr: Invalid value: \"/$(X)/..\": must not contain '..'",
		}, mutate: func(p *corev1.Pod) {
			defer func() {
				p.Spec.Containers[0].VolumeMounts = append(p.Spec.Containers[0].VolumeMounts,
					corev1.VolumeMount{Name: "data", MountPath: "/both", SubPath: "/abs/../x"},
					corev1.VolumeMount{Name: "data", MountPath: "/exclusive", SubPath: "s", SubPathExpr: "/$(X)/.."})
			}()
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
				{Name: "data", MountPath: "/data"},
				{Name: "data", MountPath: "/data/"},
				{Name: "ghost", MountPath: "relative"},
				{Name: "", MountPath: ""},
				{Name: "data", MountPath: "/sub", SubPath: "../up"},
				{Name: "data", MountPath: "/expr", SubPathExpr: "$(POD)", MountPropagation: ptr.To(corev1.MountPropagationBidirectional)},
			}
		}},
		{name: "volumes", want: []string{
			"spec.volumes[0].emptyDir.medium: Unsupported value: \"HugePages\": supported values: \"\", \"Memory\"",
			"spec.volumes[1].name: Duplicate value: \"data\"",
			"spec.volumes[2].name: Invalid value: \"Bad_Name\": a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')",
			"spec.volumes[2]: Required value: must specify a volume type",
			"spec.volumes[3].hostPath: Forbidden: not supported by wasmpod: hostPath volumes are disabled (allow them in the configuration)",
			"spec.volumes[4].configMap.name: Required value",
			"spec.volumes[5].secret: Forbidden: may not specify more than 1 volume type",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = []corev1.Volume{
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{Medium: "HugePages"}}},
				{Name: "data", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "Bad_Name"},
				{Name: "host", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/etc"}}},
				{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{}}},
				{Name: "two", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}, Secret: &corev1.SecretVolumeSource{}}},
			}
		}},
		{name: "configuration volumes", want: []string{
			"spec.volumes[1].configMap.defaultMode: Invalid value: 512: must be a number between 0 and 0777 (octal), both inclusive",
			"spec.volumes[1].configMap.items[0].path: Invalid value: \"../escape\": must not contain '..'",
			"spec.volumes[1].configMap.items[1].path: Invalid value: \"/abs\": must be a relative path",
			"spec.volumes[1].configMap.items[2].key: Required value",
			"spec.volumes[1].configMap.items[2].path: Invalid value: \"..data\": must not start with '..'",
			"spec.volumes[1].configMap.items[3].mode: Invalid value: -1: must be a number between 0 and 0777 (octal), both inclusive",
			"spec.volumes[2].secret.secretName: Required value",
			"spec.volumes[3].downwardAPI.items[0].fieldRef.fieldPath: Unsupported value: \"spec.nodeName\": supported values: \"metadata.annotations\", \"metadata.labels\", \"metadata.name\", \"metadata.namespace\", \"metadata.uid\"",
			"spec.volumes[3].downwardAPI.items[1].resourceFieldRef.containerName: Required value",
			"spec.volumes[3].downwardAPI.items[2]: Required value: one of fieldRef and resourceFieldRef is required",
			"spec.volumes[4].projected.sources[1].secret.items[0].path: Invalid value: \"a\": conflicting duplicate paths",
			"spec.volumes[4].projected.sources[2].serviceAccountToken.expirationSeconds: Invalid value: 60: may not specify a duration less than 10 minutes",
			"spec.volumes[4].projected.sources[2].serviceAccountToken.path: Invalid value: \"a\": conflicting duplicate paths",
			"spec.volumes[4].projected.sources[3].serviceAccountToken.expirationSeconds: Invalid value: 8589934592: may not specify a duration larger than 2^32 seconds",
			"spec.volumes[4].projected.path: Required value",
			"spec.volumes[4].projected.path: Invalid value: \"../t\": must not contain '..'",
			"spec.containers[0].volumeMounts[1].subPathExpr: Invalid value: \"$(X)\": subPathExpr and subPath are mutually exclusive",
			"spec.containers[0].volumeMounts.subPathExpr: Invalid value: \"../$(X)\": must not contain '..'",
		}, mutate: func(p *corev1.Pod) {
			fr := func(path string) *corev1.ObjectFieldSelector {
				return &corev1.ObjectFieldSelector{APIVersion: "v1", FieldPath: path}
			}
			p.Spec.Volumes = append(p.Spec.Volumes,
				corev1.Volume{Name: "cm", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{
					LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, DefaultMode: ptr.To[int32](0o1000),
					Items: []corev1.KeyToPath{{Key: "a", Path: "../escape"}, {Key: "b", Path: "/abs"}, {Path: "..data"}, {Key: "d", Path: "d", Mode: ptr.To[int32](-1)}}}}},
				corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{}}},
				corev1.Volume{Name: "d", VolumeSource: corev1.VolumeSource{DownwardAPI: &corev1.DownwardAPIVolumeSource{Items: []corev1.DownwardAPIVolumeFile{
					{Path: "n", FieldRef: fr("spec.nodeName")}, {Path: "r", ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.cpu"}}, {Path: "x"}}}}},
				corev1.Volume{Name: "p", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{Sources: []corev1.VolumeProjection{
					{ConfigMap: &corev1.ConfigMapProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "c"}, Items: []corev1.KeyToPath{{Key: "k", Path: "a"}}}},
					{Secret: &corev1.SecretProjection{LocalObjectReference: corev1.LocalObjectReference{Name: "s"}, Items: []corev1.KeyToPath{{Key: "k", Path: "a"}}}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "a", ExpirationSeconds: ptr.To[int64](60)}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{ExpirationSeconds: ptr.To[int64](1 << 33)}},
					{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "../t", ExpirationSeconds: ptr.To[int64](600)}}}}}})
			p.Spec.Containers[0].VolumeMounts = []corev1.VolumeMount{
				{Name: "cm", MountPath: "/cm"},
				{Name: "data", MountPath: "/a", SubPath: "x", SubPathExpr: "$(X)"},
				{Name: "data", MountPath: "/b", SubPathExpr: "../$(X)"},
			}
		}},
		{name: "hostPath when allowed", want: []string{
			"spec.volumes[1].hostPath.path: Invalid value: \"rel\": must be an absolute path",
			"spec.volumes[2].hostPath.path: Invalid value: \"/x/../y\": must not contain '..'",
			"spec.volumes[2].hostPath.type: Unsupported value: \"Socket\": supported values: \"\", \"DirectoryOrCreate\", \"Directory\", \"FileOrCreate\", \"File\"",
			"spec.volumes[3].hostPath.path: Required value",
		}, opts: Options{AllowHostPath: true}, mutate: func(p *corev1.Pod) {
			p.Spec.Volumes = append(p.Spec.Volumes,
				corev1.Volume{Name: "a", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "rel"}}},
				corev1.Volume{Name: "b", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/x/../y", Type: ptr.To(corev1.HostPathSocket)}}},
				corev1.Volume{Name: "c", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{}}})
		}},
		{name: "pod fields", want: []string{
			"spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
			"spec.dnsPolicy: Unsupported value: \"Whatever\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
			"spec.activeDeadlineSeconds: Invalid value: 0: must be between 1 and 2147483647, inclusive",
			"spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.RestartPolicy = "Sometimes"
			p.Spec.ActiveDeadlineSeconds = ptr.To[int64](0)
			p.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-1)
			p.Spec.DNSPolicy = "Whatever"
		}},
		{name: "restartPolicy required", want: []string{
			"spec.restartPolicy: Required value",
		}, mutate: func(p *corev1.Pod) { p.Spec.RestartPolicy = "" }},
		{name: "resources", want: []string{
			"spec.containers[0].resources.limits[memory]: Invalid value: \"-1\": must be greater than or equal to 0",
			"spec.containers[0].resources.limits[nvidia.com/gpu]: Unsupported value: \"nvidia.com/gpu\": supported values: \"cpu\", \"ephemeral-storage\", \"memory\"",
			"spec.containers[0].resources.requests[cpu]: Invalid value: \"1\": must be less than or equal to cpu limit of 500m",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.Containers[0].Resources = corev1.ResourceRequirements{
				Limits:   corev1.ResourceList{"cpu": resource.MustParse("500m"), "memory": resource.MustParse("-1"), "nvidia.com/gpu": resource.MustParse("1")},
				Requests: corev1.ResourceList{"cpu": resource.MustParse("1"), "memory": resource.MustParse("1Mi")},
			}
		}},
		{name: "init container restartPolicy and probes", want: []string{
			"spec.initContainers[0].restartPolicy: Unsupported value: \"OnFailure\": supported values: \"Always\"",
			"spec.initContainers[1].livenessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
			"spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.InitContainers = []corev1.Container{
				{Name: "a", Image: "a.wasm", RestartPolicy: ptr.To(corev1.ContainerRestartPolicyOnFailure)},
				{Name: "b", Image: "b.wasm", LivenessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{Command: []string{"x"}}}, SuccessThreshold: 1}},
			}
			p.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}},
		{name: "probes", want: []string{
			"spec.containers[0].livenessProbe: Required value: must specify a handler type",
			"spec.containers[0].livenessProbe.periodSeconds: Invalid value: -1: must be greater than or equal to 0",
			"spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
			"spec.containers[0].readinessProbe.exec.command: Required value",
			"spec.containers[0].readinessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
			"spec.containers[0].startupProbe.httpGet.port: Invalid value: \"Bad_Port\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
		}, mutate: func(p *corev1.Pod) {
			c := &p.Spec.Containers[0]
			c.LivenessProbe = &corev1.Probe{SuccessThreshold: 2, PeriodSeconds: -1}
			c.ReadinessProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{Exec: &corev1.ExecAction{}, TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(0)}}}
			c.StartupProbe = &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Port: intstr.FromString("Bad_Port")}}, SuccessThreshold: 1}
		}},
		{name: "what the sandbox cannot honour", want: []string{
			"spec.containers[0].envFrom[0].secretRef.name: Required value",
			"spec.containers[0].volumeDevices: Forbidden: not supported by wasmpod: no block devices can be given to a WASM module",
			"spec.containers[0].securityContext.privileged: Forbidden: not supported by wasmpod: a WASM module cannot be privileged",
			"spec.containers[0].securityContext.capabilities.add: Forbidden: not supported by wasmpod: a WASM module has no Linux capabilities",
			"spec.ephemeralContainers: Forbidden: cannot be set on create",
			"spec.hostNetwork: Forbidden: not supported by wasmpod: pods get their own network",
			"spec.hostPID: Forbidden: not supported by wasmpod: a WASM module cannot share the host's processes",
			"spec.hostIPC: Forbidden: not supported by wasmpod: a WASM module cannot share the host's IPC",
			"spec.shareProcessNamespace: Forbidden: not supported by wasmpod: WASM modules have no process namespace",
			"spec.securityContext.sysctls: Forbidden: not supported by wasmpod: WASM modules have no kernel parameters",
		}, mutate: func(p *corev1.Pod) {
			p.Spec.HostNetwork = true
			p.Spec.HostPID = true
			p.Spec.HostIPC = true
			p.Spec.ShareProcessNamespace = ptr.To(true)
			p.Spec.SecurityContext.Sysctls = []corev1.Sysctl{{Name: "net.core.somaxconn", Value: "1024"}}
			p.Spec.EphemeralContainers = []corev1.EphemeralContainer{{}}
			c := &p.Spec.Containers[0]
			c.SecurityContext = &corev1.SecurityContext{Privileged: ptr.To(true), Capabilities: &corev1.Capabilities{Add: []corev1.Capability{"NET_ADMIN"}, Drop: []corev1.Capability{"ALL"}}}
			c.VolumeDevices = []corev1.VolumeDevice{{Name: "data", DevicePath: "/dev/xvda"}}
			c.EnvFrom = []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{}}}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pod := validPod()
			tt.mutate(pod)
			errs := ValidatePod(pod, tt.opts)
			var got []string
			for _, e := range errs {
				got = append(got, e.Error())
			}
			if g, w := strings.Join(got, "\n"), strings.Join(tt.want, "\n"); g != w {
				t.Errorf("errors:\n got: %s\nwant: %s", g, w)
			}
		})
	}
}
