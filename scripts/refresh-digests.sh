#!/usr/bin/env bash
# Re-pin every base image in docker/Dockerfile* (FROM lines and the BASE_* ARG defaults
# the FROM lines use) to the digest its tag points at now.
#
#   scripts/refresh-digests.sh            rewrite the FROM lines in place
#   scripts/refresh-digests.sh --check    only report which pins are stale (exit 1 if any)
#
# Each `FROM IMAGE:TAG@sha256:DIGEST` line is looked up with
# `docker buildx imagetools inspect IMAGE:TAG` (the multi-arch index digest, so one
# pin serves amd64 and arm64); `crane digest IMAGE:TAG` is used when docker is absent.
# Needs registry access, so it is run by a maintainer, never by the test suite; the
# packaging tests only check that every FROM has the pinned form.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
check_only=false
[ "${1:-}" = "--check" ] && check_only=true

if command -v docker >/dev/null && docker buildx version >/dev/null 2>&1; then
    lookup() { docker buildx imagetools inspect "$1" --format '{{json .Manifest.Digest}}' | tr -d '"'; }
elif command -v crane >/dev/null; then
    lookup() { crane digest "$1"; }
else
    echo "refresh-digests: needs 'docker buildx' or 'crane' (and registry access)" >&2
    exit 2
fi

stale=0
for file in "$here"/docker/Dockerfile*; do
    # FROM [--platform=...] IMAGE:TAG@sha256:HEX [AS name], or the default of a base
    # argument used by FROM: ARG BASE_NAME=IMAGE:TAG@sha256:HEX
    refs=$( (grep -oE '^FROM +([^ ]+ +)?[^ @$]+:[^ @]+@sha256:[0-9a-f]{64}' "$file" | awk '{print $NF}'
             grep -oE '^ARG +BASE_[A-Z0-9_]+=[^ @]+:[^ @]+@sha256:[0-9a-f]{64}' "$file" | sed 's/^[^=]*=//') | sort -u)
    for ref in $refs; do
        image=${ref%@*}
        old=${ref#*@}
        new=$(lookup "$image")
        if ! [[ "$new" =~ ^sha256:[0-9a-f]{64}$ ]]; then
            echo "refresh-digests: $image: unexpected digest '$new'" >&2
            exit 1
        fi
        [ "$new" = "$old" ] && continue
        stale=1
        echo "${file#"$here"/}: $image $old -> $new"
        $check_only || sed -i "s|$image@$old|$image@$new|g" "$file"
    done
done
if $check_only && [ $stale -eq 1 ]; then
    exit 1
fi
exit 0
