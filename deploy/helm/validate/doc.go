// Package validate checks the livekit-agent-worker Helm chart without a cluster: it renders the
// chart with helm (the binary named by $HELM) and decodes every object strictly into the
// official API types of Kubernetes, the Prometheus Operator and KEDA, so an unknown field or a
// wrong type fails, then asserts the rollout, security and secret invariants of the Deployment.
package validate
