{{- /* What a first install needs (environment: development): `helm install wp charts/watchparty`
       with no values comes up on a development cluster. Its own PostgreSQL and Redis run unless
       the values name external ones (or an existing Secret holds the URLs), its secrets are
       generated once and then read back from the release's Secret at every upgrade (`lookup`),
       and TURN stays off until coturn.host is given. environment: production keeps every one of
       them required, with an error naming it. Each helper answers "true" or "". */ -}}

{{- define "watchparty.production" -}}
{{- if eq .Values.environment "production" }}true{{ end }}
{{- end }}

{{- define "watchparty.postgresql.enabled" -}}
{{- if or .Values.postgresql.enabled (and (not (include "watchparty.production" .)) (not .Values.externalDatabase.url) (not .Values.secrets.existingSecret)) }}true{{ end }}
{{- end }}

{{- define "watchparty.redis.enabled" -}}
{{- if or .Values.redis.enabled (and (not (include "watchparty.production" .)) (not .Values.externalRedis.url) (not .Values.secrets.existingSecret)) }}true{{ end }}
{{- end }}

{{- define "watchparty.coturn.enabled" -}}
{{- if and .Values.coturn.enabled (or .Values.coturn.host (include "watchparty.production" .)) }}true{{ end }}
{{- end }}

{{- /* One value of the chart's Secret: `.value` when given; else, in production, the error
       `.error`; else the value the release's Secret holds under `.key` already (an upgrade),
       else a new random one (the first install). Called with (dict "ctx" . "value" ... "key" ...
       "error" ...). */ -}}
{{- define "watchparty.secretValue" -}}
{{- if .value }}
{{- .value }}
{{- else if include "watchparty.production" .ctx }}
{{- required .error "" }}
{{- else }}
{{- $existing := lookup "v1" "Secret" .ctx.Release.Namespace (include "watchparty.secretName" .ctx) }}
{{- $kept := dig "data" .key "" ($existing | default dict) }}
{{- if $kept }}{{ b64dec $kept }}{{ else }}{{ randAlphaNum 48 }}{{ end }}
{{- end }}
{{- end }}
