#!/usr/bin/env bash
# bench_vs_peers.sh [OUT]: DeepScratch beside its peers, one after the other in
# one session, as issue 6 asks (ratios measured side by side).
#
# Needs a release build (.build/release/dsc), the peers' venv (../shared/peers,
# ./setup.sh) and MNIST in ../shared/data/mnist. Takes about 15 minutes on a
# quiet 2-core machine. Writes OUT (default /tmp/dsc-vs-peers) and prints a
# summary; the raw JSON of every step stays in OUT.
#
#   1. dsc bench --only gemm,training      (ceiling, C1, C3 b128/b32, default recipe samples/s)
#   2. PyTorch  torch_peer.py --configs C1,C3
#   3. numpy    numpy_peer.py --configs C1  (float64, the 2017 algorithm, and float32)
#   4. dsc bench --only gemm,training      (again: the machine drifts)
#   5. dsc bench --only recipe --runs 3    (time to 98.0/98.5 %, peak memory of dsc train)
#   6. PyTorch on the same default recipe  (docs/tools/torch_default_recipe.py under /usr/bin/time -v)
#   7. classification: examples/latency on a C1-size model trained by dsc, and infer_peer.py (ONNX Runtime)
#
# QUICK=1 runs every step briefly (peers' --quick, one short dsc run each) to check the script.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-/tmp/dsc-vs-peers}
peers=${PEERS:-$root/../shared/peers}
data=${DATA:-$root/../shared/data/mnist}
py=${PEERS_PY:-${PEERS_VENV:-/tmp/peers-venv}/main/bin/python}
dsc=$root/.build/release/dsc
mkdir -p "$out"
export OMP_NUM_THREADS=2 MKL_NUM_THREADS=2 OPENBLAS_NUM_THREADS=2
[ -x "$dsc" ] || { echo "build first: swift build -c release -Xcc -fno-math-errno -Xcc -march=x86-64-v2" >&2; exit 2; }
[ -x "$py" ] || { echo "no peers venv at $py: run $peers/setup.sh" >&2; exit 2; }
step() { echo "== $(date +%H:%M:%S) $*" >&2; }
quick=() ours=() runs=(--runs 3) epochs=()
if [ "${QUICK:-0}" = 1 ]; then quick=(--quick); ours=(--repeats 1 --steps 10 --seconds 0.2); runs=(--runs 1); epochs=(1); fi

step "1 dsc bench (gemm, training)"
"$dsc" bench --only gemm,training --json --data "$data" "${ours[@]}" > "$out/ours-1.json"
step "2 PyTorch C1, C3"
(cd "$peers" && PEERS_WORK=$out/work "$py" torch_peer.py "${quick[@]}" --configs C1,C3 --data-dir "$data" --out "$out/torch") > "$out/torch.log" 2>&1
step "3 numpy C1"
(cd "$peers" && PEERS_WORK=$out/work "$py" numpy_peer.py "${quick[@]}" --configs C1 --data-dir "$data" --out "$out/numpy") > "$out/numpy.log" 2>&1
step "4 dsc bench (gemm, training) again"
"$dsc" bench --only gemm,training --json --data "$data" "${ours[@]}" > "$out/ours-2.json"
step "5 dsc bench (recipe, 3 runs)"
"$dsc" bench --only recipe "${runs[@]}" --json --data "$data" > "$out/recipe.json"
step "6 PyTorch on the default recipe"
/usr/bin/time -v "$py" "$root/docs/tools/torch_default_recipe.py" "$data" "${epochs[@]}" > "$out/torch-recipe.log" 2> "$out/torch-recipe.time"
step "7 classification through the C ABI and ONNX Runtime"
"$dsc" train --data "$data" --hidden 784,1024 --optimizer sgd --lr 0.1 --keep 0.8 --initialization small \
    --augment-shift 0 --dev 0 --epochs 3 -o "$out/c1.dsm" > "$out/c1-train.log" 2>&1
make -s -C "$root/examples" latency > /dev/null
"$root/examples/latency" "$out/c1.dsm" "$data/t10k-images-idx3-ubyte.gz" > "$out/latency-c1.txt"
(cd "$peers" && PEERS_WORK=$out/work "$py" infer_peer.py "${quick[@]}" --data-dir "$data" --out "$out/infer") > "$out/infer.log" 2>&1 || true
"$root/examples/latency" "$out/c1.dsm" "$data/t10k-images-idx3-ubyte.gz" >> "$out/latency-c1.txt"

step "summary"
python3 - "$out" <<'PY'
import json, os, re, sys
out = sys.argv[1]
def ours(name):
    return {f["name"]: f for f in json.load(open(os.path.join(out, name)))["figures"]}
def peer(folder, file):
    p = os.path.join(out, folder, file)
    return json.load(open(p))["rows"] if os.path.exists(p) else []
def value(rows, config, metric):
    for r in rows:
        if r["config"].startswith(config) and r["metric"] == metric:
            return r["value"]
    return None
o1, o2 = ours("ours-1.json"), ours("ours-2.json")
torch, numpy = peer("torch", "pytorch.json"), peer("numpy", "numpy.json")
ceil = [o[k]["median"] for o in (o1, o2) for k in o if k.startswith("ceiling")]
print(f"sgemm ceiling (1024^3, OpenBLAS 2 threads): {ceil[0]:.1f} and {ceil[1]:.1f} GFLOP/s")
jobs = [("C1", "C1_seed", "train_samples_per_s"), ("C3 784-1024-1024-10 sgd batch 128", "C3_throughput_b128", "train_samples_per_s"),
        ("C3 784-1024-1024-10 sgd batch 32", "C3_throughput_b32", "train_samples_per_s")]
print("| job | ours samples/s (run 1 / run 2) | share of ceiling | PyTorch | ratio | numpy f64 | ratio |")
print("|---|---:|---:|---:|---:|---:|---:|")
for prefix, config, metric in jobs:
    a = next(v for k, v in o1.items() if k.startswith(prefix) and k.endswith(": samples/s"))
    b = next(v for k, v in o2.items() if k.startswith(prefix) and k.endswith(": samples/s"))
    s1 = next(v for k, v in o1.items() if k.startswith(prefix) and k.endswith("ceiling"))
    s2 = next(v for k, v in o2.items() if k.startswith(prefix) and k.endswith("ceiling"))
    t = value(torch, config, metric)
    n = value(numpy, config + "_float64", metric) if config == "C1_seed" else None
    m = (a["median"] + b["median"]) / 2
    print(f"| {prefix} | {a['median']:,.0f} / {b['median']:,.0f} | {s1['median']:.0f} % / {s2['median']:.0f} % | "
          f"{t and f'{t:,.0f}'} | {t and f'{m / t:.2f}'} | {n and f'{n:,.0f}'} | {n and f'{m / n:.2f}'} |")
r = ours("recipe.json")
for k, f in r.items():
    print(f"ours: {k}: median {f['median']:.2f} {f['unit']} [{f['min']:.2f}, {f['max']:.2f}] ({f['runs']} runs)")
text = open(os.path.join(out, "torch-recipe.log")).read()
hits = re.findall(r"test after epoch (\d+): ([\d.]+)% \(training ([\d.]+) s\)", text)
for thr in (98.0, 98.5):
    first = next((float(s) for e, a, s in hits if float(a) >= thr), None)
    print(f"PyTorch default recipe: training time to {thr} %: {first} s")
if hits: print(f"PyTorch default recipe: final test accuracy {hits[-1][1]} %")
rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", open(os.path.join(out, "torch-recipe.time")).read())
if rss: print(f"PyTorch default recipe: peak resident memory {int(rss.group(1)) / 1024:.0f} MiB")
print(open(os.path.join(out, "latency-c1.txt")).read().strip())
inf = peer("infer", "inference.json")
for row in inf:
    if row["config"].startswith("INFER_onnxruntime"):
        value = f"{row['value']:.4f}" if row["unit"] == "fraction" else f"{row['value']:,.1f}"
        print(f"ONNX Runtime: {row['metric']}: {value} {row['unit']}")
PY
