#!/bin/bash
# Training speed with and without distortions, in alternating pairs (issue 19):
#   docs/tools/augment_speed.sh DSC DATA PAIRS KINDS...
# e.g. docs/tools/augment_speed.sh .build/release/dsc ../shared/data/mnist 7 affine,elastic,stroke affine,elastic,stroke,lowres
# Each pair runs `dsc train --epochs 2` without distortions, then with each KINDS; every
# epoch's samples/s is printed as "KINDS samples/s", then the ratios: of the medians, and
# the median of the pairs' ratios (a pair's two epochs summed against the undistorted ones).
set -euo pipefail
dsc=$1; data=$2; pairs=$3; shift 3
out=$(mktemp); model=$(mktemp --suffix=.dsm); trap 'rm -f "$out" "$model"' EXIT
for _ in $(seq "$pairs"); do
  for kinds in none "$@"; do
    "$dsc" train --data "$data" --epochs 2 --augment "$kinds" -o "$model" 2>&1 \
      | grep -o '[0-9,]* samples/s' | tr -d , | sed "s|^|$kinds |" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import statistics as st, sys
by = {}
for line in open(sys.argv[1]):
    kinds, rate, _ = line.split()
    by.setdefault(kinds, []).append(int(rate))
base = by.pop("none")
for kinds, rates in by.items():
    pairs = [(rates[i] + rates[i + 1]) / (base[i] + base[i + 1]) for i in range(0, len(base), 2)]
    print("%s: ratio of medians %.3f, median of the pairs' ratios %.3f (pairs %s)"
          % (kinds, st.median(rates) / st.median(base), st.median(pairs), ", ".join("%.2f" % p for p in pairs)))
PY
