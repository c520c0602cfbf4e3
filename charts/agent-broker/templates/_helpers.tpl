{{/* Chart name (or nameOverride), truncated for label values. */}}
{{- define "agent-broker.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Release-scoped base name: fullnameOverride, else the release name, prefixed with the
     chart's name (or nameOverride) unless it already holds it (as OpenAB's chart). */}}
{{- define "agent-broker.fullname" -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
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
{{- $base := omit .Values "agents" "nameOverride" "fullnameOverride" -}}
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
{{- include "agent-broker.merge" (list $b (include "agent-broker.openab" (list $key (default dict $over)) | fromJson)) -}}
{{- if or (not (hasKey $b "enabled")) $b.enabled -}}
{{- $p := include "agent-broker.preset" $b | fromJson -}}
{{- $name := include "agent-broker.fullname" $root -}}
{{- if $key -}}{{- $name = printf "%s-%s" $name $key | trunc 63 | trimSuffix "-" -}}{{- end -}}
{{- with $b.nameOverride -}}{{- $name = . | trunc 63 | trimSuffix "-" -}}{{- end -}}
{{- if hasKey $bots $name -}}{{- fail (printf "agents.%s: its name %s is another bot's too (nameOverride)" $key $name) -}}{{- end -}}
{{- /* OpenAB's global image (ghcr.io/openabdev/openab) runs OpenAB: the preset's image stands for it. */ -}}
{{- if and $b.image.repository (include "agent-broker.imageRef" $b.image.repository | fromJson).openab -}}
{{- $_ := set $b "image" (merge (dict "repository" "" "tag" "" "digest" "") $b.image) -}}
{{- $_ = set $b.image "repository" "" -}}
{{- $_ = set $b.image "tag" "" -}}
{{- end -}}
{{- include "agent-broker.secretEnv" $b -}}
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
{{- $wd := $b.agent.workingDir | default $p.home -}}
{{- if and (ne $wd $p.home) (not (hasPrefix (printf "%s/" $p.home) $wd)) -}}
{{- fail (printf "%s: workingDir %s is outside the %s image's home %s, the only writable place (the volume): use %s or a directory under it" (ternary (printf "agents.%s" $key) "agent" (ne $key "")) $wd $b.agent.preset $p.home $p.home) -}}
{{- end -}}
{{- $_ = set $b "_workingDir" $wd -}}
{{- $_ = set $b "_login" $p.login -}}
{{- $shards := 1 -}}
{{- if and (hasKey $b.discord "shards") (ne $b.discord.shards nil) -}}{{- $shards = $b.discord.shards -}}{{- end -}}
{{- if not (or (kindIs "float64" $shards) (kindIs "int64" $shards) (kindIs "int" $shards)) -}}{{- fail (printf "%s: discord.shards: %v must be a whole number" $name $shards) -}}{{- end -}}
{{- if or (ne (float64 (int64 $shards)) (float64 $shards)) (lt (int64 $shards) 1) (gt (int64 $shards) 1024) -}}
{{- fail (printf "%s: discord.shards: %v must be a whole number from 1 to 1024" $name $shards) -}}
{{- end -}}
{{- $_ = set $b "_shards" (int64 $shards) -}}
{{- if gt (int64 $shards) 1 -}}
{{- if not $b.discord.enabled -}}{{- fail (printf "%s: discord.shards needs discord.enabled" $name) -}}{{- end -}}
{{- range $p, $title := dict "slack" "Slack" "teams" "Teams" "telegram" "Telegram" -}}
{{- $c := get $b $p -}}
{{- if and (kindIs "map" $c) $c.enabled -}}
{{- fail (printf "%s: discord.shards %d with %s.enabled: every shard would answer every %s message; give %s a bot of its own (another agents entry)" $name (int64 $shards) $p $title $title) -}}
{{- end -}}
{{- end -}}
{{- if $b.persistence.existingClaim -}}
{{- fail (printf "%s: discord.shards %d cannot share persistence.existingClaim: each shard gets its own volume (volumeClaimTemplates)" $name (int64 $shards)) -}}
{{- end -}}
{{- end -}}
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
{{- if and (not .existingSecret) (or (and .discord.enabled .discord.botToken) (and .slack.enabled (or .slack.botToken .slack.appToken)) (and .teams .teams.enabled .teams.appPassword) (and .telegram .telegram.enabled .telegram.botToken) (and .stt .stt.enabled .stt.apiKey)) -}}true{{- end -}}
{{- end -}}

{{/* Whether a bot runs Telegram in webhook mode (telegram.enabled and telegram.webhook.url): "true" or "". */}}
{{- define "agent-broker.telegramWebhook" -}}
{{- if and .telegram .telegram.enabled .telegram.webhook .telegram.webhook.url -}}true{{- end -}}
{{- end -}}

{{/* Whether a bot needs the inbound HTTP listener ([ingress] listen, its container port,
     Service and NetworkPolicy port): Teams, or Telegram's webhook mode. "true" or "". */}}
{{- define "agent-broker.needsIngress" -}}
{{- if or (and .teams .teams.enabled) (include "agent-broker.telegramWebhook" .) -}}true{{- end -}}
{{- end -}}

{{/* The Secret holding a bot's chat tokens: its existingSecret or the chart-made one. */}}
{{- define "agent-broker.secretName" -}}
{{- .existingSecret | default (printf "%s-tokens" ._name) -}}
{{- end -}}

{{/* The preset an agent command names (its last path element), or "". */}}
{{- define "agent-broker.presetOfCommand" -}}
{{- $cmds := dict "kiro-cli" "kiro" "claude-agent-acp" "claude" "codex-acp" "codex" "gemini" "gemini" -}}
{{- get $cmds (base (toString .)) -}}
{{- end -}}

{{/*
An image reference split up: {repo, ref, preset, openab}. ref is ":tag" or "@digest" or "";
preset is the preset of one of our images or of OpenAB's (ghcr.io/openabdev/openab[-X])
("" for any other image); openab is true for OpenAB's own images, which run OpenAB, not
agent-broker, so only the preset they stand for is kept.
*/}}
{{- define "agent-broker.imageRef" -}}
{{- $s := toString . -}}
{{- $repo := $s -}}
{{- $ref := "" -}}
{{- if contains "@" $s -}}
{{- $repo = regexReplaceAll "@.*$" $s "" -}}
{{- $ref = trimPrefix $repo $s -}}
{{- else if regexMatch ":[^/]+$" $s -}}
{{- $repo = regexReplaceAll ":[^/]+$" $s "" -}}
{{- $ref = trimPrefix $repo $s -}}
{{- end -}}
{{- $m := regexFind "(^|/)(openab|agent-broker)(-(claude|codex|gemini|kiro))?$" $repo -}}
{{- $preset := "" -}}
{{- if $m -}}{{- $preset = regexReplaceAll "^.*(openab|agent-broker)-?" $m "" | default "kiro" -}}{{- end -}}
{{- $openab := regexMatch "(^|/)openabdev/openab(-[a-z]+)?$" $repo -}}
{{- dict "repo" $repo "ref" $ref "preset" $preset "openab" $openab | toJson -}}
{{- end -}}

{{/*
One `agents` entry in OpenAB 0.8's shape turned into this chart's: (list key entry).
OpenAB's shape is an entry without `agent` that has command, args, a string image,
workingDir, env, secretEnv or inheritEnv. Its preset is inferred from command, else
from the image; an OpenAB image stands for its preset's agent-broker image; `env` reaches
both the container and the agent ([agent] env), as in OpenAB. What agent-broker cannot
honour fails the render, naming the value: never a different agent than asked.
*/}}
{{- define "agent-broker.openab" -}}
{{- $key := index . 0 -}}
{{- $in := deepCopy (index . 1) -}}
{{- $path := printf "agents.%s" $key -}}
{{- $shaped := and (not (hasKey $in "agent")) (or (hasKey $in "command") (hasKey $in "args") (kindIs "string" $in.image) (hasKey $in "workingDir") (hasKey $in "env") (hasKey $in "secretEnv") (hasKey $in "inheritEnv")) -}}
{{- if $shaped -}}
{{- $agent := dict -}}
{{- $byCmd := "" -}}
{{- if $in.command -}}
{{- if not (kindIs "string" $in.command) -}}{{- fail (printf "%s.command: must be a string" $path) -}}{{- end -}}
{{- $byCmd = include "agent-broker.presetOfCommand" $in.command -}}
{{- if not $byCmd -}}
{{- fail (printf "%s.command: %q is not an agent agent-broker runs (kiro-cli, claude-agent-acp, codex-acp, gemini): no image of this chart carries it" $path $in.command) -}}
{{- end -}}
{{- $_ := set $agent "command" $in.command -}}
{{- end -}}
{{- $byImage := "" -}}
{{- if kindIs "string" $in.image -}}
{{- if $in.image -}}
{{- $img := include "agent-broker.imageRef" $in.image | fromJson -}}
{{- $byImage = $img.preset -}}
{{- if $img.openab -}}
{{- if not $byImage -}}
{{- fail (printf "%s.image: %q is an OpenAB image with no agent-broker counterpart (kiro, claude, codex, gemini)" $path $in.image) -}}
{{- end -}}
{{- $_ := set $in "image" dict -}}
{{- else -}}
{{- $_ := set $in "image" (dict "repository" $img.repo "tag" (trimPrefix ":" (ternary $img.ref "" (hasPrefix ":" $img.ref))) "digest" (trimPrefix "@" (ternary $img.ref "" (hasPrefix "@" $img.ref)))) -}}
{{- end -}}
{{- else -}}
{{- $_ := unset $in "image" -}}
{{- end -}}
{{- end -}}
{{- if and $byCmd $byImage (ne $byCmd $byImage) -}}
{{- fail (printf "%s: command %q runs %s but image %q is the %s image: make them agree" $path $in.command $byCmd (toString (index . 1).image) $byImage) -}}
{{- end -}}
{{- with (default $byImage $byCmd) -}}{{- $_ := set $agent "preset" . -}}{{- end -}}
{{- if hasKey $in "args" -}}{{- $_ := set $agent "args" (default list $in.args) -}}{{- end -}}
{{- with $in.workingDir -}}{{- $_ := set $agent "workingDir" . -}}{{- end -}}
{{- with $in.env -}}
{{- if not (kindIs "map" .) -}}{{- fail (printf "%s.env: must be a map of NAME: value" $path) -}}{{- end -}}
{{- $ae := dict -}}
{{- range $k, $v := . -}}{{- $_ := set $ae $k (toString $v) -}}{{- end -}}
{{- $_ := set $agent "env" $ae -}}
{{- end -}}
{{- with $in.inheritEnv -}}{{- $_ := set $agent "inheritEnv" . -}}{{- end -}}
{{- $_ := set $in "agent" $agent -}}
{{- range $k := list "command" "args" "workingDir" "inheritEnv" -}}{{- $_ := unset $in $k -}}{{- end -}}
{{- end -}}
{{- /* OpenAB's other per-agent keys, in either shape. */ -}}
{{- if and $in.gateway $in.gateway.enabled -}}
{{- fail (printf "%s.gateway.enabled: agent-broker has no OpenAB gateway (Telegram, LINE, Teams, Feishu, Google Chat); remove it or set it false" $path) -}}
{{- end -}}
{{- if and $in.cron (or $in.cron.usercronEnabled $in.cron.usercronPath) -}}
{{- fail (printf "%s.cron.usercronEnabled/usercronPath: agent-broker has no user cron file (jobs an agent writes at run time); list the jobs in cronjobs instead" $path) -}}
{{- end -}}
{{- if and $in.cronjobs (not (kindIs "slice" $in.cronjobs)) -}}
{{- fail (printf "%s.cronjobs: must be a list of jobs" $path) -}}
{{- end -}}
{{- range $p := list "discord" "slack" -}}
{{- $c := get $in $p -}}
{{- if and $c (kindIs "map" $c) -}}
{{- with $c.messageProcessingMode -}}
{{- if ne . "per-message" -}}
{{- fail (printf "%s.%s.messageProcessingMode: %q is not supported: agent-broker answers per message (queued per thread)" $path $p .) -}}
{{- end -}}
{{- end -}}
{{- range $k := list "messageProcessingMode" "maxBufferedMessages" "maxBatchTokens" -}}{{- $_ := unset $c $k -}}{{- end -}}
{{- range $k := list "allowAllChannels" "allowAllUsers" -}}
{{- if and (hasKey $c $k) (eq (get $c $k) nil) -}}{{- $_ := unset $c $k -}}{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- $in | toJson -}}
{{- end -}}

{{/*
Check a bot's secretEnv (OpenAB: a list of {name, secretName, secretKey}, each an env
var from a Secret) and add its names, but the chat tokens, to agent.inheritEnv so the
agent receives them; a name also in env fails (it would sit in clear in the values).
*/}}
{{- define "agent-broker.secretEnv" -}}
{{- $b := . -}}
{{- if not (kindIs "slice" (default list $b.secretEnv)) -}}{{- fail "secretEnv: must be a list of {name, secretName, secretKey}" -}}{{- end -}}
{{- $inherit := default list $b.agent.inheritEnv -}}
{{- range $i, $e := default list $b.secretEnv -}}
{{- if not (and (kindIs "map" $e) $e.name $e.secretName $e.secretKey) -}}
{{- fail (printf "secretEnv[%d]: each entry needs name, secretName and secretKey" $i) -}}
{{- end -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $e.name) -}}{{- fail (printf "secretEnv[%d].name: %q is not an environment variable name" $i $e.name) -}}{{- end -}}
{{- if or (hasKey (default dict $b.env) $e.name) (hasKey (default dict $b.agent.env) $e.name) -}}
{{- fail (printf "secretEnv: %s is also in env: remove it from env so it is not kept in clear" $e.name) -}}
{{- end -}}
{{- if not (has $e.name (list "DISCORD_BOT_TOKEN" "SLACK_BOT_TOKEN" "SLACK_APP_TOKEN" "TEAMS_APP_PASSWORD" "TELEGRAM_BOT_TOKEN" "TELEGRAM_WEBHOOK_SECRET" "STT_API_KEY")) -}}
{{- $inherit = append $inherit $e.name -}}
{{- end -}}
{{- end -}}
{{- if $inherit -}}{{- $_ := set $b.agent "inheritEnv" ($inherit | uniq) -}}{{- end -}}
{{- end -}}

{{/*
Where a bot's speech-to-text key (stt.enabled) comes from: "secret": stt.apiKey in the
chart's Secret, or existingSecret (a Secret with STT_API_KEY); "env": STT_API_KEY from
its secretEnv or envFrom. No source fails the render.
*/}}
{{- define "agent-broker.sttKeySource" -}}
{{- $b := . -}}
{{- $fromEnv := false -}}
{{- range default list $b.secretEnv -}}{{- if eq .name "STT_API_KEY" -}}{{- $fromEnv = true -}}{{- end -}}{{- end -}}
{{- if or $b.existingSecret $b.stt.apiKey -}}secret
{{- else if or $fromEnv $b.envFrom -}}env
{{- else -}}
{{- fail (printf "%s: stt.enabled needs its key: stt.apiKey, existingSecret (a Secret with STT_API_KEY), or STT_API_KEY from secretEnv or envFrom" $b._name) -}}
{{- end -}}
{{- end -}}

{{/*
Where a bot's PLATFORM token comes from: (list bot "discord"|"slack"). "secret": the
chart's Secret or existingSecret; "env": the bot's secretEnv or envFrom provides it (OpenAB
0.8 lets the token come at run time). No source fails the render.
*/}}
{{- define "agent-broker.tokenSource" -}}
{{- $b := index . 0 -}}
{{- $p := index . 1 -}}
{{- $c := get $b $p -}}
{{- $vars := ternary (list "DISCORD_BOT_TOKEN") (list "SLACK_BOT_TOKEN" "SLACK_APP_TOKEN") (eq $p "discord") -}}
{{- $inline := ternary $c.botToken (and $c.botToken $c.appToken) (eq $p "discord") -}}
{{- $fromEnv := true -}}
{{- range $v := $vars -}}
{{- $found := false -}}
{{- range default list $b.secretEnv -}}{{- if eq .name $v -}}{{- $found = true -}}{{- end -}}{{- end -}}
{{- if not $found -}}{{- $fromEnv = false -}}{{- end -}}
{{- end -}}
{{- if or $b.existingSecret $inline -}}secret
{{- else if or $fromEnv $b.envFrom -}}env
{{- else -}}
{{- fail (printf "%s: %s.enabled needs its token: %s, existingSecret (a Secret with %s), or the variable%s from secretEnv or envFrom" $b._name $p (ternary "discord.botToken" "slack.botToken and slack.appToken" (eq $p "discord")) (join " and " $vars) (ternary "" "s" (eq $p "discord"))) -}}
{{- end -}}
{{- end -}}
