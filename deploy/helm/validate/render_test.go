package validate

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const chartDir = "../livekit-agent-worker"

// helmBin is the helm binary the caller built (make test-helm sets HELM from
// scripts/ensure-infra.sh helm); the test fails rather than skips without it.
func helmBin(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("HELM")
	if bin == "" {
		t.Fatal("HELM is not set: run make test-helm, or HELM=$(scripts/ensure-infra.sh helm) go test ./...")
	}
	return bin
}

// render runs helm template on the chart with the given extra arguments.
func render(t *testing.T, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(helmBin(t), append([]string{"template", "voice", chartDir, "--namespace", "voice"}, args...)...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", &renderError{stderr: stderr.String(), err: err}
	}
	return string(out), nil
}

type renderError struct {
	stderr string
	err    error
}

func (e *renderError) Error() string { return e.err.Error() + ": " + e.stderr }

func renderStrict(t *testing.T, args ...string) []Object {
	t.Helper()
	out, err := render(t, args...)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	objects, err := DecodeStrict(out)
	if err != nil {
		t.Fatalf("helm template %v: %v", args, err)
	}
	return objects
}

func kinds(objects []Object) map[string]int {
	counts := map[string]int{}
	for _, o := range objects {
		counts[o.Kind]++
	}
	return counts
}

func TestDefaultValuesRenderStrictly(t *testing.T) {
	objects := renderStrict(t)
	want := map[string]int{"Deployment": 1, "Service": 1, "ServiceAccount": 1, "PodDisruptionBudget": 1}
	assertKinds(t, kinds(objects), want)
	checkDeployment(t, deploymentOf(t, objects), expectations{
		drain: 600, grace: 635, preStop: 5, secret: "voice-livekit-agent-worker-livekit",
		apiKeyKey: "LIVEKIT_API_KEY", apiSecretKey: "LIVEKIT_API_SECRET", replicas: ptr(int32(2)),
	})
}

func TestProductionValuesRenderStrictly(t *testing.T) {
	objects := renderStrict(t, "-f", filepath.Join(chartDir, "ci", "production-values.yaml"))
	want := map[string]int{
		"Deployment": 1, "Service": 1, "ServiceAccount": 1, "PodDisruptionBudget": 1,
		"PodMonitor": 1, "ScaledObject": 1,
	}
	assertKinds(t, kinds(objects), want)
	// KEDA owns the replica count: a fixed one would be reset by every helm upgrade.
	checkDeployment(t, deploymentOf(t, objects), expectations{
		drain: 1800, grace: 1900, preStop: 5, secret: "livekit-api",
		apiKeyKey: "key", apiSecretKey: "secret", replicas: nil,
	})
	checkPodMonitor(t, objects)
	checkScaledObject(t, objects)
}

func TestEveryValuesFileInCIRendersStrictly(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no values files under %s/ci: %v", chartDir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) { renderStrict(t, "-f", file) })
	}
}

func assertKinds(t *testing.T, got, want map[string]int) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("rendered kinds %v, want %v", got, want)
	}
	for kind, n := range want {
		if got[kind] != n {
			t.Errorf("rendered %d %s, want %d (all: %v)", got[kind], kind, n, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }
