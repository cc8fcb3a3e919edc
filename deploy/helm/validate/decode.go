package validate

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"strings"

	kedav1alpha1 "github.com/kedacore/keda/v2/apis/keda/v1alpha1"
	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

// Object is one rendered manifest decoded into its typed struct.
type Object struct {
	Kind   string
	Name   string
	Source string
	Value  any
}

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
	Metadata   struct {
		Name string `json:"name"`
	} `json:"metadata"`
}

// newTyped returns a pointer to an empty struct of the official type for apiVersion/kind; a
// kind the chart is not expected to render is an error.
func newTyped(apiVersion, kind string) (any, error) {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "monitoring.coreos.com/v1/PodMonitor":
		return &monitoringv1.PodMonitor{}, nil
	case "keda.sh/v1alpha1/ScaledObject":
		return &kedav1alpha1.ScaledObject{}, nil
	}
	return nil, fmt.Errorf("unexpected object %s %s", apiVersion, kind)
}

var docSeparator = regexp.MustCompile(`(?m)^---\s*$`)

// DecodeStrict splits helm's multi-document output and decodes each object into its official
// type, failing on an unknown field, a wrong type or a duplicated key.
func DecodeStrict(manifests string) ([]Object, error) {
	var objects []Object
	for _, doc := range docSeparator.Split(manifests, -1) {
		source := sourceOf(doc)
		// YAML to JSON keeps every key (sigs.k8s.io/yaml rejects duplicates), so the JSON
		// decoder below sees exactly what the API server would.
		raw, err := yaml.YAMLToJSONStrict([]byte(doc))
		if err != nil {
			return nil, fmt.Errorf("%s: invalid YAML: %w", source, err)
		}
		if bytes.Equal(bytes.TrimSpace(raw), []byte("null")) {
			continue // comments only
		}
		var meta typeMeta
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		typed, err := newTyped(meta.APIVersion, meta.Kind)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(typed); err != nil {
			return nil, fmt.Errorf("%s (%s %s): %w", source, meta.Kind, meta.Metadata.Name, err)
		}
		if _, err := dec.Token(); err != io.EOF {
			return nil, fmt.Errorf("%s: trailing data after the object", source)
		}
		objects = append(objects, Object{Kind: meta.Kind, Name: meta.Metadata.Name, Source: source, Value: typed})
	}
	return objects, nil
}

func sourceOf(doc string) string {
	for _, line := range strings.Split(doc, "\n") {
		if rest, ok := strings.CutPrefix(line, "# Source: "); ok {
			return rest
		}
	}
	return "(no source comment)"
}
