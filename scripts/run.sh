#!/usr/bin/env bash
# Install build dependencies, build agent-broker, and run it. Arguments go to the
# daemon (default: `run ./config.toml`, or the console chat when no config exists).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/scripts/deps.sh"
[ -f "$here/build-run/build.ninja" ] || meson setup "$here/build-run" "$here" --buildtype=release -Dtests=false >/dev/null
ninja -C "$here/build-run" >/dev/null
if [ $# -eq 0 ]; then
    if [ -f config.toml ]; then set -- run config.toml; else set -- console; fi
fi
exec "$here/build-run/core/agent-broker" "$@"
