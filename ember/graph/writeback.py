"""The compiled executor's state traffic: the arrays read in before a call, the results written back after.

Shared by ``compile.py`` (plain compiled calls) and ``autodiff.py`` (joint forward+backward steps), so neither
imports the other for it.
"""
from __future__ import annotations


def state_arrays(cap, leaves) -> list:
    """The executor's inputs: the argument leaves' arrays, then the state read from where it lives now."""
    arrays = [t._data for t in leaves]
    for kind, obj in cap.state:
        holder = obj if kind != "arg_grad" else leaves[obj]
        arrays.append(holder._data if kind == "tensor" else holder.grad._data)
    return arrays


def write_back(writeback, outs, start, leaves) -> None:
    """Carry out ``cap.writeback``: ``outs[start:]`` are the written arrays, in order, of the entries that
    have one. One loop with its imports made once: a step writes a dozen of these (seed_linear's
    parameters, moments and step counts), and a call per entry cost ~3 us each."""
    from .. import backend
    from ..tensor import Tensor

    k = start
    for (kind, obj), has in writeback:
        arr = None
        if has:
            arr, k = outs[k], k + 1
        if kind.startswith("arg_grad"):  # the .grad of an argument leaf: the tensor passed in this call
            kind, obj = kind[4:], leaves[obj]
        if kind == "grad_none":
            obj.grad = None
        elif kind == "grad_new":
            obj.grad = Tensor._wrap(arr)
        elif kind == "grad":
            g = obj.grad
            if g is not None and g._data.shape == arr.shape and g._data is not arr:
                backend.xp_of(arr).copyto(g._data, arr)
            else:
                obj.grad = Tensor._wrap(arr)
        else:
            t = leaves[obj] if kind == "arg" else obj
            if t._data is not arr:
                backend.xp_of(arr).copyto(t._data, arr, casting="unsafe")
            vc = t._vc
            if vc is None:
                vc = t._version_counter()
            vc.value += 1


def _donations(cap) -> dict:
    """{output index: input index} for write-backs into arrays that are also graph inputs."""
    n_args = cap.n_args
    n_out = len(cap.graph.outputs) - sum(1 for _, has in cap.writeback if has)
    donate, k = {}, n_out
    for (kind, obj), has in cap.writeback:
        if not has:
            continue
        if kind == "arg":
            donate[k] = obj
        elif kind in ("tensor", "grad"):
            want = "tensor" if kind == "tensor" else "grad"
            for s, (skind, sobj) in enumerate(cap.state):
                if skind == want and sobj is obj:
                    donate[k] = n_args + s
                    break
        k += 1
    return donate
