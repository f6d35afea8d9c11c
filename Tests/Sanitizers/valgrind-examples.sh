#!/usr/bin/env bash
# Tests/Sanitizers/valgrind-examples.sh
#
# valgrind --leak-check=full on the C example (examples/classify) and on the
# Python example (examples/classify.py through ctypes, run by /usr/bin/python3
# itself, not a wrapper script), each classifying the four example drawings
# with the shipped model through the self-contained release library
# (make -C examples). Prints valgrind's leak summary and error count for
# each; exit status 1 if any byte is definitely lost or any memory error is
# reported. PYTHONMALLOC=malloc makes every Python object a malloc block so
# valgrind sees them (Python's own arena allocator would hide them).
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
make -C "$ROOT/examples" classify >/dev/null || exit 2
cd "$ROOT/examples"
MODEL="$ROOT/Sources/dsc/Resources/default.dsm"
VG=(valgrind --leak-check=full --show-leak-kinds=definite,indirect,possible --errors-for-leak-kinds=definite
    --suppressions="$ROOT/Tests/Sanitizers/valgrind-ldso.supp" --error-exitcode=99)
status=0
run() {  # run NAME COMMAND...
    local name=$1 log
    shift
    log=$(mktemp)
    "${VG[@]}" "$@" >"$log" 2>&1
    local rc=$?
    echo "== $name (exit $rc)"
    grep -E "definitely lost|indirectly lost|possibly lost:|still reachable|ERROR SUMMARY" "$log" | sed 's/^==[0-9]*== *//'
    grep -v '^==' "$log" | sed 's/^/   output: /'
    [ $rc -eq 0 ] || status=1
    rm -f "$log"
}
run "C: examples/classify" ./classify "$MODEL" digits/*.png
DEEPSCRATCH_LIB="$ROOT/.build-lib/release/libdeepscratch.so" PYTHONMALLOC=malloc \
    run "Python: examples/classify.py" /usr/bin/python3 classify.py "$MODEL" digits/*.png
exit $status
