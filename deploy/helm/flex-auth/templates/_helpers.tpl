{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "flex-auth.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name unless it already holds the chart name. */}}
{{- define "flex-auth.fullname" -}}
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

{{- define "flex-auth.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "flex-auth.selectorLabels" -}}
app.kubernetes.io/name: {{ include "flex-auth.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "flex-auth.labels" -}}
helm.sh/chart: {{ include "flex-auth.chart" . }}
{{ include "flex-auth.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: policy-decision-point
app.kubernetes.io/part-of: authgate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of helm test pods: not the selector labels, so that no Service,
PodDisruptionBudget or NetworkPolicy of the release selects them. */}}
{{- define "flex-auth.testLabels" -}}
helm.sh/chart: {{ include "flex-auth.chart" . }}
app.kubernetes.io/name: {{ include "flex-auth.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: authgate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "flex-auth.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "flex-auth.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "flex-auth.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The Service name; flex-auth is reached as http://<service.name>.<namespace>.svc.cluster.local:<service.port>. */}}
{{- define "flex-auth.serviceName" -}}
{{- default (include "flex-auth.fullname" .) .Values.service.name }}
{{- end }}

{{- define "flex-auth.policyConfigMapName" -}}
{{- default (printf "%s-policy" (include "flex-auth.fullname" .)) .Values.policy.existingConfigMap }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "flex-auth.policyDir" -}}/etc/flex-auth/policy{{- end }}
{{- define "flex-auth.configPath" -}}/etc/flex-auth/config/flex-auth.yaml{{- end }}
{{- define "flex-auth.logDir" -}}/var/log/flex-auth{{- end }}
{{- define "flex-auth.tlsDir" -}}/etc/flex-auth/tls{{- end }}

{{- define "flex-auth.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* The in-cluster URL of the Service. */}}
{{- define "flex-auth.url" -}}
{{- printf "%s://%s.%s.svc.cluster.local:%v" (include "flex-auth.scheme" . | lower) (include "flex-auth.serviceName" .) .Release.Namespace .Values.service.port }}
{{- end }}
{{- define "flex-auth.logPath" -}}{{ include "flex-auth.logDir" . }}/{{ .Values.decisionLog.fileName }}{{- end }}

{{/* Fails the render when the release is not in the namespace the wiring expects. */}}
{{- define "flex-auth.checkNamespace" -}}
{{- if and .Values.requireNamespace (ne .Release.Namespace .Values.requireNamespace) }}
{{- fail (printf "flex-auth must be installed in namespace %q (registry-token and ops-warden reach it as http://%s.%s.svc.cluster.local:%v); got %q. Install with -n %s, or set requireNamespace=\"\" and change registry-token's flexAuth.url." .Values.requireNamespace (include "flex-auth.serviceName" .) .Values.requireNamespace .Values.service.port .Release.Namespace .Values.requireNamespace) }}
{{- end }}
{{- end }}

{{/* The TCP port of a URL: its explicit port, else the scheme's (https 443, http 80, redis and rediss 6379). */}}
{{- define "flex-auth.urlPort" -}}
{{- $u := urlParse (. | default "") -}}
{{- $port := regexFind ":[0-9]+$" $u.host | trimPrefix ":" -}}
{{- if $port }}{{ $port }}
{{- else if eq $u.scheme "http" }}80
{{- else if hasPrefix "redis" $u.scheme }}6379
{{- else }}443
{{- end -}}
{{- end }}
{{- define "flex-auth.pageTokenDir" -}}/etc/flex-auth/page-token{{- end }}

{{/* Where the decision log signing key Secret is mounted. */}}
{{- define "flex-auth.logKeyDir" -}}/etc/flex-auth/decision-log-key{{- end }}

{{/* The argument of the authgate.replayStore templates (_replaystore.tpl), as YAML. */}}
{{- define "flex-auth.replayStore" -}}
{{- $auth := .Values.config.auth | default dict }}
{{- $rc := $auth.replayCache | default dict }}
{{- dict "backend" ($rc.backend | default "memory") "rc" .Values.replayCache "nonceKeys" .Values.dpop.nonceKeys "dir" "/etc/flex-auth" | toYaml }}
{{- end }}
