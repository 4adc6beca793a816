"""User-facing errors: name the op, the operands, and the user's line; suggest a fix when one is obvious."""
from __future__ import annotations

import os
import sys

_getframe = sys._getframe

_PKG_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def is_internal_file(filename: str) -> bool:
    return filename.startswith(_PKG_DIR) and os.sep + "tests" + os.sep not in filename[len(_PKG_DIR) - 1:]


def user_frame(skip: int = 1):
    """The innermost stack frame outside the ember package (the user's code)."""
    f = sys._getframe(skip)
    while f is not None and f.f_code.co_filename.startswith(_PKG_DIR):
        f = f.f_back
    return f


_INSIDE: dict = {}  # file name -> inside the package (autograd records a site per op: a dict hit beats startswith)


def user_site(skip: int = 1):
    """A cheap (code, lasti) handle for the user's current line; ``format_site`` turns it into text."""
    f = _getframe(skip)
    inside = _INSIDE
    try:
        while True:
            name = f.f_code.co_filename
            flag = inside.get(name)
            if flag is None:
                if len(inside) > 4096:  # generated code (exec, <string>) can make names without end
                    inside.clear()
                flag = inside[name] = name.startswith(_PKG_DIR)
            if not flag:
                return f.f_code, f.f_lasti
            f = f.f_back
    except AttributeError:  # ran off the top of the stack: no user frame
        return None


def format_site(site) -> str:
    if site is None:
        return "<unknown>"
    code, lasti = site
    line = code.co_firstlineno
    for start, end, lineno in code.co_lines():
        if start <= lasti < end and lineno is not None:
            line = lineno
            break
    import linecache

    text = linecache.getline(code.co_filename, line).strip()
    where = f"{os.path.relpath(code.co_filename) if not code.co_filename.startswith('<') else code.co_filename}:{line}"
    return f"{where}: {text}" if text else where


def describe(t) -> str:
    """'(64, 784) float32' plus the device when it is not the CPU."""
    shape = tuple(t.shape)
    dev = str(t.device)
    return f"{shape} {t.dtype.name}" + ("" if dev == "cpu" else f" on {dev}")


def with_user_line(exc: BaseException, skip: int = 2) -> BaseException:
    """Append the user's source line to an error message, once."""
    site = user_site(skip)
    if site is not None and exc.args and isinstance(exc.args[0], str) and "\n  at " not in exc.args[0]:
        exc.args = (exc.args[0] + "\n  at " + format_site(site),) + exc.args[1:]
    return exc


def strip_internal_frames(tb):
    """Drop the ember-internal frames at the tail of a traceback so it ends at the user's line."""
    frames = []
    while tb is not None:
        frames.append(tb)
        tb = tb.tb_next
    keep = [t for t in frames if not is_internal_file(t.tb_frame.f_code.co_filename)]
    if not keep:
        return frames[0] if frames else None
    for a, b in zip(keep, keep[1:]):
        a.tb_next = b
    keep[-1].tb_next = None
    return keep[0]


def _install_excepthook():
    prev = sys.excepthook

    def hook(tp, value, tb):
        if getattr(value, "_ember_user_error", False):
            tb = strip_internal_frames(tb)
        prev(tp, value, tb)

    sys.excepthook = hook


_install_excepthook()


class LinAlgError(RuntimeError):
    """A matrix the function cannot handle: singular (inverse, solve, LU), not positive-definite (Cholesky).

    PyTorch's ``torch.linalg.LinAlgError``, a ``RuntimeError`` subclass, so ``except RuntimeError`` still catches
    it. Exported as ``ember.linalg.LinAlgError``.

    >>> issubclass(LinAlgError, RuntimeError)
    True
    """


def mark(exc: BaseException) -> BaseException:
    """Flag an error as a user error so uncaught tracebacks are trimmed to the user's frames."""
    try:
        exc._ember_user_error = True
    except AttributeError:
        pass
    return exc


def warn_user(message: str, category=UserWarning) -> None:
    """``warnings.warn`` located at the user's line (the innermost frame outside ember), so filters and the
    printed location point at the caller's code rather than Ember's."""
    import warnings

    f = user_frame(2)
    if f is None:
        warnings.warn(message, category, stacklevel=2)
        return
    warnings.warn_explicit(message, category, f.f_code.co_filename, f.f_lineno,
                           module=f.f_globals.get("__name__", "__main__"),
                           registry=f.f_globals.setdefault("__warningregistry__", {}))


def user_errors(fn):
    """Decorate a public entry point: the ValueError / TypeError / FileNotFoundError / NotImplementedError it
    raises for bad input carry the user's line and are marked as user errors."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (ValueError, TypeError, FileNotFoundError, NotImplementedError) as exc:
            raise mark(with_user_line(exc)) from None

    return wrapper


def did_you_mean(name: str, known) -> str:
    """``" (did you mean 'x'?)"`` for the closest of ``known`` to a misspelt ``name``, else ``""``.

    >>> did_you_mean("adamm", ["adam", "sgd"])
    " (did you mean 'adam'?)"
    """
    import difflib

    close = difflib.get_close_matches(str(name).lower(), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
