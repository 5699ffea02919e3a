{{/* Names and labels, as `helm create` makes them. */}}
{{- define "watchparty.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "watchparty.fullname" -}}
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

{{- define "watchparty.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "watchparty.selectorLabels" -}}
app.kubernetes.io/name: {{ include "watchparty.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "watchparty.labels" -}}
helm.sh/chart: {{ include "watchparty.chart" . }}
{{ include "watchparty.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Selector labels of one component: (dict "ctx" $ "component" "controlplane") */}}
{{- define "watchparty.componentSelector" -}}
{{ include "watchparty.selectorLabels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "watchparty.componentLabels" -}}
{{ include "watchparty.labels" .ctx }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{- define "watchparty.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "watchparty.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "watchparty.secretName" -}}
{{- default (printf "%s-secrets" (include "watchparty.fullname" .)) .Values.secrets.existingSecret }}
{{- end }}

{{- define "watchparty.image" -}}
{{- printf "%s:%s" .Values.image.repository (default .Chart.AppVersion .Values.image.tag) }}
{{- end }}

{{- define "watchparty.deploymentId" -}}
{{- default .Release.Name .Values.deploymentId }}
{{- end }}

{{/* The room pods' labels the runtime sets (controlplane/runtime/naming.py): the policy selects
     this deployment's room pods by them. */}}
{{- define "watchparty.roomSelector" -}}
app.kubernetes.io/managed-by: watchparty
app.kubernetes.io/component: room
watchparty.io/deployment: {{ include "watchparty.deploymentId" . | quote }}
{{- end }}

{{- define "watchparty.turnHost" -}}
{{- required "coturn.host is required when coturn.enabled (the public name or address of TURN)" .Values.coturn.host }}
{{- end }}

{{/* Pod and container security contexts every pod of the chart gets (non-root, read-only root,
     no capabilities, RuntimeDefault seccomp). */}}
{{- define "watchparty.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: {{ .uid }}
runAsGroup: {{ .uid }}
fsGroup: {{ .uid }}
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{- define "watchparty.containerSecurityContext" -}}
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
runAsNonRoot: true
capabilities:
  drop: [ALL]
seccompProfile:
  type: RuntimeDefault
{{- end }}

{{/* The environment of every control-plane container: settings from the ConfigMap, secrets
     from the Secret (never in the ConfigMap). */}}
{{- define "watchparty.env" -}}
envFrom:
  - configMapRef:
      name: {{ include "watchparty.fullname" . }}
env:
  {{- range $name, $key := dict "SECRET_KEY" "secretKey" "AGENT_SECRET_KEY" "agentSecretKey" "DATABASE_URL" "databaseUrl" "REDIS_URL" "redisUrl" }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef:
        name: {{ include "watchparty.secretName" $ }}
        key: {{ $name }}
  {{- end }}
  {{- if $.Values.coturn.enabled }}
  - name: TURN_SECRET
    valueFrom:
      secretKeyRef:
        name: {{ include "watchparty.secretName" $ }}
        key: TURN_SECRET
  {{- end }}
{{- end }}
