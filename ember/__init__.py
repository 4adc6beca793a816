"""Ember: PyTorch's eager API and Keras 3's API on one small NumPy/CuPy engine.

>>> import ember
>>> x = ember.randn(4, 3, requires_grad=True)
>>> loss = (x.relu() ** 2).mean()
>>> loss.backward()
>>> tuple(x.grad.shape)
(4, 3)
"""
# ruff: noqa: E402, F401, F403, I001  (the import order below is the dependency order; keep it)
from . import backend, dtypes, _tensor_methods
from .backend import device
from .dtypes import DType as dtype
from .dtypes import (bfloat16, bool_ as bool, complex64, complex128, float16, float32, float64, get_default_dtype,
                     int8, int16, int32, int64, set_default_dtype, uint8)
from .tensor import Size, Tensor, is_tensor
from . import ops  # registers the primitives
from . import functional

from . import _wiring  # the one wiring step: hands functional/creation/autograd down to tensor and ops
from . import _tensor_extra
_tensor_extra.install(Tensor)  # asin, select, unfold, stride, unsqueeze_, index_add_, ...
from . import _tensor_more
_tensor_more.install(Tensor)  # addcmul_, lerp_, floor_, quantile, unique, mH, ...
from . import _tensor_tail
_tensor_tail.install(Tensor)  # argwhere, exponential_, fill_diagonal_, put_, apply_, data_ptr, ...
from . import _numpy_names
_numpy_names.install(Tensor, dir(Tensor), _numpy_names.PYTHON_LEVEL_METHODS)  # x.sum(axis=1), as torch

from . import autograd
from .autograd import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .autograd_function import GradientTape
from .creation import (arange, as_tensor, asarray, bernoulli, empty, empty_like, eye, from_dlpack, from_numpy, full,
                       full_like, linspace, logspace, multinomial, normal, ones, ones_like, rand, rand_like, randint,
                       randint_like, randn, randn_like, randperm, tensor, zeros, zeros_like)
from .creation import empty_strided, get_default_device, set_default_device
from ._legacy_types import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor,
                            HalfTensor, IntTensor, LongTensor, ShortTensor)
from .functional import *  # the PUBLIC composites: sum, mean, cat, stack, where, softmax, ...
from .functional import abs, all, any, max, min, pow, round, sum
from . import _out_arg
_out_arg.install(globals(), functional.PUBLIC)  # ember.add(a, b, out=c), ember.cat(xs, out=buf), ...
from .random import Generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

# torch's dtype aliases
float = float32  # noqa: A001
double = float64
half = float16
long = int64
int = int32  # noqa: A001
short = int16
cfloat = complex64
cdouble = complex128

__version__ = "0.1.0"


def is_floating_point(t) -> bool:
    return t.is_floating_point()


def numel(t) -> int:
    return t.numel()


from . import nn, optim, utils  # torch exposes these after `import torch`
pdist = nn.functional.pdist  # torch.pdist is nn.functional's
from . import _torch_toplevel
_torch_toplevel.install(globals())  # torch.conv2d, torch.relu_, torch.hann_window, torch.detach, ...
from . import linalg, func, autograd_functional, special, fft
from .linalg import slogdet, pinverse, legacy_svd as svd, legacy_cholesky as cholesky  # torch's top-level names
from .linalg import legacy_qr as qr, matrix_exp
from .linalg_factor import (legacy_lu as lu, lu_unpack, legacy_lu_solve as lu_solve, cholesky_inverse,
                            cholesky_solve, triangular_solve)
from .functional.linalg import outer as ger  # torch.ger: outer's older name
autograd.functional = autograd_functional  # torch.autograd.functional
import sys as _sys
_sys.modules[__name__ + ".autograd.functional"] = autograd_functional
from . import autograd_graph, autograd_function  # noqa: E402
autograd.graph = autograd_graph  # torch.autograd.graph
autograd.function = autograd_function  # torch.autograd.function (once_differentiable)
_sys.modules[__name__ + ".autograd.graph"] = autograd_graph
_sys.modules[__name__ + ".autograd.function"] = autograd_function
from .func import cond, vmap
from . import sparse  # torch.sparse's names over dense storage (see its note)
sparse.install(Tensor)
from .sparse import sparse_coo_tensor, spmm
from . import serialization
from . import amp, backends, cpu, cuda, accelerator  # device namespaces and mixed precision (torch's names)
from .amp import autocast, get_autocast_dtype, is_autocast_enabled
from .serialization import load, save
from ._threads import get_num_threads, set_num_threads
from ._config import (are_deterministic_algorithms_enabled, get_deterministic_debug_mode,
                      get_float32_matmul_precision, get_num_interop_threads,
                      is_deterministic_algorithms_warn_only_enabled, set_deterministic_debug_mode,
                      set_flush_denormal, set_float32_matmul_precision, set_num_interop_threads,
                      use_deterministic_algorithms)
from ._printing import get_printoptions, set_printoptions
from .dtype_info import can_cast, finfo, iinfo, promote_types, result_type
from .memory_format import (channels_last, channels_last_3d, contiguous_format, layout, memory_format,
                            preserve_format, strided)
from . import profiler  # also torch.autograd.profiler and torch.ops.profiler's range functions
autograd.profiler = profiler
_sys.modules[__name__ + ".autograd.profiler"] = profiler
ops.profiler = _sys.modules[__name__ + ".ops.profiler"] = __import__("types").ModuleType(__name__ + ".ops.profiler")
ops.profiler._record_function_enter = profiler._record_function_enter
ops.profiler._record_function_exit = profiler._record_function_exit
from .testing._gradcheck import torch_gradcheck as _gc, torch_gradgradcheck as _ggc
autograd.gradcheck, autograd.gradgradcheck = _gc, _ggc  # torch.autograd's names


def __getattr__(name):
    # imported on first use: `ember.compile`, `ember.function`, `ember.keras`, `ember.vision`, ...
    if name in ("compile", "function"):
        from .graph import compile as _compile

        return getattr(_compile, name)
    if name in ("keras", "vision", "graph", "viz", "onnx", "distributions", "export", "jit", "serve",
                "quantization", "fx", "testing"):
        import importlib

        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'ember' has no attribute {name!r}")
