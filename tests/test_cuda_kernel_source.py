"""The CUDA source of fused kernels (``kernels.CudaKernel.generate``) compiles with NVRTC, without a GPU.

Each body is traced from a small function and fused as the CUDA executor would; its ElementwiseKernel
operation is wrapped the way CuPy wraps one (CuPy's headers, one typed local per parameter) and compiled by
NVRTC. Needs CuPy's headers and the NVRTC library (``pip install cupy-cuda12x nvidia-cuda-nvrtc-cu12``);
skipped otherwise (CI has neither). This checks the C++ Ember writes, not CuPy's wrapper code or results.
CuPy adds its float16 header for float16 parameters only (so does this wrapper); bodies with float16 values
inside only run unfused.
"""
import os

import numpy as np
import pytest

import ember
from ember.graph import kernels
from ember.graph.capture import trace
from ember.graph.passes import fuse_elementwise, optimize

try:
    import cupy
    from cupy_backends.cuda.libs import nvrtc

    nvrtc.getVersion()
    INCLUDE = os.path.join(os.path.dirname(cupy.__file__), "_core", "include")
except Exception:  # noqa: BLE001  (no CuPy, or no NVRTC library)
    nvrtc = None
try:  # CUDA's own headers (cuda_fp16.h, needed by CuPy's float16): pip install nvidia-cuda-runtime-cu12
    import nvidia.cuda_runtime

    CUDA_INCLUDE = os.path.join(list(nvidia.cuda_runtime.__path__)[0], "include")
except Exception:  # noqa: BLE001
    CUDA_INCLUDE = None

pytestmark = pytest.mark.skipif(nvrtc is None, reason="needs CuPy's headers and NVRTC (nvidia-cuda-nvrtc-cu12)")

_C = {"float16": "float16", "float32": "float", "float64": "double", "bool": "bool", "int8": "signed char",
      "int16": "short", "int32": "int", "int64": "long long", "uint8": "unsigned char"}

BODIES = [
    ("arith", lambda a, b: (a * 2 + b) / (b.abs() + 1) - a.neg()),
    ("transcendental", lambda a, b: a.exp() + b.tanh() * a.sigmoid() - (a * a + 1).log() + b.erf()),
    ("rounding", lambda a, b: a.floor() + b.ceil() + a.round() + b.trunc() + a.sign()),
    ("compare_where", lambda a, b: ember.where(a > b, a, b * 0.5) + (a >= 0).float() * 0),
    ("relu_max_min", lambda a, b: ember.relu(a) + ember.maximum(a, b) - ember.minimum(a, b)),
    ("pow_sqrt", lambda a, b: (a.abs() + 1) ** b + (b * b).sqrt()),
    ("masked_inf", lambda a, b: ember.where(a > 0, a, ember.tensor(float("-inf"), dtype=a.dtype)).exp()),
    ("cast_chain", lambda a, b: (a.to(ember.float16) * 3).to(a.dtype) + b),
    ("sum_tail", lambda a, b: (a * b + 1).sum(-1)),
]


def _fused_bodies(fn, dtype):
    rng = np.random.default_rng(0)
    a = ember.tensor(rng.standard_normal((4, 8)), dtype=getattr(ember, dtype))
    b = ember.tensor(rng.standard_normal((4, 8)), dtype=getattr(ember, dtype))
    g = trace(fn, a, b)
    optimize(g, fuse=False)
    fuse_elementwise(g, singletons=True)
    return [n.attrs["body"] for n in g.nodes if n.op == "fused" and kernels.supported(n.attrs["body"], "cuda")]


def _source(ins, outs, op):
    params = [p.split() for p in ins.split(", ")] + [outs.split()]
    args = ", ".join(f"{'' if name == 'out' else 'const '}{_C[dt]}* _raw_{name}" for dt, name in params)
    reads = "".join(f"    const {_C[dt]} {name} = _raw_{name}[i];\n" for dt, name in params[:-1])
    out_dt = params[-1][0]
    half = "#include <cupy/float16.cuh>\n" if any(dt == "float16" for dt, _ in params) else ""
    return ("#include <cupy/carray.cuh>\n" + half +
            f'extern "C" __global__ void ember_fused({args}, long long n) {{\n'
            "  for (long long i = blockIdx.x * blockDim.x + threadIdx.x; i < n; i += blockDim.x * gridDim.x) {\n"
            f"{reads}    {_C[out_dt]} out;\n    {op}\n    _raw_out[i] = out;\n  }}\n}}\n")


@pytest.mark.parametrize("dtype", ["float16", "float32"])  # float64 writes the float32 code with double
@pytest.mark.parametrize("name, fn", BODIES, ids=[b[0] for b in BODIES])
def test_fused_cuda_source_compiles(name, fn, dtype):
    if dtype == "float16" and CUDA_INCLUDE is None:
        pytest.skip("float16 kernels need CUDA's cuda_fp16.h (pip install nvidia-cuda-runtime-cu12)")
    bodies = _fused_bodies(fn, dtype)
    assert bodies or name == "cast_chain", f"{name}: nothing was fused"
    for body in bodies:
        ins, outs, op, _ = kernels.CudaKernel.generate(body)
        src = _source(ins, outs, op)
        prog = nvrtc.createProgram(src, "ember_fused.cu", [], [])
        try:
            nvrtc.compileProgram(prog, ["-arch=compute_80", f"-I{INCLUDE}", "--std=c++17"]
                                 + ([f"-I{CUDA_INCLUDE}"] if CUDA_INCLUDE else []))
        except Exception:  # noqa: BLE001
            pytest.fail(f"{name} ({dtype}) did not compile:\n{src}\n{nvrtc.getProgramLog(prog)}")
