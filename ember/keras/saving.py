"""Saving: ``model.save("m.keras")`` writes a zip holding ``config.json`` (the architecture),
``model.weights.safetensors`` (every weight, plus optimizer state) and ``metadata.json``; nothing is pickled.
``load_model`` rebuilds the model from the config (custom classes must be registered or passed in
``custom_objects``) and loads the weights.

>>> import os, tempfile, numpy as np
>>> from ember import keras
>>> model = keras.Sequential([keras.layers.Dense(2, input_shape=(3,))])
>>> path = os.path.join(tempfile.mkdtemp(), "m.keras")
>>> model.save(path)
>>> restored = keras.models.load_model(path)
>>> bool(np.allclose(restored.predict(np.ones((1, 3)), verbose=0), model.predict(np.ones((1, 3)), verbose=0)))
True
"""

from __future__ import annotations

import datetime
import io
import json
import os
import zipfile

import numpy as np

from ember import serialization as S

from .layers.base import assign_weight, weight_value

_REGISTERED: dict = {}  # the global custom objects (``get_custom_objects()`` returns this very dict)
_REGISTERED_NAMES: dict = {}
_SCOPES: list = []  # dicts pushed by ``custom_object_scope``
_CONFIG, _WEIGHTS, _METADATA = "config.json", "model.weights.safetensors", "metadata.json"


# -- registry ---------------------------------------------------------------------------------------------
def register_keras_serializable(package="Custom", name=None):
    """Decorator registering a class or function as ``"package>name"`` so saved configs can refer to it."""

    def decorator(obj):
        key = f"{package}>{name or obj.__name__}"
        _REGISTERED[key] = obj
        _REGISTERED_NAMES[obj] = key
        return obj

    return decorator


def get_registered_name(obj):
    return _REGISTERED_NAMES.get(obj, getattr(obj, "__name__", type(obj).__name__))


def get_custom_objects():
    """The global dict of custom objects, keyed ``"package>Name"`` by ``register_keras_serializable`` (users
    may also add ``get_custom_objects()["Name"] = cls`` themselves); loading looks names up here.

    >>> from ember import keras
    >>> @keras.saving.register_keras_serializable(package="demo")
    ... class Twice(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> keras.saving.get_custom_objects()["demo>Twice"] is Twice
    True
    """
    return _REGISTERED


class custom_object_scope:  # noqa: N801  (Keras's name)
    """``with custom_object_scope({"MyLayer": MyLayer}):`` makes those names visible to every load inside
    the block (``load_model``, ``model_from_json``, ``deserialize_keras_object``), as Keras does.

    >>> from ember import keras
    >>> class Twice(keras.layers.Layer):
    ...     def call(self, x):
    ...         return 2 * x
    >>> with keras.saving.custom_object_scope({"Twice": Twice}):
    ...     keras.saving.get_registered_object("Twice") is Twice
    True
    """

    def __init__(self, custom_objects=None):
        self.custom_objects = dict(custom_objects or {})

    def __enter__(self):
        _SCOPES.append(self.custom_objects)
        return self

    def __exit__(self, *exc):
        for i in range(len(_SCOPES) - 1, -1, -1):  # by identity: equal dicts may be nested
            if _SCOPES[i] is self.custom_objects:
                del _SCOPES[i]
                break


CustomObjectScope = custom_object_scope


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function saved under ``name``: explicit ``custom_objects`` first, then open
    ``custom_object_scope`` blocks (innermost first), then the registered objects, then Keras built-ins."""
    for table in (custom_objects, *reversed(_SCOPES), _REGISTERED, module_objects):
        if table and name in table:
            return table[name]
    return _builtin(name)


def _builtin(name):
    from . import activations, constraints, initializers, layers, losses, metrics, models, optimizers, regularizers

    for table in (
        vars(layers),
        {"Sequential": models.Sequential, "Functional": models.Functional, "Model": models.Model},
        losses.ALL_CLASSES,
        metrics.ALL,
        optimizers.ALL,
        initializers.ALL,
        regularizers.ALL,
        constraints.ALL,
    ):
        obj = table.get(name)
        if isinstance(obj, type):
            return obj
    return losses.ALL_FUNCTIONS.get(name) or activations.ALL.get(name)


def serialize_keras_object(obj):
    """``{"module", "class_name", "config", "registered_name"}`` for a layer/loss/metric/...; a name for a
    built-in function; plain data as-is."""
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    if isinstance(obj, (list, tuple)):
        return [serialize_keras_object(o) for o in obj]
    if isinstance(obj, dict):
        return {k: serialize_keras_object(v) for k, v in obj.items()}
    if callable(obj) and not hasattr(obj, "get_config"):
        name = getattr(obj, "__name__", None)
        return {
            "module": getattr(obj, "__module__", None),
            "class_name": "function",
            "config": name,
            "registered_name": _REGISTERED_NAMES.get(obj, name),
        }
    if not hasattr(obj, "get_config"):
        raise TypeError(f"cannot serialize {obj!r}: it has no get_config()")
    cls = type(obj)
    config = obj.get_config()
    try:
        json.dumps(config)
    except TypeError as exc:
        raise TypeError(
            f"the config of {cls.__name__} is not JSON-serializable ({exc}); implement get_config() "
            "returning plain values and from_config() to rebuild the object"
        ) from None
    return {
        "module": cls.__module__,
        "class_name": cls.__name__,
        "config": config,
        "registered_name": _REGISTERED_NAMES.get(cls, cls.__name__),
    }


def _missing(name):
    short = name.split(">")[-1]
    package = name.split(">")[0] if ">" in name else "Custom"
    return TypeError(
        f"Could not locate class or function {name!r}. Register it before loading: decorate {short} with "
        f"`@keras.saving.register_keras_serializable(package={package!r})`, or pass "
        f"`custom_objects={{{name!r}: {short}}}` to the loading call, or load inside "
        f"`with keras.saving.custom_object_scope({{{name!r}: {short}}}):`."
    )


def deserialize_keras_object(config, custom_objects=None):
    """The object described by ``config`` (from :func:`serialize_keras_object`)."""
    if config is None or isinstance(config, (bool, int, float)):
        return config
    if isinstance(config, str):
        obj = get_registered_object(config, custom_objects)
        if obj is None:
            raise _missing(config)
        return obj() if isinstance(obj, type) else obj
    if not isinstance(config, dict) or "class_name" not in config:
        raise ValueError(f"not a serialized Keras object: {config!r}")
    if config["class_name"] == "function":
        name = config.get("registered_name") or config["config"]
        fn = get_registered_object(name, custom_objects) or get_registered_object(
            config["config"], custom_objects
        )
        if fn is None:
            raise _missing(name)
        return fn
    cls = None
    for key in (config.get("registered_name"), config["class_name"]):
        if key and cls is None:
            cls = get_registered_object(key, custom_objects)
    if cls is None:
        raise _missing(config.get("registered_name") or config["class_name"])
    inner = config.get("config", {})
    from .models.model import Model

    if isinstance(cls, type) and issubclass(cls, Model) and "layers" in inner:
        return cls.from_config(inner, custom_objects=custom_objects)
    return cls.from_config(inner)


# -- functional configs -----------------------------------------------------------------------------------
def functional_config(model):
    """Layers, the call graph (nodes with tensor references) and input/output references."""
    from .layers.symbolic import KerasTensor, map_structure

    refs = {id(t): ["input", i] for i, t in enumerate(model.inputs)}
    nodes = []
    for k, node in enumerate(model._nodes):
        for j, t in enumerate(node.outputs):
            refs[id(t)] = ["node", k, j]
        to_ref = lambda v: {"__tensor__": refs[id(v)]} if isinstance(v, KerasTensor) else v  # noqa: E731
        kwargs = {key: v for key, v in node.call_kwargs.items() if key != "training"}
        nodes.append(
            {
                "layer": node.layer.name,
                "args": map_structure(to_ref, list(node.call_args)),
                "kwargs": map_structure(to_ref, kwargs),
            }
        )
    outputs = model._outputs_struct
    out_refs = map_structure(
        lambda t: refs[id(t)],
        outputs if not isinstance(outputs, tuple) else list(outputs),
        is_leaf=lambda v: isinstance(v, KerasTensor),
    )
    inputs = [{"batch_shape": list(t.shape), "dtype": t.dtype, "name": t.name} for t in model.inputs]
    input_struct = list(model._inputs_struct) if isinstance(model._inputs_struct, dict) else None
    # each entry names its layer (as Keras's functional configs do): a custom get_config may leave "name" out
    layers = [{**serialize_keras_object(layer), "name": layer.name} for layer in model._layers.values()]
    return {
        "name": model.name,
        "trainable": model.trainable,
        "layers": layers,
        "nodes": nodes,
        "input_layers": inputs,
        "input_names": input_struct,
        "output_layers": out_refs,
        "single_input": not isinstance(model._inputs_struct, (list, tuple, dict)),
    }


def functional_from_config(config, custom_objects=None):
    from .layers.core import Input
    from .layers.symbolic import flatten, map_structure
    from .models.model import Functional

    inputs = [
        Input(batch_shape=tuple(s["batch_shape"]), dtype=s["dtype"], name=s.get("name"))
        for s in config["input_layers"]
    ]
    layers = {}
    for spec in config["layers"]:
        layer = deserialize_keras_object(spec, custom_objects)
        layers[spec.get("name", layer.name)] = layer
    results = []

    def resolve(v):
        if isinstance(v, dict) and "__tensor__" in v:
            ref = v["__tensor__"]
            return inputs[ref[1]] if ref[0] == "input" else flatten(results[ref[1]])[ref[2]]
        return v

    is_ref = lambda v: isinstance(v, dict) and "__tensor__" in v  # noqa: E731
    for node in config["nodes"]:
        args = map_structure(resolve, node["args"], is_leaf=is_ref)
        kwargs = map_structure(resolve, node["kwargs"], is_leaf=is_ref)
        results.append(layers[node["layer"]](*args, **kwargs))
    outputs = map_structure(
        lambda r: resolve({"__tensor__": r}),
        config["output_layers"],
        is_leaf=lambda v: isinstance(v, list) and v and isinstance(v[0], str),
    )
    if config.get("input_names"):
        model_inputs = dict(zip(config["input_names"], inputs))
    elif config.get("single_input"):
        model_inputs = inputs[0]
    else:
        model_inputs = inputs
    return Functional(model_inputs, outputs, name=config.get("name"), trainable=config.get("trainable", True))


# -- weights ------------------------------------------------------------------------------------------------
def weight_items(model):
    """``[(key, variable)]`` in a stable structural order: ``layers/<i>/.../vars/<j>``."""
    out, seen = [], set()

    def walk(layer, prefix):
        if id(layer) in seen:
            return
        seen.add(id(layer))
        for j, w in enumerate(layer._own_weights):
            out.append((f"{prefix}vars/{j}", w))
        for i, sub in enumerate(layer._layers.values()):
            walk(sub, f"{prefix}layers/{i}/")

    walk(model, "")
    return out


def _weights_dict(model, with_optimizer=False):
    arrays = {key: np.array(weight_value(w), order="C") for key, w in weight_items(model)}
    opt = getattr(model, "optimizer", None)
    if with_optimizer and opt is not None and hasattr(opt, "save_items"):
        ids = {id(w): i for i, (_, w) in enumerate(weight_items(model))}
        built = getattr(opt, "_trainable_variables", [])
        for name, arr in opt.save_items():
            idx, _, slot = name.partition("/")
            if slot:  # re-key slots by the weight's structural index (optimizer order may differ)
                name = f"{ids.get(id(built[int(idx)]), idx)}/{slot}"
            arrays[f"optimizer/{name}"] = np.array(arr, order="C")
    return arrays


def _assign_weights(model, arrays, source, skip_mismatch=False):
    items = weight_items(model)
    if not items and any(not k.startswith("optimizer/") for k in arrays):
        raise ValueError(
            f"model {model.name!r} has no weights yet; build it (call it on data or give the first "
            f"layer input_shape) before loading weights from {source!r}"
        )
    for key, w in items:
        if key not in arrays:
            if skip_mismatch:
                continue
            raise ValueError(
                f"{source!r} has no value for weight {w.path!r} (key {key!r}); it was saved from a "
                "model with a different architecture"
            )
        value = arrays[key]
        if tuple(value.shape) != tuple(w.shape):
            if skip_mismatch:
                continue
            raise ValueError(
                f"weight {w.path!r} has shape {tuple(w.shape)} but {source!r} holds shape "
                f"{tuple(value.shape)} for it"
            )
        assign_weight(w, value)
    extra = [k for k in arrays if not k.startswith("optimizer/") and k not in dict(items)]
    if extra and not skip_mismatch:
        raise ValueError(
            f"{source!r} holds {len(extra)} weight(s) the model does not have (e.g. {extra[0]!r}); "
            "it was saved from a different architecture"
        )


def _load_optimizer_state(model, arrays):
    opt = getattr(model, "optimizer", None)
    state = {k[len("optimizer/") :]: v for k, v in arrays.items() if k.startswith("optimizer/")}
    if opt is None or not state or not hasattr(opt, "load_items"):
        return
    weights = [w for _, w in weight_items(model)]
    opt.build(model.trainable_weights)
    remapped = {k: v for k, v in state.items() if "/" not in k}  # iterations, learning_rate
    structural = {id(w): j for j, w in enumerate(weights)}
    for i, var in enumerate(getattr(opt, "_trainable_variables", [])):
        for key, value in state.items():
            idx, _, slot = key.partition("/")
            if slot and idx == str(structural.get(id(var))):
                remapped[f"{i}/{slot}"] = value
    opt.load_items(remapped)


def save_weights(model, filepath):
    """Write every weight to a safetensors file (any extension; ``.weights.h5`` names are accepted)."""
    S.save_safetensors(_weights_dict(model), os.fspath(filepath), metadata={"format": "ember.keras"})


def load_weights(model, filepath, skip_mismatch=False):
    path = os.fspath(filepath)
    if path.endswith(".keras"):
        with zipfile.ZipFile(path) as zf:
            arrays = _read_safetensors(zf.read(_WEIGHTS))
    else:
        arrays = {k: t.numpy() for k, t in S.load_safetensors(path).items()}
    _assign_weights(model, arrays, path, skip_mismatch)


def _read_safetensors(raw: bytes):
    import tempfile

    with tempfile.NamedTemporaryFile(suffix=".safetensors", delete=False) as f:
        f.write(raw)
        name = f.name
    try:
        return {k: t.numpy().copy() for k, t in S.load_safetensors(name).items()}
    finally:
        os.unlink(name)


# -- whole models -----------------------------------------------------------------------------------------
def save_model(model, filepath, overwrite=True):
    """Write ``filepath`` (must end in ``.keras``) as a zip of config, weights and metadata."""
    path = os.fspath(filepath)
    if not path.endswith(".keras"):
        raise ValueError(
            f"model.save() needs a path ending in '.keras', got {path!r}; use save_weights() for a "
            "weights-only file"
        )
    if os.path.exists(path) and not overwrite:
        raise FileExistsError(f"{path!r} exists and overwrite=False")
    config = serialize_keras_object(model)
    shapes = model.__dict__.get("_build_shapes")
    if shapes is not None and "layers" not in config["config"]:  # a subclassed model: rebuilt on load
        config["build_config"] = {"input_shape": shapes}
    if getattr(model, "compiled", False):
        config["compile_config"] = _compile_config(model)
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        wpath = os.path.join(tmp, _WEIGHTS)
        S.save_safetensors(
            _weights_dict(model, with_optimizer=True), wpath, metadata={"format": "ember.keras"}
        )
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            zf.writestr(_CONFIG, json.dumps(config, indent=1))
            zf.writestr(
                _METADATA,
                json.dumps(
                    {
                        "keras_version": "3 (ember.keras)",
                        "ember_version": _version(),
                        "date_saved": datetime.datetime.now().isoformat(timespec="seconds"),
                    }
                ),
            )
            zf.write(wpath, _WEIGHTS)
    tmp_path = path + ".tmp"
    with open(tmp_path, "wb") as f:
        f.write(buf.getvalue())
    os.replace(tmp_path, path)


def _build_from_config(model, build_config):
    """Create a subclassed model's weights as Keras does: one call on zeros of the saved input shape."""
    shapes = (build_config or {}).get("input_shape")
    if shapes is None or model.weights:
        return
    import ember

    def zeros(shape):
        return np.zeros(tuple(1 if d is None else d for d in shape), "float32")

    leaf = lambda s: isinstance(s, list) and all(d is None or isinstance(d, int) for d in s)  # noqa: E731
    from .layers.symbolic import map_structure

    with ember.no_grad():
        model(map_structure(zeros, shapes, is_leaf=leaf), training=False)


def _compile_config(model):
    """Serialized compile() arguments; metric/loss objects that cannot be serialized are left out (with a
    note), so the model still loads and can be re-compiled."""
    out = {
        "optimizer": serialize_keras_object(model.optimizer)
        if hasattr(model.optimizer, "get_config")
        else None
    }
    for key, value in model._compile_args.items():
        try:
            out[key] = serialize_keras_object(value)
            json.dumps(out[key])
        except (TypeError, ValueError):
            out[key] = None
    return out


def _deserialize_tree(value, custom_objects):
    if isinstance(value, dict) and "class_name" in value:
        return deserialize_keras_object(value, custom_objects)
    if isinstance(value, dict):
        return {k: _deserialize_tree(v, custom_objects) for k, v in value.items()}
    if isinstance(value, list):
        return [_deserialize_tree(v, custom_objects) for v in value]
    return value


def _version():
    import ember

    return ember.__version__


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild a model saved with ``model.save(...)`` (architecture, weights, compile settings, optimizer)."""
    with custom_object_scope(custom_objects):  # nested configs (initializers, ...) see them too
        return _load_model(filepath, custom_objects, compile)


def _load_model(filepath, custom_objects, compile):
    path = os.fspath(filepath)
    if not zipfile.is_zipfile(path):
        raise ValueError(f"{path!r} is not a .keras archive (a zip with config.json and model weights)")
    with zipfile.ZipFile(path) as zf:
        config = json.loads(zf.read(_CONFIG))
        arrays = _read_safetensors(zf.read(_WEIGHTS))
    model = deserialize_keras_object(
        {k: v for k, v in config.items() if k not in ("compile_config", "optimizer", "build_config")},
        custom_objects,
    )
    _build_from_config(model, config.get("build_config"))
    _assign_weights(model, arrays, path)
    cc = config.get("compile_config")
    if compile and cc is not None:
        try:
            objects = _deserialize_tree(cc, custom_objects)
        except TypeError as exc:
            import warnings

            warnings.warn(f"load_model: the model was loaded but not compiled: {exc}", stacklevel=2)
            return model
        model.compile(**{k: v for k, v in objects.items() if v is not None})
        _load_optimizer_state(model, arrays)
    return model


__all__ = [
    "register_keras_serializable",
    "serialize_keras_object",
    "deserialize_keras_object",
    "load_model",
    "save_model",
    "get_registered_object",
    "get_registered_name",
    "get_custom_objects",
    "custom_object_scope",
    "CustomObjectScope",
]
