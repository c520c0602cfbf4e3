{{/* Chart name, truncated for label values. */}}
{{- define "agent-broker.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name: the release name, prefixed unless it already holds the chart's name. */}}
{{- define "agent-broker.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* What each preset brings: image repository, agent command and args, home, first login. */}}
{{- define "agent-broker.presets" -}}
kiro:
  repository: ghcr.io/agent-broker/agent-broker
  command: kiro-cli
  args: ["acp", "--trust-all-tools"]
  home: /home/agent
  login: kiro-cli login --use-device-flow
  loginNote: or give KIRO_API_KEY through env/envFrom + agent.inheritEnv
claude:
  repository: ghcr.io/agent-broker/agent-broker-claude
  command: claude-agent-acp
  args: []
  home: /home/node
  login: claude
  loginNote: type /login in the session; or give ANTHROPIC_API_KEY through env/envFrom + agent.inheritEnv
codex:
  repository: ghcr.io/agent-broker/agent-broker-codex
  command: codex-acp
  args: []
  home: /home/node
  login: codex login --device-auth
  loginNote: or give OPENAI_API_KEY through env/envFrom + agent.inheritEnv
gemini:
  repository: ghcr.io/agent-broker/agent-broker-gemini
  command: gemini
  args: ["--acp"]
  home: /home/node
  login: gemini
  loginNote: choose "Login with Google"; or give GEMINI_API_KEY through env/envFrom + agent.inheritEnv
{{- end -}}

{{/* The preset named by a bot's values (.agent.preset), or a render failure naming the valid ones. */}}
{{- define "agent-broker.preset" -}}
{{- $presets := include "agent-broker.presets" . | fromYaml -}}
{{- $name := .agent.preset -}}
{{- if not (and (kindIs "string" $name) (hasKey $presets $name)) -}}
{{- fail (printf "agent.preset: %v is not a preset: use one of kiro, claude, codex, gemini" $name) -}}
{{- end -}}
{{- get $presets $name | toJson -}}
{{- end -}}

{{/* The agent's home for a bot's values: /home/node for codex, claude and gemini, /home/agent for kiro. */}}
{{- define "agent-broker.agent.home" -}}
{{- (include "agent-broker.preset" . | fromJson).home -}}
{{- end -}}

{{/* Merge map src into map dst in place: maps merge key by key, anything else (false, "", lists) replaces. */}}
{{- define "agent-broker.merge" -}}
{{- $dst := index . 0 -}}
{{- range $k, $v := index . 1 -}}
{{- $cur := get $dst $k -}}
{{- if and (kindIs "map" $v) (kindIs "map" $cur) -}}
{{- include "agent-broker.merge" (list $cur $v) -}}
{{- else -}}
{{- $_ := set $dst $k $v -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Every bot of the release as JSON: resource name -> its values, with the resolved
fields _key (agents entry or ""), _name, _home, _image, _command, _args, _workingDir,
_login and _loginNote. No agents map: one bot from the top-level values.
*/}}
{{- define "agent-broker.bots" -}}
{{- $root := . -}}
{{- $base := omit .Values "agents" -}}
{{- $entries := dict "" dict -}}
{{- if .Values.agents -}}
{{- if not (kindIs "map" .Values.agents) -}}
{{- fail "agents: must be a map of bot name -> values" -}}
{{- end -}}
{{- $entries = .Values.agents -}}
{{- end -}}
{{- $bots := dict -}}
{{- range $key, $over := $entries -}}
{{- if and $key (not (regexMatch "^[a-z0-9]([-a-z0-9]{0,30}[a-z0-9])?$" $key)) -}}
{{- fail (printf "agents.%s: bot names must be lower-case letters, digits and '-' (at most 32)" $key) -}}
{{- end -}}
{{- if and $over (not (kindIs "map" $over)) -}}
{{- fail (printf "agents.%s: must be a map of values" $key) -}}
{{- end -}}
{{- $b := deepCopy $base -}}
{{- include "agent-broker.merge" (list $b (default dict $over)) -}}
{{- if or (not (hasKey $b "enabled")) $b.enabled -}}
{{- $p := include "agent-broker.preset" $b | fromJson -}}
{{- $name := include "agent-broker.fullname" $root -}}
{{- if $key -}}{{- $name = printf "%s-%s" $name $key | trunc 63 | trimSuffix "-" -}}{{- end -}}
{{- $image := $b.image.repository | default $p.repository -}}
{{- if $b.image.digest -}}
{{- $image = printf "%s@%s" $image $b.image.digest -}}
{{- else -}}
{{- $image = printf "%s:%s" $image ($b.image.tag | default $root.Chart.AppVersion) -}}
{{- end -}}
{{- $args := $p.args -}}
{{- if hasKey $b.agent "args" -}}{{- $args = $b.agent.args | default list -}}{{- end -}}
{{- $_ := set $b "_key" $key -}}
{{- $_ = set $b "_name" $name -}}
{{- $_ = set $b "_home" $p.home -}}
{{- $_ = set $b "_image" $image -}}
{{- $_ = set $b "_command" ($b.agent.command | default $p.command) -}}
{{- $_ = set $b "_args" $args -}}
{{- $_ = set $b "_workingDir" ($b.agent.workingDir | default $p.home) -}}
{{- $_ = set $b "_login" $p.login -}}
{{- $_ = set $b "_loginNote" $p.loginNote -}}
{{- $_ = set $bots $name $b -}}
{{- end -}}
{{- end -}}
{{- $bots | toJson -}}
{{- end -}}

{{/* Labels for one bot (the dict from agent-broker.bots) of release root: (list root bot). */}}
{{- define "agent-broker.labels" -}}
{{- $root := index . 0 -}}
{{- $b := index . 1 -}}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
{{ include "agent-broker.selectorLabels" . }}
{{- end -}}

{{/* The labels a bot's Deployment selects its pod by: (list root bot). */}}
{{- define "agent-broker.selectorLabels" -}}
{{- $root := index . 0 -}}
{{- $b := index . 1 -}}
app.kubernetes.io/name: {{ include "agent-broker.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ $b._key | default "bot" }}
{{- end -}}

{{/* Whether a bot keeps any token in a chart-made Secret ("true" or ""). */}}
{{- define "agent-broker.ownsSecret" -}}
{{- if and (not .existingSecret) (or (and .discord.enabled .discord.botToken) (and .slack.enabled (or .slack.botToken .slack.appToken)) (and .telegram.enabled .telegram.botToken)) -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding a bot's chat tokens: its existingSecret or the chart-made one. */}}
{{- define "agent-broker.secretName" -}}
{{- .existingSecret | default (printf "%s-tokens" ._name) -}}
{{- end -}}
