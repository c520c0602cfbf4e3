#!/usr/bin/env bash
# The soak: MINUTES (default 30) of steady mixed traffic from both loopback fakes
# through one `agent-broker run` with the scripted agent (bench/soak/soak.py), then an
# audit: every message answered exactly once; the daemon's RSS and open fds at
# start/end/max. Builds the release build bench/run.sh uses (build-bench) unless
# AGENT_BROKER_BIN names a binary (its build tree's plugins are used). Not part of the
# test command. Needs node and tests/node_modules (ws).
# Usage: bench/soak/run.sh [MINUTES]
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root" || exit 2
minutes=${1:-30}
if [ -z "${AGENT_BROKER_BIN:-}" ]; then
    build=build-bench
    if [ -f $build/build.ninja ]; then
        meson configure $build -Dbuildtype=release -Db_sanitize=none -Dtests=false \
            -Dbench=true >/dev/null || exit 2
    else
        meson setup $build -Dbuildtype=release -Db_sanitize=none -Dtests=false \
            -Dbench=true >/dev/null || exit 2
    fi
    ninja -C $build -j2 >$build/soak-build.log 2>&1 || { tail -20 $build/soak-build.log; exit 2; }
    export AGENT_BROKER_BIN=$root/$build/core/agent-broker
fi
export AB_SOURCE_ROOT=$root
# the whole soak is bounded: traffic, a 3-minute drain, set-up and audit
exec timeout $(( ${minutes%.*} * 60 + 600 )) python3 -u bench/soak/soak.py "$minutes"
