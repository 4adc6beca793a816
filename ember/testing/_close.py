"""``assert_close``: compare tensors, arrays and scalars elementwise with a readable mismatch report."""

from __future__ import annotations

import numpy as np

# (rtol, atol) by the less precise dtype of the two sides, as torch.testing uses
_TOLERANCES = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
    "complex64": (1.3e-6, 1e-5),
    "complex128": (1e-7, 1e-7),
}


def _to_numpy(value):
    """A NumPy array for an Ember tensor, a torch tensor, a NumPy array, a scalar or a nested list."""
    if hasattr(value, "_data") and hasattr(value, "requires_grad"):  # ember.Tensor
        from .. import backend

        return np.asarray(backend.to_device(value._data, backend.CPU))
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor
        value = value.detach().cpu()
        return (value.resolve_conj() if hasattr(value, "resolve_conj") else value).numpy()
    return np.asarray(value)


def _default_tolerances(a: np.ndarray, b: np.ndarray):
    names = [a.dtype.name, b.dtype.name]
    tols = [_TOLERANCES[n] for n in names if n in _TOLERANCES]
    if not tols:  # integers and bools compare exactly
        return 0.0, 0.0
    return max(t[0] for t in tols), max(t[1] for t in tols)


def _fmt_index(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if len(idx) else "[]"


def assert_close(
    actual,
    expected,
    rtol: float | None = None,
    atol: float | None = None,
    *,
    equal_nan: bool = True,
    check_dtype: bool = False,
    check_shape: bool = True,
    msg: str | None = None,
) -> None:
    """Assert ``|actual - expected| <= atol + rtol * |expected|`` elementwise.

    ``actual`` and ``expected`` may be Ember tensors, torch tensors, NumPy arrays, Python scalars, or
    (nested) tuples/lists/dicts of those, compared item by item. Default tolerances depend on the dtypes
    (float32: rtol 1.3e-6, atol 1e-5; float64: 1e-7 both; integers and bools exactly; complex numbers part by
    part with their parts' tolerances). NaNs compare equal
    when ``equal_nan``; infinities must match exactly. On a mismatch the AssertionError says how many
    elements differ, where the largest absolute and relative differences are, and lists the first few.
    ``msg`` is put in front of the report.
    """
    if isinstance(actual, dict) and isinstance(expected, dict):
        if set(actual) != set(expected):
            raise AssertionError(_prefix(msg) + f"dict keys differ: {sorted(actual)} vs {sorted(expected)}")
        for k in actual:
            assert_close(
                actual[k],
                expected[k],
                rtol,
                atol,
                equal_nan=equal_nan,
                check_dtype=check_dtype,
                check_shape=check_shape,
                msg=_prefix(msg) + f"item {k!r}",
            )
        return
    if (
        isinstance(actual, (tuple, list))
        and isinstance(expected, (tuple, list))
        and (_is_container(actual) or _is_container(expected))
    ):
        if len(actual) != len(expected):
            raise AssertionError(_prefix(msg) + f"sequence lengths differ: {len(actual)} vs {len(expected)}")
        for i, (a, e) in enumerate(zip(actual, expected)):
            assert_close(
                a,
                e,
                rtol,
                atol,
                equal_nan=equal_nan,
                check_dtype=check_dtype,
                check_shape=check_shape,
                msg=_prefix(msg) + f"item {i}",
            )
        return
    a, e = _to_numpy(actual), _to_numpy(expected)
    if check_dtype and a.dtype != e.dtype:
        raise AssertionError(_prefix(msg) + f"dtypes differ: actual {a.dtype}, expected {e.dtype}")
    if check_shape and a.shape != e.shape:
        raise AssertionError(_prefix(msg) + f"shapes differ: actual {a.shape}, expected {e.shape}")
    if a.dtype.kind == "b" or e.dtype.kind == "b":
        a, e = a.astype(np.int64), e.astype(np.int64)
    d_rtol, d_atol = _default_tolerances(a, e)
    rtol = d_rtol if rtol is None else rtol
    atol = d_atol if atol is None else atol
    if a.dtype.kind == "c" or e.dtype.kind == "c":  # complex: the real and the imaginary parts, each
        for part, name in ((np.real, "real part"), (np.imag, "imaginary part")):
            assert_close(part(a), part(e), rtol, atol, equal_nan=equal_nan, msg=_prefix(msg) + name)
        return
    try:
        a64, e64 = np.broadcast_arrays(a.astype(np.float64), e.astype(np.float64))
    except ValueError:
        raise AssertionError(_prefix(msg) + f"shapes cannot be compared: {a.shape} vs {e.shape}") from None
    with np.errstate(invalid="ignore", over="ignore"):
        diff = np.abs(a64 - e64)
        ok = diff <= atol + rtol * np.abs(e64)
        both_inf = np.isinf(a64) & np.isinf(e64) & (np.sign(a64) == np.sign(e64))
        ok |= both_inf
        if equal_nan:
            ok |= np.isnan(a64) & np.isnan(e64)
    if ok.all():
        return
    raise AssertionError(_prefix(msg) + _report(a64, e64, diff, ok, rtol, atol))


def _is_container(x) -> bool:
    return not (isinstance(x, (list, tuple)) and all(isinstance(v, (int, float, bool)) for v in x))


def _prefix(msg) -> str:
    return f"{msg}: " if msg else ""


def _report(a, e, diff, ok, rtol, atol) -> str:
    bad = ~ok
    n_bad, n = int(bad.sum()), ok.size
    with np.errstate(invalid="ignore", divide="ignore"):
        rel = diff / np.abs(e)
    d = np.where(bad, np.nan_to_num(diff, nan=np.inf), -1.0)
    r = np.where(bad, np.nan_to_num(rel, nan=np.inf), -1.0)
    i_abs = np.unravel_index(int(np.argmax(d)), a.shape) if a.ndim else ()
    i_rel = np.unravel_index(int(np.argmax(r)), a.shape) if a.ndim else ()
    lines = [
        f"tensors are not close (rtol={rtol:g}, atol={atol:g}): {n_bad} of {n} elements differ "
        f"({100.0 * n_bad / max(n, 1):.1f}%), shape {a.shape}",
        f"  greatest absolute difference: {float(diff[i_abs]):.6g} at index {_fmt_index(i_abs)} "
        f"(actual {float(a[i_abs]):.6g}, expected {float(e[i_abs]):.6g})",
        f"  greatest relative difference: {float(rel[i_rel]):.6g} at index {_fmt_index(i_rel)} "
        f"(actual {float(a[i_rel]):.6g}, expected {float(e[i_rel]):.6g})",
    ]
    shown = np.argwhere(bad)[:5] if a.ndim else [()]
    lines.append(
        "  first mismatches: "
        + ", ".join(
            f"{_fmt_index(tuple(i))}: {float(a[tuple(i)]):.6g} vs {float(e[tuple(i)]):.6g}" for i in shown
        )
    )
    return "\n".join(lines)
