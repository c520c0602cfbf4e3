#!/usr/bin/env bash
# House style: every tracked C source and header is clang-format clean (.clang-format).
set -u
cd "${AB_SOURCE_ROOT:?}"
command -v clang-format >/dev/null || { echo "clang-format not installed"; exit 77; }
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null); do
    if ! clang-format --style=file --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "not clang-format clean: $f (run: clang-format -i $f)"
        bad=$((bad + 1))
    fi
done
[ "$bad" -eq 0 ] || exit 1
echo "all C sources are clang-format clean"
