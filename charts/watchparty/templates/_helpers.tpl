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
  {{- range $name, $key := dict "SECRET_KEY" "secretKey" "AGENT_SECRET_KEY" "agentSecretKey" "PROFILE_SECRET_KEY" "profileSecretKey" "DATABASE_URL" "databaseUrl" "REDIS_URL" "redisUrl" }}
  - name: {{ $name }}
    valueFrom:
      secretKeyRef:
        name: {{ include "watchparty.secretName" $ }}
        key: {{ $name }}
  {{- end }}
  # Only with a Redis Cluster (or a broker of its own): absent from the Secret, Celery uses REDIS_URL.
  - name: CELERY_BROKER_URL
    valueFrom:
      secretKeyRef:
        name: {{ include "watchparty.secretName" $ }}
        key: CELERY_BROKER_URL
        optional: true
  {{- if include "watchparty.coturn.enabled" $ }}
  - name: TURN_SECRET
    valueFrom:
      secretKeyRef:
        name: {{ include "watchparty.secretName" $ }}
        key: TURN_SECRET
  {{- end }}
{{- end }}

{{- /* A CIDR as coturn's `first-last` range (coturn's peer lists take no CIDRs), IPv4 or IPv6:
       `10.96.0.0/12` -> `10.96.0.0-10.111.255.255`, `2001:db8::/56` ->
       `2001:db8:0:0:0:0:0:0-2001:db8:0:ff:ffff:ffff:ffff:ffff`. Each octet (IPv4) or 16-bit
       group (IPv6) keeps the prefix bits that fall into it; the rest are 0 (first) or 1 (last).
       tests/deploy/test_helm_chart.py checks it against Python's ipaddress. */}}
{{- define "watchparty.cidrRange" -}}
{{- $parts := splitList "/" . -}}
{{- if ne (len $parts) 2 }}{{ fail (printf "not a CIDR: %s" .) }}{{ end -}}
{{- $addr := index $parts 0 -}}
{{- $bits := atoi (index $parts 1) -}}
{{- $pow2 := list 1 2 4 8 16 32 64 128 256 512 1024 2048 4096 8192 16384 32768 65536 -}}
{{- $v6 := contains ":" $addr -}}
{{- $width := ternary 16 8 $v6 -}}
{{- $groups := list -}}
{{- if $v6 -}}
  {{- if contains "." $addr }}{{ fail (printf "write %s without a dotted IPv4 tail" .) }}{{ end -}}
  {{- $halves := splitList "::" $addr -}}
  {{- $head := ternary (list) (splitList ":" (index $halves 0)) (eq (index $halves 0) "") -}}
  {{- $tail := list -}}
  {{- if gt (len $halves) 1 -}}
    {{- $tail = ternary (list) (splitList ":" (index $halves 1)) (eq (index $halves 1) "") -}}
  {{- end -}}
  {{- $groups = $head -}}
  {{- range until (int (sub 8 (add (len $head) (len $tail)))) }}{{ $groups = append $groups "0" }}{{ end -}}
  {{- $groups = concat $groups $tail -}}
{{- else -}}
  {{- $groups = splitList "." $addr -}}
{{- end -}}
{{- if ne (len $groups) (ternary 8 4 $v6) }}{{ fail (printf "not a CIDR: %s" .) }}{{ end -}}
{{- if gt $bits (mul $width (len $groups)) }}{{ fail (printf "prefix too long: %s" .) }}{{ end -}}
{{- $first := list -}}
{{- $last := list -}}
{{- range $i, $g := $groups -}}
  {{- $value := ternary (int64 (printf "0x%s" $g)) (int64 $g) $v6 -}}
  {{- $keep := max 0 (min $width (sub $bits (mul $i $width))) -}}
  {{- $size := index $pow2 (int (sub $width $keep)) -}}
  {{- $low := sub $value (mod $value $size) -}}
  {{- $high := sub (add $low $size) 1 -}}
  {{- if $v6 -}}
    {{- $first = append $first (printf "%x" $low) -}}
    {{- $last = append $last (printf "%x" $high) -}}
  {{- else -}}
    {{- $first = append $first (toString $low) -}}
    {{- $last = append $last (toString $high) -}}
  {{- end -}}
{{- end -}}
{{- printf "%s-%s" (join (ternary ":" "." $v6) $first) (join (ternary ":" "." $v6) $last) -}}
{{- end }}
