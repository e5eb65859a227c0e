{{/* Chart name, truncated to the 63 characters a DNS label allows. */}}
{{- define "registry-token.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Fully qualified app name: the release name unless it already holds the chart name. */}}
{{- define "registry-token.fullname" -}}
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

{{- define "registry-token.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "registry-token.selectorLabels" -}}
app.kubernetes.io/name: {{ include "registry-token.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "registry-token.labels" -}}
helm.sh/chart: {{ include "registry-token.chart" . }}
{{ include "registry-token.selectorLabels" . }}
app.kubernetes.io/version: {{ .Values.image.tag | default .Chart.AppVersion | quote }}
app.kubernetes.io/component: token-service
app.kubernetes.io/part-of: authgate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{/* Labels of helm test pods: not the selector labels, so that no Service,
PodDisruptionBudget or NetworkPolicy of the release selects them. */}}
{{- define "registry-token.testLabels" -}}
helm.sh/chart: {{ include "registry-token.chart" . }}
app.kubernetes.io/name: {{ include "registry-token.name" . }}-test
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/component: test
app.kubernetes.io/part-of: authgate
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "registry-token.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "registry-token.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "registry-token.image" -}}
{{- if .Values.image.digest }}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest }}
{{- else }}
{{- printf "%s:%s" .Values.image.repository (.Values.image.tag | default .Chart.AppVersion) }}
{{- end }}
{{- end }}

{{/* The realm the registry's Bearer challenge names: registry.realm, else publicUrl + /token. */}}
{{- define "registry-token.realm" -}}
{{- default (printf "%s/token" (trimSuffix "/" .Values.publicUrl)) .Values.registry.realm }}
{{- end }}

{{- define "registry-token.jwksConfigMapName" -}}
{{- default (printf "%s-jwks" (include "registry-token.fullname" .)) .Values.jwksConfigMap.name }}
{{- end }}

{{- define "registry-token.scheme" -}}
{{- if .Values.tls.enabled }}HTTPS{{ else }}HTTP{{ end }}
{{- end }}

{{/* Paths inside the container. */}}
{{- define "registry-token.configPath" -}}/etc/registry-token/config/registry-token.yaml{{- end }}
{{- define "registry-token.signingDir" -}}/etc/registry-token/signing{{- end }}
{{- define "registry-token.signingKeysDir" -}}/etc/registry-token/signing-keys{{- end }}
{{- define "registry-token.tlsDir" -}}/etc/registry-token/tls{{- end }}
{{- define "registry-token.flexAuthCADir" -}}/etc/registry-token/flex-auth-ca{{- end }}
{{- define "registry-token.flexAuthClientDir" -}}/etc/registry-token/flex-auth-client{{- end }}

{{/* The argument of the authgate.replayStore templates (_replaystore.tpl), as YAML. */}}
{{- define "registry-token.replayStore" -}}
{{- dict "backend" .Values.replayCache.backend "rc" .Values.replayCache "nonceKeys" .Values.authority.dpop.nonceKeys "dir" "/etc/registry-token" | toYaml }}
{{- end }}
