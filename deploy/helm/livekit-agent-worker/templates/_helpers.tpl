{{/* Names and labels, in the shape `helm create` gives them. */}}
{{- define "law.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "law.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{- define "law.selectorLabels" -}}
app.kubernetes.io/name: {{ include "law.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "law.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "law.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/component: agent-worker
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "law.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "law.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "law.credentialsSecret" -}}
{{- default (printf "%s-livekit" (include "law.fullname" .)) .Values.livekit.credentialsSecret.name }}
{{- end }}

{{- define "law.image" -}}
{{- $img := .Values.image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .Chart.AppVersion $img.tag) }}
{{- end }}
{{- end }}

{{/*
The grace period Kubernetes gives a terminating pod, counted from the start of the preStop
hook: the hook, then the worker's drain, then its shutdown. An explicit value may only be
longer; JSON Schema cannot compare two values, so that rule is checked here.
*/}}
{{- define "law.terminationGracePeriodSeconds" -}}
{{- $r := .Values.rollout }}
{{- $needed := add $r.drainTimeoutSeconds $r.preStopSleepSeconds $r.shutdownMarginSeconds }}
{{- if kindIs "invalid" $r.terminationGracePeriodSeconds }}
{{- $needed }}
{{- else if lt (int64 $r.terminationGracePeriodSeconds) (int64 $needed) }}
{{- fail (printf "rollout.terminationGracePeriodSeconds (%v) is shorter than rollout.drainTimeoutSeconds (%v) + rollout.preStopSleepSeconds (%v) + rollout.shutdownMarginSeconds (%v) = %v: Kubernetes would kill calls the worker is still draining; leave it null to derive it" $r.terminationGracePeriodSeconds $r.drainTimeoutSeconds $r.preStopSleepSeconds $r.shutdownMarginSeconds $needed) }}
{{- else }}
{{- $r.terminationGracePeriodSeconds }}
{{- end }}
{{- end }}

{{/* Variables the chart sets from values; extraEnv may not set them again. */}}
{{- define "law.managedEnv" -}}
LIVEKIT_URL LIVEKIT_API_KEY LIVEKIT_API_SECRET ALLOW_DEV_CREDENTIALS_IN_PRODUCTION AGENT_NAME PLATFORM_API_URL VOICE_PIPELINE VOICE_INSTRUCTIONS VOICE_STT_MODEL VOICE_STT_LANGUAGE VOICE_STT_BASE_URL VOICE_LLM_MODEL VOICE_LLM_BASE_URL VOICE_TTS_MODEL VOICE_TTS_VOICE VOICE_TTS_BASE_URL DEEPGRAM_API_KEY OPENAI_API_KEY CARTESIA_API_KEY LOG_LEVEL LOG_FORMAT WORKER_NUM_IDLE_PROCESSES AGENT_DEPARTURE_TIMEOUT WORKER_DRAIN_TIMEOUT WORKER_MAX_JOBS BIND_HOST HEALTH_PORT METRICS_PORT PROMETHEUS_MULTIPROC_DIR ALLOW_PII OTEL_SDK_DISABLED OTEL_SERVICE_NAME OTEL_TRACES_EXPORTER OTEL_EXPORTER_OTLP_ENDPOINT OTEL_EXPORTER_OTLP_TRACES_ENDPOINT OTEL_EXPORTER_OTLP_PROTOCOL OTEL_EXPORTER_OTLP_TRACES_PROTOCOL OTEL_TRACES_SAMPLER OTEL_TRACES_SAMPLER_ARG OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT SPAN_RELAY_QUEUE_SIZE OTEL_RESOURCE_ATTRIBUTES DEPLOYMENT_ENVIRONMENT NUM_CPUS POD_NAME POD_NAMESPACE NODE_NAME
{{- end }}

{{/* Rules between values that JSON Schema (draft-07) cannot express; each names its values. */}}
{{- define "law.validate" -}}
{{- $v := .Values }}
{{- if eq (int $v.ports.health) (int $v.ports.metrics) }}
{{- fail (printf "ports.health and ports.metrics must differ (both are %v)" $v.ports.health) }}
{{- end }}
{{- $managed := splitList " " (include "law.managedEnv" .) }}
{{- range $v.extraEnv }}
{{- if has .name $managed }}
{{- fail (printf "extraEnv: %s is set by the chart from a value; set that value instead (see values.yaml)" .name) }}
{{- end }}
{{- end }}
{{- $pdb := $v.podDisruptionBudget }}
{{- if and $pdb.enabled (eq (kindIs "invalid" $pdb.minAvailable) (kindIs "invalid" $pdb.maxUnavailable)) }}
{{- fail "podDisruptionBudget: set exactly one of minAvailable and maxUnavailable" }}
{{- end }}
{{- $as := $v.autoscaling }}
{{- if and $as.enabled (gt (int $as.minReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "autoscaling.minReplicas (%v) is greater than autoscaling.maxReplicas (%v)" $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- if and $as.enabled (not (kindIs "invalid" $as.fallbackReplicas)) }}
{{- if or (lt (int $as.fallbackReplicas) (int $as.minReplicas)) (gt (int $as.fallbackReplicas) (int $as.maxReplicas)) }}
{{- fail (printf "autoscaling.fallbackReplicas (%v) must lie between autoscaling.minReplicas (%v) and autoscaling.maxReplicas (%v)" $as.fallbackReplicas $as.minReplicas $as.maxReplicas) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The fleet's query for KEDA: the sum over this release's pods, whoever scrapes them. */}}
{{- define "law.autoscalingQuery" -}}
{{- $as := .Values.autoscaling }}
{{- if $as.prometheus.query }}
{{- $as.prometheus.query }}
{{- else }}
{{- $metric := ternary "lk_agents_active_jobs" "lk_agents_worker_load" (eq $as.metric "activeJobs") }}
{{- printf "sum(%s{namespace=\"%s\", pod=~\"%s-[a-z0-9]+-[a-z0-9]+\"})" $metric .Release.Namespace (include "law.fullname" .) }}
{{- end }}
{{- end }}
