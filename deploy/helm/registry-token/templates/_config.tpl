{{/*
The service configuration, keys exactly as configs/registry-token.yaml.
Secrets never appear here: the signing key is a file mounted from a Secret,
a Redis URL with credentials comes in through an environment variable.
*/}}
{{- define "registry-token.config" -}}
{{ include "registry-token.config.restart" . | trim }}
{{ include "registry-token.config.live" . | trim }}
{{- end }}

{{/*
The settings that change only at a restart (log, server, authority,
reload; registry.realm is in the live part's section but also needs a
restart). With reload.watch the pods' checksum/config covers only these.
*/}}
{{- define "registry-token.config.restart" -}}
{{- if not (hasKey .Values.plans .Values.defaultPlan) }}
{{- fail (printf "defaultPlan %q is not a key of plans" .Values.defaultPlan) }}
{{- end }}
{{- if and .Values.autoscaling.enabled (gt (int .Values.autoscaling.minReplicas) (int .Values.autoscaling.maxReplicas)) }}
{{- fail "autoscaling.minReplicas must not exceed autoscaling.maxReplicas" }}
{{- end }}
log:
  level: {{ .Values.logLevel | quote }}
server:
  addr: "0.0.0.0:8085"
  publicUrl: {{ .Values.publicUrl | quote }}
  {{- if .Values.tls.enabled }}
  tls:
    certFile: {{ printf "%s/tls.crt" (include "registry-token.tlsDir" .) | quote }}
    keyFile: {{ printf "%s/tls.key" (include "registry-token.tlsDir" .) | quote }}
    clientCaFile: {{ if .Values.tls.clientCaKey }}{{ printf "%s/%s" (include "registry-token.tlsDir" .) .Values.tls.clientCaKey | quote }}{{ else }}""{{ end }}
  {{- end }}
  trustedProxies: {{ .Values.trustedProxies | toJson }}
authority:
  issuer: {{ .Values.authority.issuer | quote }}
  metadataUrl: {{ .Values.authority.metadataUrl | quote }}
  requireHttpsMetadata: {{ .Values.authority.requireHttpsMetadata }}
  audiences: {{ .Values.authority.audiences | toJson }}
  requiredScopes: {{ .Values.authority.requiredScopes | toJson }}
  senderConstraint: {{ .Values.authority.senderConstraint | quote }}
  jwksMaxStale: {{ .Values.authority.jwksMaxStale }}
  {{- with .Values.authority.maxTokenLifetime }}
  maxTokenLifetime: {{ . }}
  {{- end }}
  {{- if .Values.authority.requireAccessTokenType }}
  requireAccessTokenType: true
  {{- end }}
  dpop:
    maxAge: {{ .Values.authority.dpop.maxAge }}
    clockSkew: {{ .Values.authority.dpop.clockSkew }}
    algorithms: {{ .Values.authority.dpop.algorithms | toJson }}
    {{- $files := include "authgate.replayStore.files" (include "registry-token.replayStore" . | fromYaml) | fromYaml }}
    {{- with $files.nonceKeyFile }}
    nonceKeyFile: {{ . | quote }}
    {{- end }}
  replayCache:
    {{- $rc := .Values.replayCache }}
    backend: {{ $rc.backend | quote }}
    maxEntries: {{ $rc.maxEntries | int64 }}
    {{- if eq $rc.backend "redis" }}
    redisUrl: {{ $rc.redis.url | quote }}
    {{- end }}
    {{- if eq $rc.backend "redis-sentinel" }}
    sentinel:
      masterName: {{ $rc.sentinel.masterName | quote }}
      addrs: {{ $rc.sentinel.addrs | toJson }}
      {{- with $files.sentinelPasswordFile }}
      passwordFile: {{ . | quote }}
      {{- end }}
    {{- end }}
    {{- if eq $rc.backend "redis-cluster" }}
    cluster:
      addrs: {{ $rc.cluster.addrs | toJson }}
    {{- end }}
    {{- if ne $rc.backend "memory" }}
    failoverWait: {{ $rc.failoverWait }}
    {{- with $files.passwordFile }}
    passwordFile: {{ . | quote }}
    {{- end }}
    {{- with $files.usernameFile }}
    usernameFile: {{ . | quote }}
    {{- end }}
    {{- if or (and $rc.tls.enabled (ne $rc.backend "redis")) $rc.tls.caSecret.name $rc.tls.serverName }}
    tls:
      enabled: {{ and $rc.tls.enabled (ne $rc.backend "redis") }}
      {{- with $files.caFile }}
      caFile: {{ . | quote }}
      {{- end }}
      {{- with $rc.tls.serverName }}
      serverName: {{ . | quote }}
      {{- end }}
    {{- end }}
    {{- end }}
reload:
  watch: {{ .Values.reload.watch }}
{{- end }}

{{/*
The settings a reload applies in operation: signing, registry.services,
plans, defaultPlan, revokedLicenses, policy.
*/}}
{{- define "registry-token.config.live" -}}
{{- if .Values.signing.keys }}
{{- $active := 0 }}
{{- $secrets := dict }}
{{- range .Values.signing.keys }}
{{- if eq .status "active" }}{{ $active = add1 $active }}{{ end }}
{{- if hasKey $secrets .existingSecret }}
{{- fail (printf "signing.keys: Secret %q is listed twice (one Secret per key)" .existingSecret) }}
{{- end }}
{{- $_ := set $secrets .existingSecret true }}
{{- end }}
{{- if ne $active 1 }}
{{- fail (printf "signing.keys: exactly one key must be active, %d are" $active) }}
{{- end }}
{{- end }}
signing:
  issuer: {{ .Values.signing.issuer | quote }}
  {{- if .Values.signing.keys }}
  keys:
    {{- range .Values.signing.keys }}
    {{- $dir := printf "%s/%s" (include "registry-token.signingKeysDir" $) .existingSecret }}
    - file: {{ printf "%s/%s" $dir (.keyFileName | default "signing.pem") | quote }}
      {{- if .keyPasswordKey }}
      passwordFile: {{ printf "%s/%s" $dir .keyPasswordKey | quote }}
      {{- end }}
      keyId: {{ .keyId | default "" | quote }}
      status: {{ .status | quote }}
      {{- if .retiredAt }}
      retiredAt: {{ .retiredAt | quote }}
      {{- end }}
    {{- end }}
  {{- else }}
  keyFile: {{ printf "%s/%s" (include "registry-token.signingDir" .) .Values.signing.keyFileName | quote }}
  {{- if .Values.signing.keyPasswordKey }}
  keyPasswordFile: {{ printf "%s/%s" (include "registry-token.signingDir" .) .Values.signing.keyPasswordKey | quote }}
  {{- end }}
  keyId: {{ .Values.signing.keyId | quote }}
  {{- end }}
  lifetime: {{ .Values.signing.lifetime }}
registry:
  realm: {{ include "registry-token.realm" . | quote }}
  services: {{ .Values.registry.services | toJson }}
plans:
  {{- range $plan, $entries := .Values.plans }}
  {{ $plan }}:
    {{- range $entries }}
    - repository: {{ .repository | quote }}
      actions: {{ .actions | default (list "pull") | toJson }}
    {{- end }}
  {{- end }}
defaultPlan: {{ .Values.defaultPlan | quote }}
revokedLicenses: {{ .Values.revokedLicenses | toJson }}
{{- if .Values.flexAuth.url }}
policy:
  url: {{ .Values.flexAuth.url | quote }}
  timeout: {{ .Values.flexAuth.timeout }}
  failClosed: {{ .Values.flexAuth.failClosed }}
  {{- if .Values.flexAuth.caSecret.name }}
  caFile: {{ printf "%s/%s" (include "registry-token.flexAuthCADir" .) .Values.flexAuth.caSecret.key | quote }}
  {{- end }}
  {{- if .Values.flexAuth.clientCertSecret.name }}
  certFile: {{ printf "%s/%s" (include "registry-token.flexAuthClientDir" .) .Values.flexAuth.clientCertSecret.certKey | quote }}
  keyFile: {{ printf "%s/%s" (include "registry-token.flexAuthClientDir" .) .Values.flexAuth.clientCertSecret.keyKey | quote }}
  {{- end }}
{{- end }}
{{- end }}

{{/* The pod annotation that rolls the pods when their configuration needs a restart. */}}
{{- define "registry-token.configChecksum" -}}
{{- if .Values.reload.watch -}}
{{ print (include "registry-token.config.restart" .) (include "registry-token.realm" .) | sha256sum }}
{{- else -}}
{{ include "registry-token.config" . | sha256sum }}
{{- end -}}
{{- end }}
