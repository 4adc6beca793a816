"""Module's ``state_dict`` / ``load_state_dict`` with PyTorch's hooks and extra state, a mixin of ``Module``.

``state_dict`` walks the module tree: per module its pre hooks, its parameters and persistent buffers, its
``_extra_state`` (when ``get_extra_state`` is overridden), its children, then its post hooks."""
from __future__ import annotations

from collections import OrderedDict, namedtuple

from ...autograd import no_grad
from ...errors import mark, with_user_line
from ...tensor import Tensor
from ._hooks import HookHandle, next_hook_id
from ._parameter import Parameter

IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])
_EXTRA = "_extra_state"


class ModuleState:
    """``state_dict``, ``load_state_dict``, their hooks and ``get_extra_state``/``set_extra_state``."""

    def _hook_table(self, name):
        table = self.__dict__.get(name)
        if table is None:
            table = self.__dict__[name] = OrderedDict()
        return table

    def _add_plain_hook(self, name, hook):
        table = self._hook_table(name)
        key = next_hook_id()
        table[key] = hook
        return HookHandle(self, table, key)

    def register_state_dict_pre_hook(self, hook):
        """``hook(module, prefix, keep_vars)`` runs before this module's entries are saved."""
        return self._add_plain_hook("_state_dict_pre_hooks", hook)

    def register_state_dict_post_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata)`` runs after this module and its children are
        saved; it may change ``state_dict`` in place and must return None."""
        return self._add_plain_hook("_state_dict_post_hooks", hook)

    def register_load_state_dict_pre_hook(self, hook):
        """``hook(module, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys,
        error_msgs)`` runs before anything is loaded; it may change ``state_dict`` (a copy) in place."""
        return self._add_plain_hook("_load_state_dict_pre_hooks", hook)

    def register_load_state_dict_post_hook(self, hook):
        """``hook(module, incompatible_keys)`` runs after loading; it may remove entries from
        ``incompatible_keys.missing_keys`` / ``unexpected_keys`` before ``strict`` checks them."""
        return self._add_plain_hook("_load_state_dict_post_hooks", hook)

    def get_extra_state(self):
        """Override to save extra (picklable) state in ``state_dict`` under ``'_extra_state'``.

        >>> from ember import nn
        >>> class Counted(nn.Linear):
        ...     def get_extra_state(self):
        ...         return {"calls": 3}
        ...     def set_extra_state(self, state):
        ...         self.calls = state["calls"]
        >>> sd = Counted(2, 2).state_dict(); sd["_extra_state"]
        {'calls': 3}
        >>> m = Counted(2, 2); _ = m.load_state_dict(sd); m.calls
        3
        """
        raise mark(RuntimeError("Reached a code path in Module.get_extra_state() that should never be called: "
                                "override get_extra_state (and set_extra_state) to save extra state"))

    def set_extra_state(self, state):
        """Override to restore what ``get_extra_state`` returned."""
        raise mark(RuntimeError("Reached a code path in Module.set_extra_state() that should never be called: "
                                "override set_extra_state (and get_extra_state) to load extra state"))

    def _has_extra_state(self):
        return type(self).get_extra_state is not ModuleState.get_extra_state

    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """An ordered mapping from dotted names to parameters and persistent buffers (sharing memory)."""
        out = OrderedDict() if destination is None else destination
        self._save_tree(out, prefix, keep_vars)
        return out

    def _save_tree(self, out, prefix, keep_vars):
        d = self.__dict__
        for hook in list(d.get("_state_dict_pre_hooks", {}).values()):
            hook(self, prefix, keep_vars)
        for k, p in self._parameters.items():
            if p is not None:  # a lazy module's uninitialized parameter shows as itself, as in PyTorch
                out[prefix + k] = p if keep_vars or getattr(p, "_uninitialized", False) else p.detach()
        for k, b in self._buffers.items():
            if b is not None and k not in self._non_persistent_buffers_set:
                out[prefix + k] = b if keep_vars or getattr(b, "_uninitialized", False) else b.detach()
        if self._has_extra_state():
            out[prefix + _EXTRA] = self.get_extra_state()
        for name, child in self._modules.items():
            if child is not None:
                child._save_tree(out, prefix + name + ".", keep_vars)
        for hook in list(d.get("_state_dict_post_hooks", {}).values()):
            if hook(self, out, prefix, {"version": self._version}) is not None:
                raise mark(RuntimeError("a state_dict post hook must return None (change state_dict in place)"))

    def _state_entries(self):
        """{key: (owner module, kind, name)} for every entry ``state_dict`` would hold."""
        entries = {}
        for name, mod in self.named_modules(remove_duplicate=False):
            pre = name + "." if name else ""
            for k, p in mod._parameters.items():
                if p is not None:
                    entries[pre + k] = (mod, "_parameters", k)
            for k, b in mod._buffers.items():
                if b is not None and k not in mod._non_persistent_buffers_set:
                    entries[pre + k] = (mod, "_buffers", k)
            if type(mod).set_extra_state is not ModuleState.set_extra_state:
                entries[pre + _EXTRA] = (mod, _EXTRA, None)
        return entries

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values from ``state_dict`` into this module's parameters and buffers (in place).

        With ``strict`` every key must match; errors list each missing and unexpected key and each shape
        mismatch with the expected and found shapes. A DistributedDataParallel checkpoint (every key with
        the ``module.`` prefix) loads into the bare model, with a warning. Load pre hooks run first (on a copy
        of ``state_dict``), post hooks after the values are copied and before ``strict`` is checked."""
        entries = self._state_entries()
        state_dict = _without_ddp_prefix(OrderedDict(state_dict), entries)
        errors = self._run_load_pre_hooks(state_dict, strict)
        missing = [k for k in entries if k not in state_dict]
        unexpected = [k for k in state_dict if k not in entries]
        errors += _size_mismatches(entries, state_dict)
        if errors:  # nothing is copied (PyTorch copies the entries that fit, then raises)
            _raise_load_errors(self, (_key_errors(missing, unexpected) if strict else []) + errors)
        for k, (mod, table, name) in entries.items():
            if k in state_dict:
                _copy_into(mod, table, name, state_dict[k], assign)
        keys = IncompatibleKeys(missing, unexpected)
        for _name, mod in reversed(list(self.named_modules(remove_duplicate=False))):
            for hook in list(mod.__dict__.get("_load_state_dict_post_hooks", {}).values()):
                if hook(mod, keys) is not None:
                    raise mark(RuntimeError("a load_state_dict post hook must return None (change "
                                            "incompatible_keys in place)"))
        if strict and (keys.missing_keys or keys.unexpected_keys):
            _raise_load_errors(self, _key_errors(keys.missing_keys, keys.unexpected_keys))
        return keys

    def _run_load_pre_hooks(self, state_dict, strict):
        errors = []
        for name, mod in self.named_modules(remove_duplicate=False):
            hooks = mod.__dict__.get("_load_state_dict_pre_hooks")
            for hook in list(hooks.values()) if hooks else ():
                hook(mod, state_dict, name + "." if name else "", {"version": mod._version}, strict, [], [], errors)
        return errors


def _size_mismatches(entries, state_dict):
    mismatched = []
    for k, (mod, table, name) in entries.items():
        if k in state_dict and table != _EXTRA:
            cur = getattr(mod, table)[name]
            shape = tuple(getattr(state_dict[k], "shape", ()))
            if getattr(cur, "_uninitialized", False):  # a lazy module's: it takes the checkpoint's shape
                cur.materialize(shape)
            if shape != tuple(cur.shape):
                mismatched.append(f"size mismatch for {k}: copying a param with shape {shape} from "
                                  f"checkpoint, the shape in current model is {tuple(cur.shape)}.")
    return mismatched


def _key_errors(missing, unexpected):
    errors = []
    if missing:
        errors.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
    if unexpected:
        errors.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
    return errors


def _raise_load_errors(module, errors):
    raise mark(with_user_line(RuntimeError(
        f"Error(s) in loading state_dict for {type(module).__name__}:\n\t" + "\n\t".join(errors)), 3))


def _without_ddp_prefix(state_dict, entries):
    keys = list(state_dict)
    if not keys or not all(k.startswith("module.") for k in keys) or any(k.startswith("module.") for k in entries):
        return state_dict
    import warnings

    warnings.warn("load_state_dict: every key has the 'module.' prefix of a DistributedDataParallel checkpoint; "
                  "loading them into the bare model without it", UserWarning, stacklevel=3)
    return OrderedDict((k[len("module."):], v) for k, v in state_dict.items())


def _copy_into(mod, table, name, value, assign):
    if table == _EXTRA:
        mod.set_extra_state(value)
        return
    cur = getattr(mod, table)[name]
    if not isinstance(value, Tensor):
        value = Tensor(value)
    if assign:
        if table == "_parameters":
            new = Parameter(value, requires_grad=cur.requires_grad)
            mod._parameters[name] = new
        else:
            mod._buffers[name] = value
        return
    with no_grad():
        cur.copy_(value.detach())
