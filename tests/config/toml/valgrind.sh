#!/bin/sh
# Run toml-decoder under valgrind over every valid toml-test vector of the 1.0.0 list;
# fail on the first memory error or leak. usage: valgrind.sh DECODER VECTOR_DIR
set -eu
decoder=$1
dir=$2
n=0
for rel in $(grep '^valid/.*\.toml$' "$dir/files-toml-1.0.0"); do
    if ! valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all \
        "$decoder" < "$dir/$rel" > /dev/null 2>"${TMPDIR:-/tmp}/toml-valgrind.$$"; then
        echo "FAIL $rel"
        cat "${TMPDIR:-/tmp}/toml-valgrind.$$"
        rm -f "${TMPDIR:-/tmp}/toml-valgrind.$$"
        exit 1
    fi
    n=$((n + 1))
done
rm -f "${TMPDIR:-/tmp}/toml-valgrind.$$"
echo "$n vectors, valgrind clean"
