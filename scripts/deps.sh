#!/usr/bin/env bash
# Install what building agent-broker needs on Debian 12 (bookworm). With "test",
# also what the test suite needs. Safe to run again: installs only what is missing.
set -euo pipefail

build_pkgs=(build-essential meson ninja-build pkg-config libuv1-dev libwebsockets-dev
            libwebsockets-evlib-uv libcurl4-openssl-dev libcjson-dev libcmark-gfm-dev libcmark-gfm-extensions-dev
            ca-certificates check)
test_pkgs=(valgrind clang-format python3 python3-websockets nodejs npm unzip procps clang libclang-rt-14-dev)

want=("${build_pkgs[@]}")
[ "${1:-}" = "test" ] && want+=("${test_pkgs[@]}")

missing=()
for p in "${want[@]}"; do
    # A package counts as present when dpkg says it is installed; npm/node may come
    # from elsewhere (nodesource), so accept a working command too.
    case "$p" in
        nodejs) command -v node >/dev/null && continue ;;
        npm) command -v npm >/dev/null && continue ;;
    esac
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    echo "installing: ${missing[*]}" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

if [ "${1:-}" = "test" ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    if [ ! -d "$here/tests/node_modules" ] || [ "$here/tests/package.json" -nt "$here/tests/node_modules/.stamp" ]; then
        echo "installing npm test packages" >&2
        (cd "$here/tests" && npm install --no-audit --no-fund --loglevel=error --fetch-retries=4 >&2 && touch node_modules/.stamp)
    fi
fi
