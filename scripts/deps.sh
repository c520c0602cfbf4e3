#!/usr/bin/env bash
# Install what building agent-broker needs on Debian 12 (bookworm). Safe to run
# again: installs only what is missing.
#
#   scripts/deps.sh            build (compilers, libraries, check)
#   scripts/deps.sh release    build + what the unit suite runs (scripts/build-release.sh,
#                              every image's builder stage: a bare debian:bookworm)
#   scripts/deps.sh test       all of it + the whole test suite's tools (incl. the
#                              'images' suite: buildah, podman, runc, debootstrap)
#   scripts/deps.sh --print MODE   list MODE's packages, one a line, install nothing
set -euo pipefail

build_pkgs=(build-essential meson ninja-build pkg-config libuv1-dev libwebsockets-dev
            libwebsockets-evlib-uv libcjson-dev libcmark-gfm-dev
            libcmark-gfm-extensions-dev libssl-dev ca-certificates check)
# libssl-dev: the core's HTTP client speaks TLS with OpenSSL (libwebsockets' TLS library,
# so no second stack); chat-teams checks the Bot Framework's JWT signatures with libcrypto.
# The unit suite starts test peers (tests/acp/scripted-agent.js, tests/unit/net/ws_server.py)
# and makes git worktrees (per-conversation workspaces).
unit_pkgs=(nodejs python3 python3-websockets git)
test_pkgs=(valgrind clang-format npm unzip procps clang libclang-rt-14-dev
           buildah podman runc debootstrap)

print=false
if [ "${1:-}" = "--print" ]; then
    print=true
    shift
fi
mode=${1:-build}
case "$mode" in
    build) want=("${build_pkgs[@]}") ;;
    release) want=("${build_pkgs[@]}" "${unit_pkgs[@]}") ;;
    test) want=("${build_pkgs[@]}" "${unit_pkgs[@]}" "${test_pkgs[@]}") ;;
    *) echo "usage: $0 [--print] [build|release|test]" >&2; exit 2 ;;
esac
if $print; then
    printf '%s\n' "${want[@]}"
    exit 0
fi

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

if [ "$mode" = "test" ]; then
    here=$(cd "$(dirname "$0")/.." && pwd)
    if [ ! -d "$here/tests/node_modules" ] || [ "$here/tests/package.json" -nt "$here/tests/node_modules/.stamp" ]; then
        echo "installing npm test packages" >&2
        (cd "$here/tests" && npm install --no-audit --no-fund --loglevel=error --fetch-retries=4 >&2 && touch node_modules/.stamp)
    fi
fi
