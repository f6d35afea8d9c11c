#!/bin/sh
# static-archive.sh OBJECTS.LinkFileList HEADER OUT.a
#
# Makes libdeepscratch.a, a static archive a plain C program links with
# `cc prog.c libdeepscratch.a -lpng16 -lz -lopenblas -lstdc++ -lm -lpthread -ldl`,
# with no Swift toolchain: the library's objects (the list SwiftPM wrote for
# the shared library), Swift's registration object swiftrt.o and the parts of
# the static Swift runtime they use are pre-linked into one relocatable object
# (`ld -r`); then every global symbol but the ds_* functions declared in
# HEADER is made local, so the archive exports what libdeepscratch.so
# exports and cannot clash with a program's own symbols (or its own Swift).
set -eu
if [ $# -ne 3 ]; then echo "usage: $0 OBJECTS.LinkFileList HEADER OUT.a" >&2; exit 2; fi
list=$1 header=$2 out=$3
swiftc=$(command -v swiftc) || { echo "$0: swiftc not found (needed for the static Swift runtime)" >&2; exit 2; }
runtime=$(dirname "$(readlink -f "$swiftc")")/../lib/swift_static/linux
[ -f "$runtime/x86_64/swiftrt.o" ] || [ -f "$runtime/$(uname -m)/swiftrt.o" ] ||
    { echo "$0: no swiftrt.o under $runtime" >&2; exit 2; }
rt=$runtime/$(uname -m)/swiftrt.o
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The list holds one object path per line (SwiftPM quotes none of ours).
ld -r -o "$work/prelinked.o" "$rt" $(cat "$list") -L"$runtime" \
    --start-group -lswiftCore -lswiftSynchronization -lswiftGlibc -lswift_Concurrency \
    -lswiftSwiftOnoneSupport -ldispatch -lBlocksRuntime --end-group
grep -oE '\bds_[a-z_0-9]+\(' "$header" | tr -d '(' | sort -u > "$work/exports"
objcopy --keep-global-symbols="$work/exports" "$work/prelinked.o" "$work/deepscratch.o"
rm -f "$out.tmp"
ar rcs "$out.tmp" "$work/deepscratch.o"
mv -f "$out.tmp" "$out"
