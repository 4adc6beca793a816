"""Whole ``nn.Module`` objects in ``ember.save`` / ``ember.load`` files, without pickle.

``torch.save(model, f)`` pickles the model; loading a pickle can run any code. Ember instead stores a module
as data: its class's import path, its plain attributes (numbers, strings, tuples, dtypes ...), its parameters
and buffers (as safetensors tensors, keyed by their ``state_dict`` names) and its child modules, recursively.
Loading rebuilds it only from classes that are **already imported** in the loading program and are
``nn.Module`` subclasses: nothing is imported, no ``__init__``/``__setstate__`` runs, so a file cannot make
the loader execute code. Functions stored as attributes (e.g. ``activation=F.relu``) must be Ember's own.

A module that holds anything else (hooks, lambdas, open files, arbitrary objects) is refused at save time
with the state_dict recipe, which always works.
"""
from __future__ import annotations

import sys
from collections import OrderedDict

from .errors import mark, with_user_line

_TABLES = ("_parameters", "_buffers", "_modules")
_HOOKS = ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks")
_DROP = ("_compiled_call", "_in_compiled_call")  # module.compile() state: recompile after loading
_STATE_DICT_HINT = ("save model.state_dict() instead and rebuild the model before loading: "
                    "torch.save(model.state_dict(), path); model = Net(); model.load_state_dict(torch.load(path))")


def _qualified(obj) -> str:
    return f"{obj.__module__}:{obj.__qualname__}"


def _lookup(path: str, what: str, name: str):
    """The object at ``module:qualname`` among modules already imported (never imports)."""
    mod_name, _, qual = path.partition(":")
    obj = _walk(sys.modules.get(mod_name), qual)
    if obj is None and mod_name == "__main__":  # a script run by exec (notebooks, runners): its own globals
        from .errors import user_frame

        frame = user_frame(2)
        obj = _walk(frame.f_globals.get(qual.split(".")[0]) if frame is not None else None, qual.partition(".")[2])
    if obj is None:
        hint = f" (from {mod_name} import {qual.split('.')[0]})" if mod_name != "__main__" else \
            f" (define {qual} in the loading script, as in the saving one)"
        raise _user(ValueError, f"ember.load: {name!r} holds a whole model whose {what} {qual!r} from module "
                                f"{mod_name!r} is not defined in this program. Import it before loading{hint}: "
                                "Ember never imports code named by a checkpoint. Or load a state_dict into a model "
                                "you construct.")
    return obj


def _walk(obj, dotted: str):
    for part in dotted.split(".") if obj is not None and dotted else ():
        obj = getattr(obj, part, None)
        if obj is None:
            break
    return obj


def encode_module(encoder, module, path):
    """The JSON node for ``module`` (tensors registered with ``encoder`` under their state_dict names)."""
    from .nn import Module

    if any(module.__dict__.get(h) for h in _HOOKS):
        raise _user(TypeError, f"ember.save: the module at {_where(path)} ({type(module).__name__}) has hooks, which "
                               f"are functions and cannot be stored as data; remove them, or {_STATE_DICT_HINT}")
    state = {}
    for key, value in module.__dict__.items():
        if key in _HOOKS or key in _DROP:
            continue
        if key in _TABLES:
            state[key] = {name: (encode_module(encoder, v, path + [name]) if isinstance(v, Module)
                                 else None if v is None else _param_node(encoder, v, path + [name]))
                          for name, v in value.items()}
        elif key == "_non_persistent_buffers_set":
            state[key] = {"$set": sorted(value)}
        else:
            state[key] = encoder.encode(value, path + [key])
    return {"$module": _qualified(type(module)), "state": state}


def _param_node(encoder, t, path):
    node = encoder.encode(t, path)
    from .nn import Parameter

    if isinstance(t, Parameter):
        node["parameter"] = True
        node["requires_grad"] = bool(t.requires_grad)
    return node


def encode_function(fn, path):
    """Ember's own functions (``F.relu`` as an activation) by import path; anything else is refused."""
    mod = getattr(fn, "__module__", "") or ""
    qual = getattr(fn, "__qualname__", "")
    if mod.split(".")[0] == "ember" and "<" not in qual:
        try:
            same = _lookup(f"{mod}:{qual}", "function", "") is fn
        except ValueError:
            same = False
        if same:
            return {"$function": f"{mod}:{qual}"}
    raise _user(TypeError, f"ember.save: cannot save the function {qual or fn!r} (from {mod or 'unknown'}) at "
                    f"{_where(path)}: only Ember's own functions can be stored by name, since loading must not "
                    f"run code; {_STATE_DICT_HINT}")


def decode_module(decoder, node):
    from .nn import Module

    cls = _lookup(node["$module"], "class", decoder.name)
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise _user(ValueError, f"ember.load: {decoder.name!r} names {node['$module']!r} as a module class, but it is "
                         f"not an nn.Module subclass; refusing to build it")
    module = cls.__new__(cls)
    d = module.__dict__
    for h in _HOOKS:
        d[h] = OrderedDict()
    for key, value in node["state"].items():
        if key in _TABLES:
            d[key] = OrderedDict((name, _decode_entry(decoder, v)) for name, v in value.items())
        elif key == "_non_persistent_buffers_set":
            d[key] = set(value["$set"])
        else:
            d[key] = decoder.decode(value)
    d["_hooked"] = False
    return module


def _decode_entry(decoder, node):
    if node is None:
        return None
    if isinstance(node, dict) and "$module" in node:
        return decode_module(decoder, node)
    t = decoder.decode(node)
    from .nn import Parameter

    if node.get("parameter") and not isinstance(t, Parameter):  # an alias of a tied weight is already one
        p = Parameter(t, requires_grad=bool(node.get("requires_grad")))
        decoder.objects[node["$tensor"]] = p  # later aliases of this tensor get the Parameter itself
        return p
    return t


def decode_function(decoder, node):
    path = node["$function"]
    if path.split(":")[0].split(".")[0] != "ember":
        raise _user(ValueError, f"ember.load: {decoder.name!r} names the function {path!r}; only Ember's own functions "
                         "are loaded by name")
    return _lookup(path, "function", decoder.name)


def _where(path) -> str:
    return "the top level" if not path else "'" + ".".join(str(p) for p in path) + "'"


def _user(kind, message):
    return mark(with_user_line(kind(message), 3))
