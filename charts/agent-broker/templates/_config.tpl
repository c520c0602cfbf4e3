{{/*
One `key = value` line of config.toml, the value quoted with toJson after a type
check, so a value can neither break nor inject into the file:
(list TOML_KEY VALUE TYPE VALUES_PATH), TYPE one of str int bool strs discordIds slackIds.
*/}}
{{- define "agent-broker.toml.kv" -}}
{{- $key := index . 0 -}}
{{- $v := index . 1 -}}
{{- $type := index . 2 -}}
{{- $path := index . 3 -}}
{{- if eq $type "str" -}}
{{- if not (kindIs "string" $v) -}}{{- fail (printf "%s: %v must be a string" $path $v) -}}{{- end -}}
{{- printf "%s = %s" $key (toJson $v) -}}
{{- else if eq $type "int" -}}
{{- if not (or (kindIs "float64" $v) (kindIs "int64" $v) (kindIs "int" $v)) -}}
{{- fail (printf "%s: %v must be a whole number" $path $v) -}}
{{- end -}}
{{- if or (ne (float64 (int64 $v)) (float64 $v)) (lt (float64 $v) 0.0) -}}
{{- fail (printf "%s: %v must be a whole number, 0 or more" $path $v) -}}
{{- end -}}
{{- printf "%s = %d" $key (int64 $v) -}}
{{- else if eq $type "bool" -}}
{{- if not (kindIs "bool" $v) -}}{{- fail (printf "%s: %v must be true or false" $path $v) -}}{{- end -}}
{{- printf "%s = %t" $key $v -}}
{{- else -}}
{{- if not (kindIs "slice" (default list $v)) -}}{{- fail (printf "%s: must be a list" $path) -}}{{- end -}}
{{- range $i, $e := default list $v -}}
{{- if not (kindIs "string" $e) -}}
{{- if ne $type "strs" -}}
{{- fail (printf "%s[%d]: %v is a number, not an id: YAML turned an unquoted id into a float and lost its digits; quote it (\"1234567890123456789\") or use --set-string" $path $i $e) -}}
{{- end -}}
{{- fail (printf "%s[%d]: %v must be a string" $path $i $e) -}}
{{- end -}}
{{- if and (eq $type "discordIds") (not (regexMatch "^[0-9]{1,20}$" $e)) -}}
{{- fail (printf "%s[%d]: %q is not a Discord id (digits only; a float like 1.2e+18 means the id was mangled: quote the original)" $path $i $e) -}}
{{- end -}}
{{- if and (eq $type "telegramIds") (not (regexMatch "^-?[0-9]{1,20}$" $e)) -}}
{{- fail (printf "%s[%d]: %q is not a Telegram id (digits, negative for groups, like -1001234567890)" $path $i $e) -}}
{{- end -}}
{{- if and (eq $type "slackIds") (not (regexMatch "^[A-Z0-9]{2,32}$" $e)) -}}
{{- fail (printf "%s[%d]: %q is not a Slack id (upper-case letters and digits, like C0123ABCD)" $path $i $e) -}}
{{- end -}}
{{- end -}}
{{- printf "%s = %s" $key (toJson (default list $v)) -}}
{{- end -}}
{{- end -}}

{{/* The gating keys Discord and Slack share: (list section values path idsType). */}}
{{- define "agent-broker.toml.gating" -}}
{{- $c := index . 0 -}}
{{- $p := index . 1 -}}
{{- $ids := index . 2 }}
{{ include "agent-broker.toml.kv" (list "allowed_channels" $c.allowedChannels $ids (printf "%s.allowedChannels" $p)) }}
{{ include "agent-broker.toml.kv" (list "allowed_users" $c.allowedUsers $ids (printf "%s.allowedUsers" $p)) }}
{{ include "agent-broker.toml.kv" (list "trusted_bot_ids" $c.trustedBotIds $ids (printf "%s.trustedBotIds" $p)) }}
{{- if hasKey $c "allowAllChannels" }}
{{ include "agent-broker.toml.kv" (list "allow_all_channels" $c.allowAllChannels "bool" (printf "%s.allowAllChannels" $p)) }}
{{- end }}
{{- if hasKey $c "allowAllUsers" }}
{{ include "agent-broker.toml.kv" (list "allow_all_users" $c.allowAllUsers "bool" (printf "%s.allowAllUsers" $p)) }}
{{- end }}
{{ include "agent-broker.toml.kv" (list "allow_user_messages" $c.allowUserMessages "str" (printf "%s.allowUserMessages" $p)) }}
{{ include "agent-broker.toml.kv" (list "allow_bot_messages" $c.allowBotMessages "str" (printf "%s.allowBotMessages" $p)) }}
{{ include "agent-broker.toml.kv" (list "max_bot_turns" $c.maxBotTurns "int" (printf "%s.maxBotTurns" $p)) }}
{{- end -}}

{{/* Optional keys of a map rendered in a fixed order: (list map path type (list valuesKey tomlKey)...). */}}
{{- define "agent-broker.toml.optional" -}}
{{- $m := default dict (index . 0) -}}
{{- $path := index . 1 -}}
{{- $type := index . 2 -}}
{{- range $pair := index . 3 -}}
{{- if hasKey $m (index $pair 0) }}
{{ include "agent-broker.toml.kv" (list (index $pair 1) (get $m (index $pair 0)) $type (printf "%s.%s" $path (index $pair 0))) }}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* A bot's config.toml (the dict from agent-broker.bots); tokens only as ${VAR} from its Secret. */}}
{{- define "agent-broker.config" -}}
{{- $b := . -}}
{{- if not (or $b.discord.enabled $b.slack.enabled (and $b.teams $b.teams.enabled) (and $b.telegram $b.telegram.enabled)) -}}
{{- fail (printf "%s: enable discord, slack, teams or telegram (discord.enabled / slack.enabled / teams.enabled / telegram.enabled): a bot with no chat platform has nothing to do" $b._name) -}}
{{- end -}}
# config.toml for {{ $b._name }}, rendered by the agent-broker Helm chart: change the
# chart's values, not this file. Tokens come from the environment (the Secret).

[agent]
{{ include "agent-broker.toml.kv" (list "preset" $b.agent.preset "str" "agent.preset") }}
{{ include "agent-broker.toml.kv" (list "command" $b._command "str" "agent.command") }}
{{ include "agent-broker.toml.kv" (list "args" $b._args "strs" "agent.args") }}
{{ include "agent-broker.toml.kv" (list "working_dir" $b._workingDir "str" "agent.workingDir") }}
{{- with $b.agent.env }}
{{- if not (kindIs "map" .) }}{{ fail "agent.env: must be a map of NAME: value" }}{{ end }}
env = { {{- range $i, $k := keys . | sortAlpha }}{{ if $i }},{{ end }} {{ toJson $k }} = {{ include "agent-broker.toml.kv" (list "" (get $b.agent.env $k) "str" (printf "agent.env.%s" $k)) | trimPrefix " = " }}{{ end }} }
{{- end }}
{{- with $b.agent.inheritEnv }}
{{ include "agent-broker.toml.kv" (list "inherit_env" . "strs" "agent.inheritEnv") }}
{{- end }}
{{- if $b.discord.enabled }}

[discord]
bot_token = "${DISCORD_BOT_TOKEN}"
{{- include "agent-broker.toml.gating" (list $b.discord "discord" "discordIds") }}
{{ include "agent-broker.toml.kv" (list "allowed_role_ids" $b.discord.allowedRoleIds "discordIds" "discord.allowedRoleIds") }}
{{ include "agent-broker.toml.kv" (list "allow_dm" $b.discord.allowDm "bool" "discord.allowDm") }}
{{- if gt (int64 $b._shards) 1 }}
shard_id = {{ int64 $b._shard }}
shard_count = {{ int64 $b._shards }}
{{- end }}
{{- end }}
{{- if $b.slack.enabled }}

[slack]
bot_token = "${SLACK_BOT_TOKEN}"
app_token = "${SLACK_APP_TOKEN}"
{{- include "agent-broker.toml.gating" (list $b.slack "slack" "slackIds") }}
{{- end }}
{{- if and $b.telegram $b.telegram.enabled }}

[telegram]
bot_token = "${TELEGRAM_BOT_TOKEN}"
{{- include "agent-broker.toml.gating" (list $b.telegram "telegram" "telegramIds") }}
{{ include "agent-broker.toml.kv" (list "allow_dm" $b.telegram.allowDm "bool" "telegram.allowDm") }}
{{- if include "agent-broker.telegramWebhook" $b }}
{{ include "agent-broker.toml.kv" (list "webhook_url" $b.telegram.webhook.url "str" "telegram.webhook.url") }}
webhook_secret = "${TELEGRAM_WEBHOOK_SECRET}"
{{ include "agent-broker.toml.kv" (list "webhook_path" $b.telegram.webhook.path "str" "telegram.webhook.path") }}
{{ include "agent-broker.toml.kv" (list "webhook_check_s" $b.telegram.webhook.checkS "int" "telegram.webhook.checkS") }}
{{- end }}
{{- end }}
{{- if and $b.teams $b.teams.enabled }}

[teams]
{{ include "agent-broker.toml.kv" (list "app_id" $b.teams.appId "str" "teams.appId") }}
app_password = "${TEAMS_APP_PASSWORD}"
{{- if $b.teams.tenantId }}
{{ include "agent-broker.toml.kv" (list "tenant_id" $b.teams.tenantId "str" "teams.tenantId") }}
{{- end }}
{{ include "agent-broker.toml.kv" (list "allowed_teams" $b.teams.allowedTeams "strs" "teams.allowedTeams") }}
{{ include "agent-broker.toml.kv" (list "allowed_channels" $b.teams.allowedChannels "strs" "teams.allowedChannels") }}
{{ include "agent-broker.toml.kv" (list "allowed_users" $b.teams.allowedUsers "strs" "teams.allowedUsers") }}
{{ include "agent-broker.toml.kv" (list "allow_dm" $b.teams.allowDm "bool" "teams.allowDm") }}
{{- end }}
{{- if include "agent-broker.needsIngress" $b }}

[ingress]
{{ include "agent-broker.toml.kv" (list "listen" (printf "0.0.0.0:%d" (int64 $b.ingress.port)) "str" "ingress.port") }}
{{- end }}

[pool]
{{ include "agent-broker.toml.kv" (list "max_sessions" $b.pool.maxSessions "int" "pool.maxSessions") }}
{{ include "agent-broker.toml.kv" (list "session_ttl_hours" $b.pool.sessionTtlHours "int" "pool.sessionTtlHours") }}
{{ include "agent-broker.toml.kv" (list "sessions_per_process" $b.pool.sessionsPerProcess "int" "pool.sessionsPerProcess") }}
{{ include "agent-broker.toml.kv" (list "drain_timeout_s" $b.pool.drainTimeoutS "int" "pool.drainTimeoutS") }}

[permissions]
{{ include "agent-broker.toml.kv" (list "mode" $b.permissions.mode "str" "permissions.mode") }}
{{ include "agent-broker.toml.kv" (list "timeout_s" $b.permissions.timeoutS "int" "permissions.timeoutS") }}

[reactions]
{{ include "agent-broker.toml.kv" (list "enabled" $b.reactions.enabled "bool" "reactions.enabled") }}
{{ include "agent-broker.toml.kv" (list "remove_after_reply" $b.reactions.removeAfterReply "bool" "reactions.removeAfterReply") }}
{{ include "agent-broker.toml.kv" (list "tool_display" $b.reactions.toolDisplay "str" "reactions.toolDisplay") }}
{{- with $b.reactions.emojis }}

[reactions.emojis]
{{- include "agent-broker.toml.optional" (list . "reactions.emojis" "str" (list (list "queued" "queued") (list "thinking" "thinking") (list "tool" "tool") (list "coding" "coding") (list "web" "web") (list "done" "done") (list "error" "error") (list "stallSoft" "stall_soft") (list "stallHard" "stall_hard") (list "cancel" "cancel"))) }}
{{- end }}
{{- with $b.reactions.timing }}

[reactions.timing]
{{- include "agent-broker.toml.optional" (list . "reactions.timing" "int" (list (list "debounceMs" "debounce_ms") (list "stallSoftMs" "stall_soft_ms") (list "stallHardMs" "stall_hard_ms") (list "doneHoldMs" "done_hold_ms") (list "errorHoldMs" "error_hold_ms"))) }}
{{- end }}

[stream]
{{ include "agent-broker.toml.kv" (list "edit_interval_ms" $b.stream.editIntervalMs "int" "stream.editIntervalMs") }}
{{- if and $b.stt $b.stt.enabled }}

[stt]
enabled = true
api_key = "${STT_API_KEY}"
{{- with $b.stt.model }}
{{ include "agent-broker.toml.kv" (list "model" . "str" "stt.model") }}
{{- end }}
{{- with $b.stt.baseUrl }}
{{ include "agent-broker.toml.kv" (list "base_url" . "str" "stt.baseUrl") }}
{{- end }}
{{- if hasKey $b.stt "echoTranscript" }}
{{ include "agent-broker.toml.kv" (list "echo_transcript" $b.stt.echoTranscript "bool" "stt.echoTranscript") }}
{{- end }}
{{- end }}
{{- /* OpenAB's cronjobs: its defaults (platform discord, sender openab-cron, UTC) */ -}}
{{- range $i, $j := $b.cronjobs }}
{{- $p := printf "cronjobs[%d]" $i }}
{{- if not (kindIs "map" $j) }}{{ fail (printf "%s: must be a map (schedule, channel, message, …)" $p) }}{{ end }}
{{- if not (and $j.schedule $j.message (or $j.channel $j.threadId)) }}
{{- fail (printf "%s: schedule, message and channel (or threadId) are required" $p) }}
{{- end }}

[[cron.jobs]]
{{ include "agent-broker.toml.kv" (list "enabled" (ternary $j.enabled true (hasKey $j "enabled")) "bool" (printf "%s.enabled" $p)) }}
{{ include "agent-broker.toml.kv" (list "schedule" $j.schedule "str" (printf "%s.schedule" $p)) }}
{{- with $j.channel }}
{{ include "agent-broker.toml.kv" (list "channel" . "str" (printf "%s.channel" $p)) }}
{{- end }}
{{ include "agent-broker.toml.kv" (list "message" $j.message "str" (printf "%s.message" $p)) }}
{{ include "agent-broker.toml.kv" (list "platform" ($j.platform | default "discord") "str" (printf "%s.platform" $p)) }}
{{ include "agent-broker.toml.kv" (list "sender_name" ($j.senderName | default "openab-cron") "str" (printf "%s.senderName" $p)) }}
{{ include "agent-broker.toml.kv" (list "timezone" ($j.timezone | default "UTC") "str" (printf "%s.timezone" $p)) }}
{{- with $j.threadId }}
{{ include "agent-broker.toml.kv" (list "thread_id" . "str" (printf "%s.threadId" $p)) }}
{{- end }}
{{- end }}

[health]
{{ include "agent-broker.toml.kv" (list "listen" (printf "0.0.0.0:%d" (int64 $b.health.port)) "str" "health.port") }}

[state]
{{ include "agent-broker.toml.kv" (list "dir" (printf "%s/.agent-broker" $b._home) "str" "persistence") }}

[log]
{{ include "agent-broker.toml.kv" (list "level" $b.log.level "str" "log.level") }}
{{ include "agent-broker.toml.kv" (list "format" $b.log.format "str" "log.format") }}
{{ end -}}
