"""``torch.backends.cuda``: accepted flags (``matmul.allow_tf32``, ...) and ``is_built()``.

``matmul.allow_tf32`` is kept but does not switch CuPy's GEMM mode (CuPy reads CUPY_TF32 at start)."""
from __future__ import annotations


class _MatmulFlags:
    allow_tf32 = False
    allow_fp16_reduced_precision_reduction = True
    allow_bf16_reduced_precision_reduction = True


matmul = _MatmulFlags()


def is_built() -> bool:
    """Whether Ember can use CUDA here at all (CuPy importable)."""
    from .. import accelerator

    return accelerator.current_accelerator() is not None


def preferred_linalg_library(backend=None):
    return "default"
