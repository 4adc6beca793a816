"""Imports that show the architecture: a lower layer never imports a higher one.

The layers (``../shared/DESIGN.md``), bottom to top::

    backend -> tensor -> ops -> autograd -> functional -> nn/optim -> keras
    graph beside (it may read everything up to nn/optim; Keras calls into it)
    export / serve / distributed / tools on top

This test reads every ``import`` of every module in ``ember/`` with ``ast`` -- module level and inside functions,
relative and absolute -- maps both ends to their layer and fails on one that goes up, naming file:line, the two
layers and what to do instead. Imports inside one layer are free; cycles inside a package are checked separately
for the packages where they were removed (``graph``).
"""
from __future__ import annotations

import ast
import functools
from collections import defaultdict
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ember"

# rank of each layer; an import may only go to the same rank or lower
RANK = {"backend": 0, "tensor": 1, "ops": 2, "autograd": 3, "functional": 4, "nn/optim": 5, "graph": 6,
        "keras": 7, "top": 8}

# module (or package) prefix -> layer; the longest matching prefix wins
LAYER_OF = {
    # backend: arrays, devices, dtypes, errors, global state, the generator state
    "ember.backend": "backend", "ember.dtypes": "backend", "ember.errors": "backend", "ember._state": "backend",
    "ember._printing": "backend", "ember.random": "backend", "ember._numpy_names": "backend",
    "ember._threads": "backend",  # threads of BLAS and the pools: imports no ember module
    "ember._jit_math": "backend",  # numba scalar math (float32 erf) for eager primitives and fused kernels
    "ember._cores": "backend",  # the helper-thread pool that ops and the compiled executor share
    "ember.memory_format": "backend", "ember.dtype_info": "backend",  # layout / dtype names and queries
    "ember._config": "backend",  # process-wide switches (determinism, matmul precision)
    # tensor: the Tensor class and its method tables
    "ember.tensor": "tensor", "ember._tensor_methods": "tensor", "ember._tensor_math": "tensor",
    "ember._tensor_extra": "tensor", "ember._tensor_more": "tensor", "ember._tensor_tail": "tensor",
    "ember._legacy_types": "tensor",
    # ops: the primitive registry; autocast is a policy ops consult
    "ember.ops": "ops", "ember._autocast": "ops",
    # autograd
    "ember.autograd": "autograd", "ember.autograd_engine": "autograd", "ember.autograd_function": "autograd",
    "ember.autograd_functional": "autograd", "ember.autograd_graph": "autograd", "ember.func": "autograd",
    # functional: composites, creation, linalg; the wiring step that hands them down to the layers below
    "ember.functional": "functional", "ember.creation": "functional", "ember.linalg": "functional",
    "ember.linalg_factor": "functional", "ember.linalg_extra": "functional",
    "ember.sparse": "functional", "ember.special": "functional",
    "ember._wiring": "functional", "ember._out_arg": "functional",
    # nn / optim and their siblings at the same height (device namespaces, data, vision, saving)
    "ember.nn": "nn/optim", "ember.optim": "nn/optim", "ember.amp": "nn/optim", "ember.cpu": "nn/optim",
    "ember.cuda": "nn/optim", "ember.accelerator": "nn/optim", "ember.backends": "nn/optim",
    "ember.distributions": "nn/optim", "ember.utils": "nn/optim", "ember.utils.data": "nn/optim",
    "ember.vision": "nn/optim", "ember.testing": "nn/optim", "ember.multiprocessing": "nn/optim",
    "ember._module_format": "nn/optim", "ember.serialization": "nn/optim", "ember._torch_toplevel": "nn/optim",
    # the compiler
    "ember.graph": "graph",
    "ember.keras": "keras",
    # the package root eagerly imports the layers up to nn/optim (compile, keras, export ... load on first use),
    # so ``import ember`` is an import of that height
    "ember": "nn/optim",
    # on top: deployment, serving, distributed, tools
    "ember.export": "top", "ember.serve": "top", "ember.distributed": "top",
    "ember.nn.parallel": "top", "ember.utils.tensorboard": "top", "ember.profiler": "top",
    "ember._profiler_table": "top", "ember.viz": "top", "ember.onnx": "top", "ember.jit": "top",
    "ember.quantization": "top", "ember.fx": "top",
}

# deliberate imports against the order: (importing file, imported module) -> reason. Keep it short and exact.
# Each is a public API that by its (PyTorch's / Keras 3's) name lives low but delegates to a higher layer,
# imported inside the function that delegates, so the lower layer still loads and works without it.
ALLOWED: dict[tuple[str, str], str] = {
    ("ember/__init__.py", "ember.graph"): "the root's lazy `ember.compile` / `ember.function` (module __getattr__)",
    ("ember/__init__.py", "ember.profiler"): "torch.profiler, torch.autograd.profiler, torch.ops.profiler exist "
                                             "after `import torch`",
    ("ember/nn/__init__.py", "ember.nn.parallel"): "torch's `nn.parallel.DistributedDataParallel` name",
    ("ember/nn/modules/module.py", "ember.graph.compile"): "torch's `Module.compile()` delegates to ember.compile",
    ("ember/nn/modules/syncbatchnorm.py", "ember.distributed._group"): "SyncBatchNorm asks for the process group",
    ("ember/nn/modules/syncbatchnorm.py", "ember.distributed._prim"): "SyncBatchNorm all-reduces its statistics",
    ("ember/keras/callbacks_tensorboard.py", "ember.utils.tensorboard"): "Keras 3's TensorBoard callback",
    ("ember/keras/callbacks_tensorboard.py", "ember.profiler"): "Keras 3's TensorBoard(profile_batch=...)",
    ("ember/keras/distribution.py", "ember.distributed"): "Keras 3's keras.distribution API over MPI",
    ("ember/keras/distribution.py", "ember.distributed._group"): "Keras 3's keras.distribution API over MPI",
    ("ember/keras/distribution.py", "ember.nn.parallel.distributed"): "keras.distribution.DataParallel's reducer",
    ("ember/keras/model_plot.py", "ember.viz"): "Keras 3's keras.utils.plot_model draws with ember.viz",
    ("ember/keras/models/model.py", "ember.export.keras_model"): "Keras 3's Model.export() delegates to export",
}


def layer_of(module: str) -> str:
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        layer = LAYER_OF.get(".".join(parts[:n]))
        if layer:
            return layer
    raise KeyError(f"{module} has no layer: add it to LAYER_OF in tests/test_layering_imports.py")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree, module: str, is_package: bool):
    """(line, imported ember module) for every import in a module, at any depth, relative or absolute."""
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "ember")
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[:len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "ember":
                continue
            if node.module and node.level == 0 or node.module:
                yield node.lineno, target
            else:  # ``from . import x, y``: each name is a module of the package
                yield from ((node.lineno, f"{target}.{a.name}") for a in node.names)


@functools.lru_cache(maxsize=1)
def _modules():
    # parsed once per test session
    out = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        out.append((rel, module_name(path), path.name == "__init__.py", ast.parse(path.read_text(), filename=rel)))
    return out


def upward_imports():
    """file:line, the importing and imported layer, for every import that goes up the order."""
    for rel, module, is_package, tree in _modules():
        here = layer_of(module)
        for line, target in imports(tree, module, is_package):
            there = layer_of(target)
            if RANK[there] > RANK[here]:
                yield rel, line, target, here, there


HINT = ("move the code to the layer that owns it, or pass the higher-level piece down as a hook that the higher "
        "layer installs (see ember/_wiring.py); a deliberate wiring point goes in ALLOWED with its reason")


def test_no_import_goes_up_the_layers():
    found = [f"{rel}:{line}: {here} imports {target} ({there})" for rel, line, target, here, there in
             upward_imports() if (rel, target) not in ALLOWED]
    assert not found, f"{len(found)} imports go up the layers ({HINT}):\n  " + "\n  ".join(found)


def test_allowed_entries_still_exist():
    # an entry whose import is gone (or no longer goes up) must be deleted, so the list stays exact
    live = {(rel, target) for rel, _, target, _, _ in upward_imports()}
    stale = [f"{rel} -> {target}" for rel, target in ALLOWED if (rel, target) not in live]
    live_pairs = set().union(*(_pairs(prefix) for prefix in ACYCLIC))
    stale += [f"{a} <-> {b}" for a, b in ALLOWED_PAIRS if (a, b) not in live_pairs]
    assert not stale, "ALLOWED entries that no longer import upward, delete them:\n  " + "\n  ".join(stale)


def test_every_module_has_a_layer():
    for _, module, _, _ in _modules():
        layer_of(module)  # raises naming the module


# packages whose modules must not import each other in a circle (function-level imports included)
ACYCLIC = ("ember.graph",)


def _edges(prefix):
    edges = defaultdict(set)
    for _, module, is_package, tree in _modules():
        if module.startswith(prefix + ".") and not is_package:
            for _, target in imports(tree, module, is_package):
                if target.startswith(prefix + ".") and target != module:
                    edges[module].add(target)
    return edges


# deliberate pairs, each with its reason
ALLOWED_PAIRS = {
    ("ember.graph.ir", "ember.graph.passes.decompose"): "Graph.format(decomposed=True) is a printing convenience",
}


def _pairs(prefix):
    edges = _edges(prefix)
    return {tuple(sorted((a, b))) for a in edges for b in edges[a] if a in edges.get(b, ())}


@pytest.mark.parametrize("prefix", ACYCLIC)
def test_no_two_modules_import_each_other(prefix):
    pairs = sorted(_pairs(prefix) - set(ALLOWED_PAIRS))
    assert not pairs, f"modules of {prefix} that import each other: {pairs} (move the shared piece into one of them " \
                      "or a third module both import)"


@pytest.mark.parametrize("source,module,is_package,expected", [
    ("import ember.nn", "ember.ops.nn", False, ["ember.nn"]),
    ("from .. import autograd", "ember.ops._core", False, ["ember.autograd"]),
    ("from ..nn import Module", "ember.graph.compile", False, ["ember.nn"]),
    ("from . import opinfo, ir", "ember.graph", True, ["ember.graph.opinfo", "ember.graph.ir"]),
    ("from .capture import run", "ember.graph.tracer", False, ["ember.graph.capture"]),
    ("def f():\n    from ember.keras import Model", "ember.nn.modules", True, ["ember.keras"]),
    ("import numpy as np", "ember.ops", True, []),
])
def test_reader_resolves_each_kind_of_import(source, module, is_package, expected):
    assert [t for _, t in imports(ast.parse(source), module, is_package)] == expected


@pytest.mark.parametrize("module,layer", [
    ("ember.tensor", "tensor"), ("ember.ops.layers.rnn", "ops"), ("ember.nn.parallel.distributed", "top"),
    ("ember.nn.functional.loss", "nn/optim"), ("ember.utils.tensorboard.writer", "top"), ("ember", "nn/optim"),
])
def test_layer_map(module, layer):
    assert layer_of(module) == layer
