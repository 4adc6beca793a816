"""Module hook machinery: removable handles and full backward hooks built on tensor hooks."""
from __future__ import annotations

import itertools

from ...tensor import RemovableHandle, Tensor

_hook_ids = itertools.count()


def next_hook_id():
    return next(_hook_ids)


class HookHandle(RemovableHandle):
    def __init__(self, module, table, key):
        self.module, self.table, self.id = module, table, key

    def remove(self):
        self.table.pop(self.id, None)
        self.module._update_hooked()


class BackwardHookState:
    """Full backward hooks through tensor hooks: grads of outputs are caught by hooks on the outputs, grads of
    inputs by hooks on identity copies of the inputs that ``forward`` sees."""

    def __init__(self, module, hooks):
        self.module, self.hooks = module, hooks
        self.grad_output = None
        self.n_inputs, self.grad_input, self.pending = 0, [], 0

    def wrap_inputs(self, args):
        from ...ops import apply

        new, slots = [], []
        for a in args:
            if isinstance(a, Tensor):
                slots.append(len(self.grad_input))
                self.grad_input.append(None)
                if a.requires_grad:
                    a = apply("reshape", a, shape=tuple(a.shape))
                    a.register_hook(self._input_hook(slots[-1]))
                    self.pending += 1
            new.append(a)
        return self, tuple(new)

    def _input_hook(self, slot):
        def hook(g):
            self.grad_input[slot] = g
            self.pending -= 1
            if self.pending == 0:
                res = self._fire()
                if res is not None:
                    return res[slot]
            return None

        return hook

    def watch_outputs(self, out):
        outs = out if isinstance(out, (tuple, list)) else (out,)
        tensors = [o for o in outs if isinstance(o, Tensor) and o.requires_grad]
        self.grad_output = [None] * len(tensors)
        for i, t in enumerate(tensors):
            t.register_hook(self._output_hook(i))

    def _output_hook(self, i):
        def hook(g):
            self.grad_output[i] = g
            if self.pending == 0 and all(x is not None for x in self.grad_output):
                self._fire()
            return None

        return hook

    def _fire(self):
        result = None
        for hook in self.hooks:
            res = hook(self.module, tuple(self.grad_input), tuple(self.grad_output or ()))
            if res is not None:
                result = tuple(res)
        return result
