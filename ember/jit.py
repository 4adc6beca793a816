"""``ember.jit``: TorchScript's familiar spellings over ``ember.export`` (one artifact format under both).

``trace(model, example_inputs)`` returns a ``TracedModule`` you call like the model and ``.save(path)``;
``load(path)`` reads it back without the model's Python source. Dim 0 of every input stays dynamic when the
traced program allows it (as a TorchScript trace runs at other batch sizes). ``script`` compiles Python
source in PyTorch, which Ember does not do: it raises an error pointing at ``trace`` / ``ember.export``.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> traced = ember.jit.trace(nn.Sequential(nn.Linear(3, 2), nn.Sigmoid()).eval(), ember.ones(1, 3))
    >>> path = os.path.join(tempfile.mkdtemp(), "model.ember")
    >>> traced.save(path)
    >>> tuple(ember.jit.load(path)(ember.ones(4, 3)).shape)
    (4, 2)
"""

from __future__ import annotations

import logging

from .errors import mark

__all__ = ["trace", "load", "save", "script", "TracedModule"]

logger = logging.getLogger("ember")


class TracedModule:
    """A traced model: call it (or ``forward``) like the original; ``save(path)``; ``graph``/``code`` show the
    IR; ``program`` is the underlying ``ember.export.ExportedProgram``."""

    def __init__(self, program):
        self.program = program

    def __call__(self, *args, **kwargs):
        return self.program(*args, **kwargs)

    forward = __call__

    @property
    def graph(self):
        return self.program.graph

    @property
    def code(self) -> str:
        return self.program.graph.format(source=True)

    def save(self, path) -> None:
        from .export import save

        save(self.program, path)

    def eval(self):
        return self

    def __repr__(self):
        return f"TracedModule({self.program!r})"


def trace(func, example_inputs=None, *, example_kwarg_inputs=None, strict=True, dynamic_shapes=None,
          **_torch_options):
    """Trace ``func(*example_inputs)`` (a tensor or a tuple of tensors) into a ``TracedModule``.

    Torch's options that concern its Python-side checks (``check_trace``, ``check_inputs``...) are accepted
    and ignored. Call ``model.eval()`` first for inference. ``dynamic_shapes`` (an Ember addition, as in
    ``ember.export.export``) makes other dims dynamic than the batch, e.g. an RNN's sequence length:
    ``dynamic_shapes=[{0: Dim("steps"), 1: Dim("batch")}]``.
    """
    from .export import ExportError, export

    if example_inputs is None and example_kwarg_inputs is None:
        raise mark(TypeError("ember.jit.trace needs example_inputs (a tensor or a tuple of tensors)"))
    args = () if example_inputs is None else (
        example_inputs if isinstance(example_inputs, tuple) else (example_inputs,))
    if dynamic_shapes is not None:
        return TracedModule(export(func, args, example_kwarg_inputs, dynamic_shapes, strict=strict))
    try:
        prog = export(func, args, example_kwarg_inputs, dynamic_batch=True, strict=strict)
    except ExportError as exc:
        if "cannot make" not in str(exc):
            raise
        logger.info("ember.jit.trace: keeping the example's batch size (%s)", exc)
        prog = export(func, args, example_kwarg_inputs, strict=strict)
    return TracedModule(prog)


def save(module, path) -> None:
    """``module.save(path)`` for a ``TracedModule``."""
    if not isinstance(module, TracedModule):
        raise mark(TypeError(f"ember.jit.save takes a TracedModule (from ember.jit.trace), got "
                             f"{type(module).__name__}"))
    module.save(path)


def load(path, map_location=None) -> TracedModule:
    """Read a saved trace (any ``model.ember`` artifact) back; ``map_location`` "cpu" or "cuda"."""
    from .export import load as load_program

    device = "cpu" if map_location is None else str(map_location).split(":")[0]
    return TracedModule(load_program(path, device=device))


def script(obj=None, optimize=None, _frames_up=0, _rcb=None, example_inputs=None):
    """Not supported: TorchScript's ``script`` compiles the model's Python source; Ember records what the
    model does instead. Use ``ember.jit.trace(model, example_inputs)`` or ``ember.export.export``."""
    raise mark(NotImplementedError(
        "ember.jit.script is not supported: Ember does not compile Python source. Trace the model instead: "
        "ember.jit.trace(model, example_inputs) (or ember.export.export(model, args, dynamic_shapes=...)); "
        "Python control flow that depends on tensor values must become ember.where / masks to be traced."
    ))
