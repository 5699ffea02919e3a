{{- /* The API pods' scale-out and stopping (controlplane.yaml, controlplane-scaling.yaml). */ -}}

{{- /* The API pods' termination grace period: what a stopping pod may need, from the drain
       (controlplane/draining.py): the preStop wait, the drain's spread, its wait for the
       sockets, uvicorn's graceful wait and one bounded shutdown step, and a margin. */ -}}
{{- define "watchparty.terminationGracePeriodSeconds" -}}
{{- $s := .Values.controlplane.shutdown }}
{{- add (int $s.preStopSeconds) (int $s.drainSeconds) (mul 3 (int $s.timeoutSeconds)) 5 }}
{{- end }}

{{- /* API pods on different nodes (controlplane.antiAffinity): one node's loss or drain then
       moves the sockets of one pod only. */ -}}
{{- define "watchparty.controlplaneAntiAffinity" -}}
{{- $term := dict "topologyKey" "kubernetes.io/hostname" "labelSelector" (dict "matchLabels" (include "watchparty.componentSelector" (dict "ctx" . "component" "controlplane") | fromYaml)) -}}
podAntiAffinity:
{{- if eq .Values.controlplane.antiAffinity "hard" }}
  requiredDuringSchedulingIgnoredDuringExecution:
    {{- list $term | toYaml | nindent 4 }}
{{- else }}
  preferredDuringSchedulingIgnoredDuringExecution:
    {{- list (dict "weight" 100 "podAffinityTerm" $term) | toYaml | nindent 4 }}
{{- end }}
{{- end }}
