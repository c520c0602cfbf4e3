#!/bin/sh
# Run toml-decoder under valgrind over every toml-test vector of the 1.0.0 list:
# valid ones must exit 0, invalid ones 1 (the error path must not leak either);
# valgrind's own exit code 99 means a memory error or leak.
# usage: valgrind.sh DECODER VECTOR_DIR
set -eu
decoder=$1
dir=$2
log="${TMPDIR:-/tmp}/toml-valgrind.$$"
n=0
for rel in $(grep '\.toml$' "$dir/files-toml-1.0.0"); do
    case $rel in
    valid/*) want=0 ;;
    *) want=1 ;;
    esac
    rc=0
    valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=all \
        "$decoder" <"$dir/$rel" >/dev/null 2>"$log" || rc=$?
    if [ "$rc" -ne "$want" ]; then
        echo "FAIL $rel: exit $rc, want $want"
        cat "$log"
        rm -f "$log"
        exit 1
    fi
    n=$((n + 1))
done
rm -f "$log"
echo "$n vectors, valgrind clean"
