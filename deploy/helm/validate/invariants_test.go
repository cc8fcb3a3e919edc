package validate

import (
	"slices"
	"strconv"
	"strings"
	"testing"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
)

const metricsDir = "/var/run/livekit-agent-worker/metrics"

type expectations struct {
	drain, grace, preStop   int64
	secret                  string
	apiKeyKey, apiSecretKey string
	replicas                *int32
}

func deploymentOf(t *testing.T, objects []Object) *appsv1.Deployment {
	t.Helper()
	for _, o := range objects {
		if d, ok := o.Value.(*appsv1.Deployment); ok {
			return d
		}
	}
	t.Fatal("no Deployment rendered")
	return nil
}

func envOf(c corev1.Container) map[string]corev1.EnvVar {
	env := map[string]corev1.EnvVar{}
	for _, e := range c.Env {
		env[e.Name] = e
	}
	return env
}

func checkDeployment(t *testing.T, d *appsv1.Deployment, want expectations) {
	t.Helper()
	spec := d.Spec.Template.Spec
	if len(spec.Containers) != 1 {
		t.Fatalf("want one container, got %d", len(spec.Containers))
	}
	c := spec.Containers[0]
	env := envOf(c)
	checkReplicas(t, d, want.replicas)
	checkClocks(t, spec, c, env, want)
	checkProbes(t, c, env)
	checkSecurity(t, spec, c)
	checkMetricsVolume(t, spec, c, env)
	checkCredentials(t, c, env, want)
}

func checkReplicas(t *testing.T, d *appsv1.Deployment, want *int32) {
	t.Helper()
	got := d.Spec.Replicas
	if (got == nil) != (want == nil) || (got != nil && *got != *want) {
		t.Errorf("replicas %v, want %v", got, want)
	}
	ru := d.Spec.Strategy.RollingUpdate
	if ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
		t.Errorf("rolling update must keep every worker until its replacement is Ready: %+v", ru)
	}
}

// checkClocks: the grace period covers preStop + the worker's drain + a margin.
func checkClocks(t *testing.T, spec corev1.PodSpec, c corev1.Container, env map[string]corev1.EnvVar, want expectations) {
	t.Helper()
	if got := env["WORKER_DRAIN_TIMEOUT"].Value; got != strconv.FormatInt(want.drain, 10) {
		t.Errorf("WORKER_DRAIN_TIMEOUT %q, want %d", got, want.drain)
	}
	grace := spec.TerminationGracePeriodSeconds
	if grace == nil || *grace != want.grace {
		t.Fatalf("terminationGracePeriodSeconds %v, want %d", grace, want.grace)
	}
	if *grace <= want.drain+want.preStop {
		t.Errorf("grace %d leaves no margin after preStop %d + drain %d", *grace, want.preStop, want.drain)
	}
	if c.Lifecycle == nil || c.Lifecycle.PreStop == nil || c.Lifecycle.PreStop.Exec == nil {
		t.Fatal("no preStop exec hook")
	}
	cmd := c.Lifecycle.PreStop.Exec.Command
	if !slices.Equal(cmd, []string{"sleep", strconv.FormatInt(want.preStop, 10)}) {
		t.Errorf("preStop %v, want sleep %d", cmd, want.preStop)
	}
}

func checkProbes(t *testing.T, c corev1.Container, env map[string]corev1.EnvVar) {
	t.Helper()
	health := portNamed(t, c, "health")
	if env["HEALTH_PORT"].Value != strconv.Itoa(int(health)) || env["BIND_HOST"].Value != "0.0.0.0" {
		t.Errorf("HEALTH_PORT %q BIND_HOST %q, container port %d", env["HEALTH_PORT"].Value, env["BIND_HOST"].Value, health)
	}
	for name, probe := range map[string]*corev1.Probe{
		"readiness": c.ReadinessProbe, "liveness": c.LivenessProbe, "startup": c.StartupProbe,
	} {
		want := "/worker"
		if name == "readiness" {
			want = "/" // 503 while not registered with LiveKit
		}
		if probe == nil || probe.HTTPGet == nil {
			t.Errorf("%s probe missing or not HTTP", name)
			continue
		}
		if probe.HTTPGet.Path != want || probe.HTTPGet.Port.String() != "health" {
			t.Errorf("%s probe %s on %s, want %s on the health port", name, probe.HTTPGet.Path, probe.HTTPGet.Port.String(), want)
		}
	}
	metrics := portNamed(t, c, "metrics")
	if env["METRICS_PORT"].Value != strconv.Itoa(int(metrics)) {
		t.Errorf("METRICS_PORT %q, container port %d", env["METRICS_PORT"].Value, metrics)
	}
}

func portNamed(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("no container port named %s", name)
	return 0
}

func checkSecurity(t *testing.T, spec corev1.PodSpec, c corev1.Container) {
	t.Helper()
	psc, sc := spec.SecurityContext, c.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser == 0 {
		t.Errorf("pod must run as a non-root user: %+v", psc)
	}
	if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
		t.Errorf("root filesystem must be read-only: %+v", sc)
	}
	if sc == nil || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
		t.Errorf("privilege escalation must be off: %+v", sc)
	}
	if sc == nil || sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
		t.Errorf("capabilities must drop ALL: %+v", sc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Error("the worker needs no Kubernetes API token")
	}
}

// checkMetricsVolume: the multiprocess directory and /tmp are writable emptyDirs.
func checkMetricsVolume(t *testing.T, spec corev1.PodSpec, c corev1.Container, env map[string]corev1.EnvVar) {
	t.Helper()
	if env["PROMETHEUS_MULTIPROC_DIR"].Value != metricsDir {
		t.Errorf("PROMETHEUS_MULTIPROC_DIR %q, want %s", env["PROMETHEUS_MULTIPROC_DIR"].Value, metricsDir)
	}
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		if m.ReadOnly {
			t.Errorf("mount %s must be writable", m.MountPath)
		}
		mounts[m.MountPath] = m.Name
	}
	for _, path := range []string{metricsDir, "/tmp"} {
		name, ok := mounts[path]
		if !ok {
			t.Errorf("nothing mounted at %s", path)
			continue
		}
		idx := slices.IndexFunc(spec.Volumes, func(v corev1.Volume) bool { return v.Name == name })
		if idx < 0 || spec.Volumes[idx].EmptyDir == nil || spec.Volumes[idx].EmptyDir.SizeLimit == nil {
			t.Errorf("%s must be a size-limited emptyDir", path)
		}
	}
}

// checkCredentials: the key and secret come from a Secret; no env value looks like one.
func checkCredentials(t *testing.T, c corev1.Container, env map[string]corev1.EnvVar, want expectations) {
	t.Helper()
	for name, key := range map[string]string{"LIVEKIT_API_KEY": want.apiKeyKey, "LIVEKIT_API_SECRET": want.apiSecretKey} {
		e := env[name]
		if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
			t.Errorf("%s must come from a secretKeyRef, got %+v", name, e)
			continue
		}
		ref := e.ValueFrom.SecretKeyRef
		if ref.Name != want.secret || ref.Key != key {
			t.Errorf("%s from secret %s key %s, want %s key %s", name, ref.Name, ref.Key, want.secret, key)
		}
	}
	for _, e := range c.Env {
		upper := strings.ToUpper(e.Name)
		if (strings.Contains(upper, "SECRET") || strings.Contains(upper, "KEY") || strings.Contains(upper, "TOKEN")) && e.Value != "" {
			t.Errorf("%s carries a literal value; secrets come from secretKeyRef", e.Name)
		}
	}
	if len(c.EnvFrom) != 0 {
		t.Errorf("envFrom would bypass the managed settings: %+v", c.EnvFrom)
	}
}

func checkPodMonitor(t *testing.T, objects []Object) {
	t.Helper()
	for _, o := range objects {
		pm, ok := o.Value.(*monitoringv1.PodMonitor)
		if !ok {
			continue
		}
		eps := pm.Spec.PodMetricsEndpoints
		if len(eps) != 1 || eps[0].Port == nil || *eps[0].Port != "metrics" || eps[0].Path != "/metrics" {
			t.Errorf("PodMonitor must scrape the metrics port's /metrics: %+v", eps)
		}
		if pm.Spec.Selector.MatchLabels["app.kubernetes.io/instance"] != "voice" {
			t.Errorf("PodMonitor selects %v", pm.Spec.Selector.MatchLabels)
		}
		return
	}
	t.Error("no PodMonitor rendered")
}

func checkScaledObject(t *testing.T, objects []Object) {
	t.Helper()
	for _, o := range objects {
		so, ok := o.Value.(*kedav1alpha1.ScaledObject)
		if !ok {
			continue
		}
		if so.Spec.ScaleTargetRef == nil || so.Spec.ScaleTargetRef.Kind != "Deployment" || so.Spec.ScaleTargetRef.Name != "voice-agent" {
			t.Errorf("ScaledObject targets %+v", so.Spec.ScaleTargetRef)
		}
		if so.Spec.MinReplicaCount == nil || *so.Spec.MinReplicaCount < 1 {
			t.Errorf("minReplicaCount %v: a fleet of zero cannot be offered a room", so.Spec.MinReplicaCount)
		}
		if len(so.Spec.Triggers) != 1 || so.Spec.Triggers[0].Type != "prometheus" {
			t.Fatalf("want one prometheus trigger, got %+v", so.Spec.Triggers)
		}
		md := so.Spec.Triggers[0].Metadata
		if !strings.Contains(md["query"], "lk_agents_active_jobs") || md["threshold"] != "8" {
			t.Errorf("trigger metadata %v", md)
		}
		return
	}
	t.Error("no ScaledObject rendered")
}
