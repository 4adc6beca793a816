"""Autocast's op lists and casting rule, applied at the functional layer (``@autocast_op``).

PyTorch's autocast decides per *op the user called*: listed ops cast their floating-point inputs to the
lower-precision dtype (matmul, conv, linear, ...) or to float32 (losses, reductions, ...), then run with
autocast off inside (so a composite's inner ops are not cast again); unlisted ops run in their inputs' dtype.
Ember does the same at its public functions: ``@autocast_op`` wraps each listed one. With autocast off, a
wrapper costs one thread-local read; the dispatch point ``ops.apply`` is untouched.

The lists are PyTorch's documented ones (docs/source/amp.md, "CPU/CUDA Op-Specific Behavior"), written with
Ember's function names (PyTorch's ``cross_entropy_loss`` is ``cross_entropy`` here). Eligibility follows
PyTorch too: only floating-point tensors other than float64 are cast; a call with an explicit ``dtype=`` is not
autocast. The public API (``ember.autocast``, ``ember.amp``) lives in ``ember/amp/``.
"""
from __future__ import annotations

import functools

from ._state import STATE

# -- PyTorch's lists -------------------------------------------------------------------------------------------
CPU_LOWER = frozenset(
    "conv1d conv2d conv3d bmm mm linalg_vecdot baddbmm addmm addbmm linear matmul conv_tbc conv_transpose1d "
    "conv_transpose2d conv_transpose3d prelu scaled_dot_product_attention multi_head_attention_forward".split())
CPU_FP32 = frozenset(
    "avg_pool3d binary_cross_entropy grid_sample prod quantile nanquantile stft cdist trace cholesky_inverse "
    "cholesky_solve inverse lu_solve orgqr ormqr pinverse max_pool3d max_unpool2d max_unpool3d "
    "adaptive_avg_pool3d mse_loss cosine_embedding_loss nll_loss hinge_embedding_loss poisson_nll_loss "
    "cross_entropy l1_loss huber_loss margin_ranking_loss soft_margin_loss triplet_margin_loss multi_margin_loss "
    "ctc_loss kl_div multilabel_margin_loss binary_cross_entropy_with_logits fractional_max_pool2d "
    "fractional_max_pool3d adaptive_max_pool3d geqrf qr svd triangular_solve"
    # not in the documented list, but PyTorch 2.13's CPU autocast casts it (tests/test_amp.py checks)
    " smooth_l1_loss".split())
CPU_PROMOTE = frozenset("cat stack index_copy".split())

CUDA_LOWER = frozenset(
    "matmul addbmm addmm addmv addr baddbmm bmm multi_dot conv1d conv2d conv3d conv_transpose1d conv_transpose2d "
    "conv_transpose3d linear mm mv prelu gru_cell lstm_cell rnn_tanh_cell rnn_relu_cell chain_matmul".split())
CUDA_FP32 = frozenset(
    "pow acos asin binary_cross_entropy_with_logits cosh cosine_embedding_loss cdist cosine_similarity "
    "cross_entropy cumprod cumsum dist erfinv exp expm1 group_norm hinge_embedding_loss kl_div l1_loss "
    "layer_norm log log_softmax log10 log1p log2 margin_ranking_loss mse_loss multilabel_margin_loss "
    "multi_margin_loss nll_loss norm normalize pdist poisson_nll_loss prod reciprocal rsqrt sinh "
    "smooth_l1_loss soft_margin_loss softmax softmin softplus sum renorm tan triplet_margin_loss"
    # not in the documented list, but PyTorch's CUDA autocast runs it in float32 (seen on an H200, torch 2.11)
    " huber_loss".split())
CUDA_PROMOTE = frozenset("addcdiv addcmul atan2 bilinear cross dot grid_sample index_put scatter_add "
                         "tensordot".split())

POLICIES = {
    "cpu": {**dict.fromkeys(CPU_LOWER, "lower"), **dict.fromkeys(CPU_FP32, "fp32"),
            **dict.fromkeys(CPU_PROMOTE, "promote")},
    "cuda": {**dict.fromkeys(CUDA_LOWER, "lower"), **dict.fromkeys(CUDA_FP32, "fp32"),
             **dict.fromkeys(CUDA_PROMOTE, "promote")},
}
BINARY_CROSS_ENTROPY_UNSAFE = "binary_cross_entropy"  # CUDA autocast refuses it (its backward overflows fp16)


def policy(device_type: str, name: str):
    """"lower", "fp32", "promote" or None: what autocast on ``device_type`` does to op ``name``."""
    return POLICIES.get(device_type, {}).get(name)


class AutocastState:
    """The lower-precision dtype per device type (None: autocast off there) and the per-region cast cache."""

    __slots__ = ("dtypes", "cache")

    def __init__(self, dtypes: dict, cache: bool = True):
        self.dtypes = dtypes
        self.cache = {} if cache else None

    def call(self, name, fn, args, kwargs):
        """Run ``fn`` (the function PyTorch calls ``name``) under this state's casting rule."""
        dev = _first_device_type(args, kwargs)
        low = self.dtypes.get(dev)
        if low is not None and dev == "cuda" and name == BINARY_CROSS_ENTROPY_UNSAFE:
            from .errors import mark, with_user_line

            raise mark(with_user_line(RuntimeError(
                "binary_cross_entropy (and BCELoss) are unsafe to autocast on CUDA: their backward can overflow "
                "float16. Use binary_cross_entropy_with_logits / BCEWithLogitsLoss on the logits instead, or "
                "run this loss outside the autocast region on .float() inputs."), 4))
        kind = policy(dev, name) if low is not None else None
        if kind is None or kwargs.get("dtype") is not None:
            return fn(*args, **kwargs)
        target = low if kind == "lower" else "float32" if kind == "fp32" else _widest(args, kwargs)
        if target is not None:
            args = tuple(self._cast(a, target) for a in args)
            kwargs = {k: self._cast(v, target) for k, v in kwargs.items()}
        STATE.autocast = None  # inner ops are not autocast again (PyTorch excludes the autocast key there)
        try:
            return fn(*args, **kwargs)
        finally:
            STATE.autocast = self

    def _cast(self, x, target: str):
        if isinstance(x, (list, tuple)):
            return type(x)(self._cast(v, target) for v in x)
        data = getattr(x, "_data", None)
        if data is None or not _eligible(data.dtype) or data.dtype.name == target:
            return x
        cache = self.cache
        # PyTorch caches the casts of leaf tensors that require grad (parameters) for the region
        # (not while tracing: a cast made outside the trace would become a constant of the graph)
        cacheable = cache is not None and x.requires_grad and x._node is None and STATE.tracer is None
        if cacheable:
            key = (id(x), target, STATE.grad_enabled)
            hit = cache.get(key)
            # reuse only while the parameter is unchanged and the cast's node not freed by a backward
            if hit is not None and hit[0] is x and hit[1] == x._version and (
                    hit[2]._node is None or hit[2]._node.inputs is not None):
                return hit[2]
        from .ops import apply

        out = apply("cast", x, dtype=target)
        if cacheable:
            cache[key] = (x, x._version, out)
        return out


def _eligible(np_dtype) -> bool:
    """Floating point, not float64 (PyTorch's rule for which tensors autocast may cast)."""
    kind = np_dtype.kind
    return (kind == "f" and np_dtype.itemsize < 8) or (kind == "V" and np_dtype.name == "bfloat16")


def _tensors(args, kwargs):
    for a in (*args, *kwargs.values()):
        if isinstance(a, (list, tuple)):
            yield from (v for v in a if hasattr(v, "_data"))
        elif hasattr(a, "_data"):
            yield a


def _first_device_type(args, kwargs) -> str:
    for t in _tensors(args, kwargs):
        return t.device.type
    return "cpu"


def _widest(args, kwargs):
    """float32 when any eligible input is float32, else None (the inputs already agree)."""
    names = {t._data.dtype.name for t in _tensors(args, kwargs) if _eligible(t._data.dtype)}
    return "float32" if "float32" in names and len(names) > 1 else None


def autocast_op(fn=None, *, name: str | None = None):
    """Decorate a public function that PyTorch's autocast lists (under ``name``, default its own name)."""
    def wrap(fn):
        key = name or fn.__name__

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            state = STATE.autocast
            if state is None:
                return fn(*args, **kwargs)
            return state.call(key, fn, args, kwargs)

        return wrapper

    return wrap(fn) if fn is not None else wrap
