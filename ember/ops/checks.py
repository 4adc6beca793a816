"""Checks on tensor values that stay in the graph: ``assert_all(cond, *shown, message=..., error=...)``.

Library code validates data (class indices in range, probabilities in [0, 1], a finite gradient norm) with
this primitive instead of reading values in Python, so a compiled function checks every call exactly as the
eager one does and its trace stays whole. The forward raises ``error`` with ``message`` when any element of
``cond`` is false; ``message`` may name ``{value}``: the first element of ``shown[0]`` where ``cond`` fails.
Its output (a 0-d bool) is unused; the graph passes keep the node because it is not pure (see
``graph.opinfo.EFFECTS``).
"""
from __future__ import annotations

from ..dtypes import bool_
from ..errors import LinAlgError
from ._core import CHECK_ATTR, Aval, register, register_lowering

_ERRORS = {"RuntimeError": RuntimeError, "IndexError": IndexError, "ValueError": ValueError,
           "LinAlgError": LinAlgError}


def _assert_fwd(xp, cond, *shown, message, error="RuntimeError"):
    if cond.size and not bool(cond.all()):
        text = message
        if shown and "{value" in message:  # {value}: from shown[0]; {value1}, {value2}: from the next ones
            bad = [xp.broadcast_to(s, cond.shape)[~cond].reshape(-1)[0].item() for s in shown]
            text = message.format(value=bad[0], **{f"value{i}": v for i, v in enumerate(bad)})
        exc = _ERRORS[error](text)
        setattr(exc, CHECK_ATTR, True)
        raise exc
    return xp.asarray(True)


def _assert_rule(cond, *shown, message, error="RuntimeError"):
    if error not in _ERRORS:
        raise ValueError(f"assert_all: error must be one of {', '.join(_ERRORS)}, got {error!r}")
    return Aval((), bool_, cond.device)


register("assert_all", _assert_fwd, infer=_assert_rule, kind="check")


# Deployment formats have no op that raises a message: the check is left out of an exported graph (its output
# is never read), and the runtime's own bounds checks (ONNX Gather, TFLite GATHER) stand in for it.
def _assert_onnx(ctx, node):
    ctx.emit("Identity", [ctx.scalar(True, "bool")], [ctx.output(node)])


register_lowering("assert_all", "onnx", _assert_onnx)



@register_lowering("assert_all", "tflite")
def _assert_all_tflite(ctx, node):
    """Value checks have no TFLite form: TFLite's own kernels check what they read (GATHER's index range); the
    check's output is never read, so nothing is emitted."""
