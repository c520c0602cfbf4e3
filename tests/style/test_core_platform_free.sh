#!/usr/bin/env bash
# The core knows no chat platform: the names of the bundled platforms appear nowhere
# under core/src (comments included). Platform facts live in the plugins' descriptors.
set -u
cd "${AB_SOURCE_ROOT:?}"
hits=$(grep -rniE 'discord|slack' core/src || true)
if [ -n "$hits" ]; then
    echo "core/src names a platform (move the fact into the plugin's descriptor, or"
    echo "write the comment platform-neutrally):"
    echo "$hits"
    exit 1
fi
echo "core/src names no platform"
