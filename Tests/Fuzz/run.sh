#!/usr/bin/env bash
# Tests/Fuzz/run.sh TARGET SECONDS [extra libFuzzer flags]
#
# Builds libdeepscratch.so with libFuzzer coverage and AddressSanitizer in
# the Swift code (swiftc -sanitize=fuzzer,address, in .build-fuzz), builds
# the C harness Tests/Fuzz/TARGET.c against it with Swift's clang
# (-fsanitize=fuzzer,address), and fuzzes for SECONDS seconds starting from
# the committed seeds (Tests/Fuzz/seeds/TARGET) and the regression inputs
# (Tests/Fuzz/regressions/TARGET). New corpus entries go to
# .build-fuzz/corpus/TARGET (kept between runs, not committed); a crashing
# input is written to .build-fuzz/crashes/TARGET/ and the run stops.
# The log is .build-fuzz/logs/TARGET-<date>.log; its last lines give the
# executions (#N ... DONE), coverage (cov:) and features (ft:).
#
# TARGET: fuzz_model        (ds_model_load_memory + getters + classifications: model_checks.h)
#         fuzz_model_struct (the same behind structure-aware mutations of parsed
#                            model files: seeds/fuzz_model, resealed)
#         fuzz_png          (ds_classify_png_memory with the shipped model)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
TARGET="${1:?usage: run.sh fuzz_model|fuzz_model_struct|fuzz_png SECONDS}"
SECONDS_TO_RUN="${2:?usage: run.sh TARGET SECONDS}"
shift 2
[ -f "$ROOT/Tests/Fuzz/$TARGET.c" ] || { echo "run.sh: no harness Tests/Fuzz/$TARGET.c" >&2; exit 2; }

SWIFT_BIN="$(dirname "$(readlink -f "$(command -v swift)")")"
CLANG="${CLANG:-$SWIFT_BIN/clang}"   # Swift's clang ships libFuzzer and ASan
BUILD="$ROOT/.build-fuzz"
LIB="$BUILD/release"

# The library: every Swift function instrumented for coverage (8-bit
# counters, PC table, comparison tracing) and checked by ASan.
swift build -c release --package-path "$ROOT" --scratch-path "$BUILD" --product deepscratch \
    -Xswiftc -sanitize=fuzzer,address -Xcc -fno-math-errno >&2

mkdir -p "$BUILD/bin" "$BUILD/corpus/$TARGET" "$BUILD/crashes/$TARGET" "$BUILD/logs"
"$CLANG" -g -O1 -fsanitize=fuzzer,address -fuse-ld=lld -I"$ROOT/include" \
    -DDS_FUZZ_DEFAULT_MODEL="\"$ROOT/Sources/dsc/Resources/default.dsm\"" \
    "$ROOT/Tests/Fuzz/$TARGET.c" -L"$LIB" -ldeepscratch -lz -Wl,-rpath,"$LIB" -o "$BUILD/bin/$TARGET"

# The two model targets start from the same model files.
SEED_FOLDER="$TARGET"
[ "$TARGET" = fuzz_model_struct ] && SEED_FOLDER=fuzz_model
SEEDS=("$ROOT/Tests/Fuzz/seeds/$SEED_FOLDER")
if [ "$SEED_FOLDER" = fuzz_model ]; then
    # The shipped model is a seed too (not copied into the repository twice).
    mkdir -p "$BUILD/seeds-shipped"
    cp "$ROOT/Sources/dsc/Resources/default.dsm" "$BUILD/seeds-shipped/"
    SEEDS+=("$BUILD/seeds-shipped")
fi
[ -d "$ROOT/Tests/Fuzz/regressions/$TARGET" ] && SEEDS+=("$ROOT/Tests/Fuzz/regressions/$TARGET")
LOG="$BUILD/logs/$TARGET-$(date -u +%Y%m%dT%H%M%SZ).log"
echo "run.sh: fuzzing $TARGET for $SECONDS_TO_RUN s; log $LOG" >&2
# LeakSanitizer stays on: libFuzzer reports an input after which more
# blocks are allocated than freed (a model or image not released).
set +e
"$BUILD/bin/$TARGET" \
    -max_total_time="$SECONDS_TO_RUN" -print_final_stats=1 -timeout=10 -rss_limit_mb=2048 \
    -artifact_prefix="$BUILD/crashes/$TARGET/" "$@" \
    "$BUILD/corpus/$TARGET" "${SEEDS[@]}" >"$LOG" 2>&1
status=$?
set -e
grep -E '^#[0-9]+ +(DONE|INITED)|stat::|SUMMARY|ERROR|Test unit written' "$LOG" >&2 || true
exit $status
