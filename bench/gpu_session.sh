#!/usr/bin/env bash
# One GPU session in ~8 minutes: environment, a smoke check, the GPU tests (pytest -m gpu), the GPU bench.
# Every log goes to $OUT (the device tool brings that folder back). Run from anywhere:
#   bash bench/gpu_session.sh
# If the GPU machine lacks pytest (or ml_dtypes), prepare them on the CPU machine first (pure Python or
# matching wheels, no dependencies) and carry the folder:
#   pip install --no-deps --target .gpu-deps/pytest pytest pluggy iniconfig packaging pytest-xdist execnet
#   pip install --no-deps --target .gpu-deps/ml_dtypes ml_dtypes
# Each folder is put on PYTHONPATH only when the machine's own Python cannot import that package.
set -u
cd "$(dirname "$0")/.."
OUT=${OUT:-/tmp/ember-gpu-session}
mkdir -p "$OUT"
export PYTHONPATH="$PWD"
python -c "import pytest" 2>/dev/null || { [ -d .gpu-deps/pytest ] && PYTHONPATH="$PYTHONPATH:$PWD/.gpu-deps/pytest"; }
python -c "import ml_dtypes" 2>/dev/null || { [ -d .gpu-deps/ml_dtypes ] && PYTHONPATH="$PYTHONPATH:$PWD/.gpu-deps/ml_dtypes"; }
export PYTHONPATH
T0=$(date +%s)
since() { echo $(( $(date +%s) - T0 )); }
log() { echo "[$(since)s] $*" | tee -a "$OUT/session.txt"; }

log "environment -> env.txt"
{
  nvidia-smi 2>&1 | head -20
  python -V
  python - <<'PY'
import importlib
for name in ("numpy", "cupy", "torch", "numba", "ml_dtypes", "pytest", "xdist"):
    try:
        m = importlib.import_module(name)
        print(f"{name} {getattr(m, '__version__', '?')}")
    except Exception as exc:  # report, do not stop
        print(f"{name}: not importable ({type(exc).__name__}: {exc})")
import torch
print("torch.cuda.is_available:", torch.cuda.is_available())
PY
} > "$OUT/env.txt" 2>&1

log "smoke check -> smoke.txt"
timeout 120 python - > "$OUT/smoke.txt" 2>&1 <<'PY'
import time, traceback
import numpy as np
import ember

def check(name, fn):
    t0 = time.perf_counter()
    try:
        print(f"OK   {name}: {fn()} ({time.perf_counter() - t0:.2f}s)", flush=True)
    except Exception:
        print(f"FAIL {name} ({time.perf_counter() - t0:.2f}s)\n{traceback.format_exc()}", flush=True)

print("cuda available:", ember.cuda.is_available(), ember.backend.cuda_problem())
check("device", lambda: (ember.cuda.get_device_name(), ember.cuda.device_count()))
check("to/from", lambda: np.array_equal(ember.arange(6.0).cuda().cpu().numpy(), np.arange(6.0)))
def grad():
    x = ember.randn(64, 64, device="cuda", requires_grad=True)
    ((x @ x).relu().sum()).backward()
    return x.grad.device, float(x.grad.abs().sum())
check("matmul+backward", grad)
def fused():
    f = ember.compile(lambda a: ((a * 2 + 1).tanh() * a.sigmoid()).sum(-1))
    x = ember.randn(128, 128, device="cuda")
    return float((f(x) - ((x * 2 + 1).tanh() * x.sigmoid()).sum(-1)).abs().max())
check("compiled fused kernel (max err)", fused)
def step():
    from bench.workloads import make
    _, _, s = make("mlp", ember, device="cuda")
    c = ember.compile(s)
    return [round(c().item(), 4) for _ in range(4)]
check("compiled mlp step losses", step)
def amp(dt):
    m = ember.nn.Linear(16, 4).cuda()
    with ember.autocast("cuda", dtype=getattr(ember, dt)):
        y = m(ember.randn(8, 16, device="cuda"))
        l = ember.nn.functional.cross_entropy(y, ember.zeros(8, dtype=ember.int64, device="cuda"))
    l.backward()
    return y.dtype, l.dtype, m.weight.grad.dtype
check("autocast float16", lambda: amp("float16"))
check("autocast bfloat16", lambda: amp("bfloat16"))
check("memory", lambda: (ember.cuda.memory_allocated(), ember.cuda.max_memory_allocated()))
PY
log "smoke: $(grep -c '^OK' "$OUT/smoke.txt") ok, $(grep -c '^FAIL' "$OUT/smoke.txt") failed"

log "GPU tests (pytest -m gpu, <= 250 s) -> pytest_gpu.txt"
if python -c "import pytest" 2>/dev/null; then
  PAR=""
  python -c "import xdist" 2>/dev/null && PAR="-n 8"
  timeout 250 python -m pytest tests/test_gpu.py tests/test_tensor_basics.py tests/test_graph_executor.py \
    -m gpu -q -rfE $PAR -p no:cacheprovider --durations=15 --junitxml="$OUT/pytest_gpu.xml" \
    > "$OUT/pytest_gpu.txt" 2>&1
  log "pytest exit $? : $(tail -1 "$OUT/pytest_gpu.txt")"
else
  log "pytest is not importable here: carry .gpu-deps/pytest (see the top of this script)"
fi

log "GPU bench (<= 190 s) -> bench_gpu.txt, bench_gpu.json, bench_gpu_log.txt"
timeout 190 python -m bench.bench_gpu --rounds 2 --quick --timeout 80 --out "$OUT" > "$OUT/bench_gpu_log.txt" 2>&1
log "bench exit $?"
cat "$OUT/bench_gpu.txt" 2>/dev/null | tee -a "$OUT/session.txt" || tail -20 "$OUT/bench_gpu_log.txt"
log "done"
