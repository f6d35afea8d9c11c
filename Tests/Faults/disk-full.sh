#!/usr/bin/env bash
# Tests/Faults/disk-full.sh [DSC]
#
# A full disk while dsc saves: a 256 KiB tmpfs holds a complete 100 KB model;
# dsc then (1) trains a larger model (200 KB) to that path, (2) trains with a
# checkpoint (300 KB: weights and Adam moments) after every epoch, and
# (3) converts the model in place while the disk is filled to the last few
# KB. Each must fail with one "No space left on device" error line and a
# non-zero exit, leave the previous model byte for byte, and leave no
# temporary file behind (the space is given back).
#
# Mounting needs root (CAP_SYS_ADMIN). Without it the script says so and
# exits 77 (skipped); the test suite covers the same code path without
# privileges through a file-size limit (RLIMIT_FSIZE, EFBIG), in
# Tests/dscTests/TrainFaultTests.swift. DSC defaults to .build/release/dsc.
set -uo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
DSC="${1:-$ROOT/.build/release/dsc}"
WORK="$(mktemp -d)"
DISK="$WORK/disk"
mkdir "$DISK"
cleanup() { mountpoint -q "$DISK" && umount "$DISK"; rm -rf "$WORK"; }
trap cleanup EXIT
if ! mount -t tmpfs -o size=256k tmpfs "$DISK" 2>"$WORK/mount.err"; then
    echo "disk-full.sh: cannot mount a tmpfs here ($(cat "$WORK/mount.err")): skipped" >&2
    exit 77
fi
python3 "$ROOT/Tests/Faults/make_idx.py" "$WORK/data" 600 100
"$DSC" train --data "$WORK/data" --hidden 32 --epochs 1 --dev 0 --threads 1 --batch 100 -o "$DISK/model.dsm" >/dev/null 2>&1 \
    || { echo "disk-full.sh: the first model does not fit or training failed" >&2; exit 2; }
previous=$(sha256sum < "$DISK/model.dsm")
failures=0

check() {  # check NAME STATUS STDERR-FILE
    local name=$1 status=$2 err=$3 lines
    lines=$(grep -c '^dsc: error:' "$err")
    local ok=1
    [ "$status" -ne 0 ] && [ "$status" -lt 128 ] || ok=0
    [ "$lines" -eq 1 ] && grep -q 'No space left on device' "$err" || ok=0
    [ "$(sha256sum < "$DISK/model.dsm")" = "$previous" ] || ok=0
    [ -z "$(find "$DISK" -name 'model.dsm.tmp-*')" ] || ok=0
    if [ $ok -eq 1 ]; then
        echo "$name: exit $status, \"$(grep '^dsc: error:' "$err")\"; previous model intact, no temporary file left"
    else
        echo "$name: FAILED (exit $status): $(cat "$err"); files: $(ls "$DISK")"; failures=$((failures + 1))
    fi
}

"$DSC" train --data "$WORK/data" --hidden 64 --epochs 1 --dev 0 --threads 1 --batch 100 -o "$DISK/model.dsm" >/dev/null 2>"$WORK/err"
check "final model does not fit" $? "$WORK/err"
"$DSC" train --data "$WORK/data" --hidden 32 --epochs 5 --checkpoint-every 1 --dev 0 --threads 1 --batch 100 -o "$DISK/model.dsm" >/dev/null 2>"$WORK/err"
check "checkpoint does not fit" $? "$WORK/err"
# Fill the disk but for 8 KB, then convert in place (same size as the model).
avail=$(( $(stat -f -c '%a*%S' "$DISK") ))
head -c $((avail - 8192)) /dev/zero > "$DISK/filler" 2>/dev/null
"$DSC" convert "$DISK/model.dsm" "$DISK/model.dsm" --precision f32 >/dev/null 2>"$WORK/err"
check "convert in place on a full disk" $? "$WORK/err"
rm -f "$DISK/filler"
echo "df after: $(df -k --output=used,avail "$DISK" | tail -1)"
[ "$failures" -eq 0 ]
