package validate

import (
	"strings"
	"testing"
)

const goodService = `# Source: chart/templates/service.yaml
apiVersion: v1
kind: Service
metadata:
  name: worker
spec:
  ports:
    - name: health
      port: 8081
`

func TestDecodeStrictAcceptsAKnownObject(t *testing.T) {
	objects, err := DecodeStrict("---\n" + goodService)
	if err != nil || len(objects) != 1 || objects[0].Kind != "Service" || objects[0].Name != "worker" {
		t.Fatalf("objects %+v, err %v", objects, err)
	}
}

// Each case is the good Service with one mistake; every one must fail, naming what is wrong.
func TestDecodeStrictRejects(t *testing.T) {
	cases := map[string]struct{ manifest, want string }{
		"unknown field": {
			strings.Replace(goodService, "      port: 8081", "      port: 8081\n      prot: TCP", 1),
			`unknown field "prot"`,
		},
		"unknown field in a CRD": {
			"apiVersion: monitoring.coreos.com/v1\nkind: PodMonitor\nmetadata:\n  name: m\nspec:\n  podMetricEndpoints: []\n",
			`unknown field "podMetricEndpoints"`,
		},
		"wrong type": {
			strings.Replace(goodService, "port: 8081", `port: "8081"`, 1),
			"cannot unmarshal string",
		},
		"duplicate key": {
			strings.Replace(goodService, "  name: worker", "  name: worker\n  name: other", 1),
			`key "name" already set`,
		},
		"unexpected kind": {
			strings.Replace(goodService, "kind: Service", "kind: Ingress", 1),
			"unexpected object v1 Ingress",
		},
		"wrong KEDA field type": {
			"apiVersion: keda.sh/v1alpha1\nkind: ScaledObject\nmetadata:\n  name: s\nspec:\n  scaleTargetRef:\n    name: d\n  minReplicaCount: two\n  triggers: []\n",
			"cannot unmarshal string",
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeStrict(tc.manifest)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}
