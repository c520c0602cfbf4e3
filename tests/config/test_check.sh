#!/usr/bin/env bash
# `agent-broker check`: every problem at once as FILE:LINE: KEY: message, exit 2;
# OpenAB's example configs pass unchanged.
set -u
bin=${AGENT_BROKER_BIN:?}
src=${AB_SOURCE_ROOT:?}
fail() { echo "FAIL: $*"; echo "--- output:"; echo "$out"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
mkdir bin
for c in kiro-cli claude-agent-acp codex-acp gemini; do printf '#!/bin/sh\nexit 0\n' > bin/$c; chmod +x bin/$c; done
export PATH="$tmp/bin:/usr/bin:/bin"
export DISCORD_BOT_TOKEN=discord-test-token-value SLACK_BOT_TOKEN=xoxb-test-1 SLACK_APP_TOKEN=xapp-test-1
export ANTHROPIC_API_KEY=sk-ant-test

# A section no installed plugin claims (a typo) with no chat plugin enabled: run would
# not start, so check fails and says why.
printf '[discrod]\nbot_token = "x"\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unclaimed section: exit $rc"
echo "$out" | grep -q '^warning: config.toml:1: discrod: unknown section, ignored — no installed chat plugin is named "discrod"' || fail "unclaimed section not named"
echo "$out" | grep -q 'plugins.chat: no chat plugin is enabled' || fail "no enabled chat plugin not reported"
out=$(timeout 30 "$bin" run config.toml 2>&1 </dev/null); rc=$?
[ $rc -eq 2 ] || fail "run with an unclaimed section: exit $rc, want 2 (not the console)"

# A syntax error on line 3.
printf '[pool]\nmax_sessions = 3\nsession_ttl_hours = = 4\n' > config.toml
out=$("$bin" check 2>&1); rc=$?
[ $rc -eq 2 ] || fail "syntax error: exit $rc, want 2"
echo "$out" | grep -q '^config.toml:3: ' || fail "syntax error not reported at config.toml:3"

# A string where max_sessions wants an integer, and a missing bot_token, together.
printf '[discord]\nallowed_channels = ["1"]\n\n[pool]\nmax_sessions = "ten"\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "type error: exit $rc, want 2"
echo "$out" | grep -q '^config.toml:5: pool.max_sessions: expected an integer' || fail "pool.max_sessions not named"
echo "$out" | grep -q '^config.toml:1: \[discord\] bot_token: is required' || fail "[discord] bot_token not named"

# An empty token after ${VAR} expansion fails check like it fails run.
printf '[discord]\nbot_token = "${NOT_SET_ANYWHERE_X}"\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "empty token: exit $rc"
echo "$out" | grep -q 'warning: config.toml:2: discord.bot_token: environment variable NOT_SET_ANYWHERE_X is not set' || fail "unset variable warning"
echo "$out" | grep -q 'config.toml:2: \[discord\] bot_token: is empty' || fail "empty token error"

# The agent command must resolve on PATH.
printf '[agent]\ncommand = "no-such-agent-cli"\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unresolvable agent: exit $rc"
echo "$out" | grep -q 'config.toml:2: agent.command: "no-such-agent-cli" was not found on PATH' || fail "agent command not checked"

# A chat plugin that does not exist.
printf '[plugins]\nchat = ["matrix"]\n[matrix]\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "missing plugin: exit $rc"
echo "$out" | grep -q 'chat plugin chat-matrix.so is not on the plugin path' || fail "missing chat plugin"

# A section no installed plugin claims (a typo) with no chat plugin enabled: run would
# not start, so check fails and says why.
printf '[discrod]\nbot_token = "x"\n' > config.toml
out=$("$bin" check config.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "unclaimed section: exit $rc"
echo "$out" | grep -q '^warning: config.toml:1: discrod: unknown section, ignored — no installed chat plugin is named "discrod"' || fail "unclaimed section not named"
echo "$out" | grep -q 'plugins.chat: no chat plugin is enabled' || fail "no enabled chat plugin not reported"
out=$("$bin" run config.toml 2>&1 </dev/null); rc=$?
[ $rc -eq 2 ] || fail "run with an unclaimed section: exit $rc, want 2 (not the console)"

# OpenAB's example configs pass unchanged.
for f in "$src"/tests/config/openab/*.toml; do
    out=$("$bin" check "$f" 2>&1); rc=$?
    [ $rc -eq 0 ] || fail "$(basename "$f") should pass check (exit $rc)"
done
echo "$out" | grep -q 'warning: .*config-later.toml:[0-9]*: markdown: \[markdown\] is not implemented' || fail "[markdown] warning"

# [[cron.jobs]]: a bad schedule and an unknown zone, each at its job's line; a good one passes.
printf '[agent]\ncommand = "claude-agent-acp"\n\n[[cron.jobs]]\nschedule = "0 9 * * MON-FRI"\nchannel = "1"\nmessage = "ok"\ntimezone = "Australia/Lord_Howe"\n\n[[cron.jobs]]\nschedule = "0 25 * * *"\nchannel = "1"\nmessage = "x"\n\n[[cron.jobs]]\nschedule = "0 9 * * *"\nchannel = "1"\nmessage = "x"\ntimezone = "../../etc/passwd"\n' > cron.toml
out=$("$bin" check cron.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "cron: exit $rc, want 2"
echo "$out" | grep -q '^cron.toml:10: cron.jobs.schedule: "0 25 \* \* \*": hour field "25": values are 0-23' || fail "cron schedule not reported at its line"
echo "$out" | grep -q '^cron.toml:15: cron.jobs.timezone: .*not a time zone name' || fail "cron zone not reported at its line"
echo "$out" | grep -q '^cron.toml:4:' && fail "the good cron job was reported"
echo "$out" | grep -q '^warning: cron.toml:4: cron.jobs: no chat plugin is enabled: the job is skipped' || fail "a job without a platform to post on not reported"

# A job aimed at a channel the platform's policy refuses, or at a platform not enabled,
# is reported at its line and skipped (a warning: the others run); an allowed one passes.
printf '[discord]
bot_token = "${DISCORD_BOT_TOKEN}"
allowed_channels = ["1"]

[[cron.jobs]]
schedule = "0 9 * * *"
channel = "1"
message = "ok"

[[cron.jobs]]
schedule = "0 9 * * *"
channel = "2"
message = "refused"

[[cron.jobs]]
schedule = "0 9 * * *"
channel = "1"
platform = "slack"
message = "elsewhere"
' > cron.toml
out=$("$bin" check cron.toml 2>&1); rc=$?
[ $rc -eq 0 ] || fail "cron places: exit $rc, want 0"
echo "$out" | grep -q '^warning: cron.toml:10: cron.jobs.channel: 2 is not in \[discord\] allowed_channels: the job is skipped' || fail "a job in a refused channel not reported"
echo "$out" | grep -q '^warning: cron.toml:15: cron.jobs.platform: "slack" is not an enabled chat plugin' || fail "a job on a platform not enabled not reported"
echo "$out" | grep -q 'cron.toml:5:' && fail "the allowed job was reported"

# A missing file is a usage error.
out=$("$bin" check nope.toml 2>&1); rc=$?
[ $rc -eq 2 ] || fail "missing file: exit $rc"
echo ok
