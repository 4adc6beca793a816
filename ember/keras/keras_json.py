"""Keras 3's own JSON model config: ``model.to_json()`` writes it and ``keras.models.model_from_json`` reads
it, so real Keras 3 rebuilds an Ember-written model and Ember rebuilds a Keras-written one.

The format (as Keras 3 writes it): every object is ``{"module", "class_name", "config", "registered_name"}``
(``registered_name`` is ``None`` for built-ins and ``"package>Name"`` for registered custom classes); a
Sequential lists its layers (an ``InputLayer`` first); a Functional lists its layers, each with
``"name"`` and ``"inbound_nodes"`` (``{"args", "kwargs"}`` whose tensors are
``{"class_name": "__keras_tensor__", "config": {"shape", "dtype", "keras_history": [layer, node, index]}}``)
and names its ``input_layers`` / ``output_layers`` by ``[layer, node, index]``.

>>> import numpy as np
>>> from ember import keras
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, activation="relu")])
>>> twin = keras.models.model_from_json(model.to_json())
>>> twin.set_weights(model.get_weights())
>>> x = np.ones((1, 3), "float32")
>>> bool(np.allclose(twin.predict(x, verbose=0), model.predict(x, verbose=0)))
True
"""

from __future__ import annotations

import inspect
import json

from . import saving

_KERAS_MODULES = {
    "layers": "keras.layers",
    "initializers": "keras.initializers",
    "regularizers": "keras.regularizers",
    "constraints": "keras.constraints",
    "losses": "keras.losses",
    "metrics": "keras.metrics",
    "optimizers": "keras.optimizers",
}
# Keys Keras 3 writes that Ember's layers do not take: dropped when they hold these (default) values, refused
# with a clear error otherwise (they would change what the model computes).
_DEFAULTS = {
    "data_format": ("channels_last",),
    "groups": (1,),
    "autocast": (True,),
    "renorm_momentum": (0.99,),  # only read when renorm=True, which is refused
    "rms_scaling": (False,),
}


# -- Ember -> Keras ---------------------------------------------------------------------------------------
def _dtype_policy(name):
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": name}, "registered_name": None}


def _keras_module(obj_module, class_name):
    parts = (obj_module or "").split(".")
    if class_name == "Sequential":
        return "keras"
    if class_name == "Functional":
        return "keras.src.models.functional"
    if len(parts) >= 3 and parts[:2] == ["ember", "keras"] and parts[2] in _KERAS_MODULES:
        return _KERAS_MODULES[parts[2]]
    return obj_module


def to_keras_tree(value):
    """Rewrite Ember's serialized objects (nested) into Keras 3's spelling of the same objects."""
    if isinstance(value, list):
        return [to_keras_tree(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "class_name" not in value or "config" not in value:
        return {k: to_keras_tree(v) for k, v in value.items()}
    out = dict(value)
    builtin = out.get("registered_name") in (None, out["class_name"]) and str(out.get("module", "")).startswith(
        "ember.keras"
    )
    out["module"] = _keras_module(out.get("module"), out["class_name"])
    out["registered_name"] = None if builtin else out.get("registered_name")
    config = out["config"]
    if isinstance(config, dict):
        config = {k: to_keras_tree(v) for k, v in config.items()}
        if isinstance(config.get("dtype"), str) and out["class_name"] != "InputLayer":
            config["dtype"] = _dtype_policy(config["dtype"])
    out["config"] = config
    if out["class_name"] == "InputLayer":
        out["module"] = "keras.layers"
    return out


def _functional_config(model):
    from .layers.symbolic import KerasTensor, map_structure

    history, layers, entries = {}, [], {}
    for i, t in enumerate(model.inputs):
        name = t.name or f"input_layer_{i}"
        history[id(t)] = [name, 0, 0]
        layer_config = {"batch_shape": list(t.shape), "dtype": t.dtype, "name": name}
        layers.append(
            {"module": "keras.layers", "class_name": "InputLayer", "config": layer_config, "registered_name": None,
             "name": name, "inbound_nodes": []}
        )

    def ref(v):
        if not isinstance(v, KerasTensor):
            return v
        return {"class_name": "__keras_tensor__",
                "config": {"shape": list(v.shape), "dtype": v.dtype, "keras_history": history[id(v)]}}

    for node in model._nodes:
        layer = node.layer
        if id(layer) not in entries:
            entry = to_keras_tree(saving.serialize_keras_object(layer))
            entry.update(name=layer.name, inbound_nodes=[])
            entries[id(layer)] = entry
            layers.append(entry)
        entry = entries[id(layer)]
        kwargs = {k: v for k, v in node.call_kwargs.items() if k != "training"}
        entry["inbound_nodes"].append(
            {"args": map_structure(ref, list(node.call_args)), "kwargs": map_structure(ref, kwargs)}
        )
        for j, t in enumerate(node.outputs):
            history[id(t)] = [layer.name, len(entry["inbound_nodes"]) - 1, j]

    def refs(struct):
        out = map_structure(lambda t: history[id(t)], struct, is_leaf=lambda v: isinstance(v, KerasTensor))
        return list(out) if isinstance(out, tuple) else out

    ins = model._inputs_struct
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "input_layers": refs(ins if isinstance(ins, (list, tuple, dict)) else ins),
        "output_layers": refs(model._outputs_struct),
    }


def model_to_keras_config(model):
    """The ``{"module", "class_name", "config", ...}`` dict Keras 3's ``model.to_json()`` would write."""
    from .models.model import Functional
    from .models.sequential import Sequential

    if isinstance(model, Functional) and not isinstance(model, Sequential):
        return {"module": "keras.src.models.functional", "class_name": "Functional",
                "config": _functional_config(model), "registered_name": "Functional"}
    return to_keras_tree(saving.serialize_keras_object(model))


def to_json(model, **kwargs):
    return json.dumps(model_to_keras_config(model), **kwargs)


# -- Keras -> Ember ---------------------------------------------------------------------------------------
def _accepted_args(cls):
    """Constructor argument names of ``cls`` (following ``**kwargs`` up the class chain)."""
    from .layers.base import Layer

    names = {"autocast", "input_length"}  # the extra keywords Layer takes and drops
    for klass in getattr(cls, "__mro__", ()):
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        if klass is Layer or not any(p.kind == p.VAR_KEYWORD for p in params):
            return names
    return None  # takes anything


def _ignorable(key, value):
    return value in (None, False, [], {}) or value in _DEFAULTS.get(key, ())


def from_keras_tree(value, custom_objects=None):
    """Rewrite Keras 3's serialized objects (nested) into configs Ember's classes accept."""
    if isinstance(value, list):
        return [from_keras_tree(v, custom_objects) for v in value]
    if not isinstance(value, dict):
        return value
    if value.get("class_name") == "DTypePolicy" or value.get("class_name") == "DTypePolicyMap":
        return value.get("config", {}).get("name", "float32")
    if "class_name" not in value or not isinstance(value.get("config"), dict):
        return {k: from_keras_tree(v, custom_objects) for k, v in value.items()}
    out = {k: v for k, v in value.items() if k not in ("build_config", "compile_config", "inbound_nodes")}
    name = out.get("registered_name") or out["class_name"]
    cls = saving.get_registered_object(name, custom_objects) or saving.get_registered_object(
        out["class_name"], custom_objects
    )
    if cls is None:
        raise saving._missing(name)
    config = {k: from_keras_tree(v, custom_objects) for k, v in out["config"].items()}
    if out["class_name"] in ("Sequential", "Functional") or "layers" in config:
        out["config"] = config
        return out
    accepted = _accepted_args(cls) if _plain_from_config(cls) else None
    if accepted is not None:
        for key in [k for k in config if k not in accepted]:
            if not _ignorable(key, config[key]):
                raise ValueError(
                    f"model_from_json: Ember's {out['class_name']} has no option {key!r} (the config sets it to "
                    f"{config[key]!r}); remove it from the config or use a layer without it"
                )
            del config[key]
    out["config"] = config
    out.setdefault("registered_name", None)
    if out["registered_name"] is None:
        out["registered_name"] = out["class_name"]
    return out


def _plain_from_config(cls):
    """Whether ``cls.from_config`` is the base ``cls(**config)``, so its constructor decides what is valid."""
    from .constraints import Constraint
    from .initializers import Initializer
    from .layers.base import Layer
    from .regularizers import Regularizer

    plain = {base.from_config.__func__ for base in (Layer, Initializer, Regularizer, Constraint)}
    return isinstance(cls, type) and getattr(getattr(cls, "from_config", None), "__func__", None) in plain


def _functional_from_keras(config, custom_objects):
    from .layers.core import Input
    from .layers.symbolic import flatten, map_structure
    from .models.model import Functional

    inputs, layers, pending = {}, {}, []
    for spec in config["layers"]:
        if spec["class_name"] == "InputLayer":
            c = spec["config"]
            name = spec.get("name") or c["name"]
            inputs[name] = Input(batch_shape=tuple(c["batch_shape"]), dtype=c.get("dtype"), name=name)
            continue
        layer = saving.deserialize_keras_object(from_keras_tree(spec, custom_objects), custom_objects)
        layers[spec["name"]] = layer
        for k, node in enumerate(spec.get("inbound_nodes", [])):
            pending.append((spec["name"], k, _legacy_node(node)))
    outputs = {(name, 0): [t] for name, t in inputs.items()}
    is_ref = lambda v: isinstance(v, dict) and v.get("class_name") == "__keras_tensor__"  # noqa: E731

    def known(v):
        return all(tuple(x["config"]["keras_history"][:2]) in outputs for x in _refs(v, is_ref))

    def resolve(v):
        layer_name, node, index = v["config"]["keras_history"]
        return outputs[(layer_name, node)][index]

    while pending:
        ready = [p for p in pending if known(p[2])]
        if not ready:
            missing = sorted({p[0] for p in pending})
            raise ValueError(f"model_from_json: the inputs of layer(s) {missing} are never produced; the config "
                             "is inconsistent")
        for item in ready:
            pending.remove(item)
            name, k, node = item
            args = map_structure(lambda v: resolve(v) if is_ref(v) else v, node["args"], is_leaf=is_ref)
            kwargs = map_structure(lambda v: resolve(v) if is_ref(v) else v, node["kwargs"], is_leaf=is_ref)
            outputs[(name, k)] = flatten(layers[name](*args, **kwargs))

    def pick(struct):
        if _is_history(struct):
            return outputs[(struct[0], struct[1])][struct[2]]
        if isinstance(struct, dict):
            return {key: pick(v) for key, v in struct.items()}
        return [pick(s) for s in struct]

    return Functional(pick(config["input_layers"]), pick(config["output_layers"]), name=config.get("name"),
                      trainable=config.get("trainable", True))


def _is_history(v):
    return isinstance(v, list) and len(v) == 3 and isinstance(v[0], str) and isinstance(v[1], int)


def _refs(struct, is_ref):
    if is_ref(struct):
        return [struct]
    if isinstance(struct, dict):
        return [r for v in struct.values() for r in _refs(v, is_ref)]
    if isinstance(struct, (list, tuple)):
        return [r for v in struct for r in _refs(v, is_ref)]
    return []


def _legacy_node(node):
    """Keras 2 wrote nodes as ``[[layer, node, index, kwargs], ...]``; Keras 3 as ``{"args", "kwargs"}``."""
    if isinstance(node, dict):
        return node
    refs = [{"class_name": "__keras_tensor__", "config": {"keras_history": list(r[:3])}} for r in node]
    return {"args": [refs[0] if len(refs) == 1 else refs], "kwargs": node[0][3] if len(node[0]) > 3 else {}}


def model_from_keras_config(config, custom_objects=None):
    """An Ember model from a Keras 3 model config dict (as ``json.loads(keras_model.to_json())``)."""
    with saving.custom_object_scope(custom_objects):
        if config.get("class_name") == "Functional" or (
            "layers" in config.get("config", {}) and "input_layers" in config.get("config", {})
            and any("inbound_nodes" in spec for spec in config["config"]["layers"])
        ):
            return _functional_from_keras(config["config"], custom_objects)
        spec = from_keras_tree(config, custom_objects)
        spec["config"]["layers"] = [
            s if s.get("class_name") == "InputLayer" else from_keras_tree(s, custom_objects)
            for s in config["config"]["layers"]
        ]
        return saving.deserialize_keras_object(spec, custom_objects)


def model_from_json(json_string, custom_objects=None):
    """Rebuild a model (architecture only, fresh weights) from ``model.to_json()`` output, Ember's or Keras 3's.

    Custom classes resolve through ``custom_objects``, an open ``custom_object_scope`` or
    ``register_keras_serializable``.
    """
    try:
        config = json.loads(json_string)
    except json.JSONDecodeError as exc:
        raise ValueError(f"model_from_json: not valid JSON ({exc})") from None
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError("model_from_json: expected a model config with 'class_name' and 'config' keys")
    return model_from_keras_config(config, custom_objects)
