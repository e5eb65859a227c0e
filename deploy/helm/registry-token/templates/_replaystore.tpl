{{- /*
The DPoP replay store's Secrets as files, and its egress ports: one
definition for both charts. This file is registry-token's; flex-auth's
templates/_replaystore.tpl is a copy written by `go run ./deploy/cmd/gen`.

Every template takes a dict:
  backend    the replay cache backend: memory | redis | redis-sentinel | redis-cluster
  rc         the chart's replayCache values (credentials, tls.caSecret)
  nonceKeys  the chart's dpop.nonceKeys values (existingSecret, key)
  dir        the service's directory under /etc; the files are mounted in
             <dir>/redis-credentials, <dir>/redis-ca and <dir>/dpop-nonce
The Redis files are mounted for the Redis backends only; the nonce keys
whatever the backend (a restart of a memory pod opens an epoch too).
*/ -}}

{{/* The service's settings that name the mounted files, as a YAML map:
passwordFile, usernameFile, sentinelPasswordFile, caFile, nonceKeyFile
(only those whose Secret is configured). */}}
{{- define "authgate.replayStore.files" -}}
{{- $redis := ne .backend "memory" }}
{{- $cred := .rc.credentials }}
{{- if and $redis $cred.existingSecret }}
{{- with $cred.passwordKey }}
passwordFile: {{ printf "%s/redis-credentials/%s" $.dir . | quote }}
{{- end }}
{{- with $cred.usernameKey }}
usernameFile: {{ printf "%s/redis-credentials/%s" $.dir . | quote }}
{{- end }}
{{- if eq .backend "redis-sentinel" }}
{{- with $cred.sentinelPasswordKey }}
sentinelPasswordFile: {{ printf "%s/redis-credentials/%s" $.dir . | quote }}
{{- end }}
{{- end }}
{{- end }}
{{- if and $redis .rc.tls.caSecret.name }}
caFile: {{ printf "%s/redis-ca/%s" .dir .rc.tls.caSecret.key | quote }}
{{- end }}
{{- if .nonceKeys.existingSecret }}
nonceKeyFile: {{ printf "%s/dpop-nonce/%s" .dir .nonceKeys.key | quote }}
{{- end }}
{{- end }}

{{/* The container's volumeMounts (list items, read-only). */}}
{{- define "authgate.replayStore.volumeMounts" -}}
{{- $redis := ne .backend "memory" }}
{{- if and $redis .rc.credentials.existingSecret }}
- name: redis-credentials
  mountPath: {{ .dir }}/redis-credentials
  readOnly: true
{{- end }}
{{- if and $redis .rc.tls.caSecret.name }}
- name: redis-ca
  mountPath: {{ .dir }}/redis-ca
  readOnly: true
{{- end }}
{{- if .nonceKeys.existingSecret }}
- name: dpop-nonce-keys
  mountPath: {{ .dir }}/dpop-nonce
  readOnly: true
{{- end }}
{{- end }}

{{/* The pod's volumes (list items): only the keys named, never in the
environment or the configuration, readable by the pod's group. */}}
{{- define "authgate.replayStore.volumes" -}}
{{- $redis := ne .backend "memory" }}
{{- $cred := .rc.credentials }}
{{- if and $redis $cred.existingSecret }}
- name: redis-credentials
  secret:
    secretName: {{ $cred.existingSecret }}
    defaultMode: 0440
    items:
      {{- $keys := list $cred.passwordKey $cred.usernameKey }}
      {{- if eq .backend "redis-sentinel" }}{{ $keys = append $keys $cred.sentinelPasswordKey }}{{ end }}
      {{- range $k := $keys | compact | uniq }}
      - key: {{ $k }}
        path: {{ $k }}
      {{- end }}
{{- end }}
{{- if and $redis .rc.tls.caSecret.name }}
- name: redis-ca
  secret:
    secretName: {{ .rc.tls.caSecret.name }}
    defaultMode: 0440
    items:
      - key: {{ .rc.tls.caSecret.key }}
        path: {{ .rc.tls.caSecret.key }}
{{- end }}
{{- with .nonceKeys.existingSecret }}
- name: dpop-nonce-keys
  secret:
    secretName: {{ . }}
    defaultMode: 0440
    items:
      - key: {{ $.nonceKeys.key }}
        path: {{ $.nonceKeys.key }}
{{- end }}
{{- end }}

{{/* The TCP ports the pods dial for the replay store, one a line: the
port of each address given (redisUrl, sentinel.addrs, cluster.addrs) and,
for Sentinel and Cluster, the data nodes' port dataPort (the master a
sentinel names, every node a cluster redirects to are not listed in
values). Takes a dict with backend, redisUrl, sentinelAddrs, clusterAddrs,
dataPort. */}}
{{- define "authgate.replayStore.ports" -}}
{{- $ports := list }}
{{- if eq .backend "redis" }}
{{- $u := urlParse (.redisUrl | default "redis://x:6379") }}
{{- $ports = append $ports (regexFind ":[0-9]+$" $u.host | trimPrefix ":" | default "6379") }}
{{- else if eq .backend "redis-sentinel" }}
{{- range .sentinelAddrs }}{{ $ports = append $ports (regexFind "[0-9]+$" .) }}{{ end }}
{{- $ports = append $ports (toString .dataPort) }}
{{- else if eq .backend "redis-cluster" }}
{{- range .clusterAddrs }}{{ $ports = append $ports (regexFind "[0-9]+$" .) }}{{ end }}
{{- $ports = append $ports (toString .dataPort) }}
{{- end }}
{{- range $ports | uniq }}
{{ . }}
{{- end }}
{{- end }}
