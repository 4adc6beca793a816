"""Pictures: keras.utils.plot_model (Graphviz's dot program) and viz.make_dot for eager results and compiled
graphs; a clear error when Graphviz is missing."""
from __future__ import annotations

import shutil

import numpy as np
import pytest

import ember
from ember import keras, nn
from ember.graph import Graph
from ember.viz import make_dot

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot program is not installed")


def _functional():
    a = keras.Input((6,), name="pixels")
    h = keras.layers.Dense(4, activation="relu", name="hidden")(a)
    out = keras.layers.Dense(2, name="logits")(keras.layers.Concatenate(name="skip")([h, a]))
    return keras.Model(a, out)


def test_model_to_dot_has_layers_shapes_and_edges():
    dot = keras.utils.model_to_dot(_functional(), show_shapes=True, show_layer_activations=True)
    src = dot.source
    for text in ["pixels", "hidden", "skip", "logits", "(None, 6)", "(None, 10)", "Activation: <b>relu</b>"]:
        assert text in src, text
    assert src.count("->") == 4  # pixels->hidden, hidden->skip, pixels->skip, skip->logits


@needs_dot
@pytest.mark.parametrize("ext, magic", [("png", b"\x89PNG"), ("svg", b"<?xml")])
def test_plot_model_writes_the_picture(tmp_path, ext, magic):
    path = tmp_path / f"model.{ext}"
    keras.utils.plot_model(_functional(), to_file=str(path), show_shapes=True, dpi=60)
    assert path.read_bytes().startswith(magic)
    if ext == "png":
        from PIL import Image

        w, h = Image.open(path).size
        assert w > 100 and h > 200  # four boxes, three levels


def test_plot_model_without_graphviz_names_it(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ImportError, match="Graphviz.*apt-get install graphviz"):
        keras.utils.plot_model(_functional(), to_file=str(tmp_path / "m.png"))


def test_plot_model_needs_a_built_model():
    with pytest.raises(ValueError, match="has not been built"):
        keras.utils.plot_model(keras.Sequential([keras.layers.Dense(2)]))


def test_make_dot_draws_eager_and_compiled_graphs():
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
    x = ember.randn(2, 3)
    eager = make_dot(model(x), params=dict(model.named_parameters())).source
    assert "0.weight" in eager and "ReluBackward" in eager.replace("ReLU", "Relu")
    compiled = ember.compile(model)
    with pytest.raises(ValueError, match="call it once"):
        make_dot(compiled)
    with ember.no_grad():
        compiled(x)
    src = make_dot(compiled).source
    assert "linear" in src and "relu" in src and "input 0" in src
    g = Graph()
    v = g.add_input((2,), "float32")
    g.outputs.append(g.add_node("exp", [v]))
    assert "exp" in make_dot(g).source


@needs_dot
def test_make_dot_renders_png(tmp_path):
    f = ember.compile(lambda a: (a * 2).sum())
    f(ember.tensor(np.ones(3, np.float32)))
    path = make_dot(f).render(str(tmp_path / "g.png"), format="png")
    assert open(path, "rb").read(4) == b"\x89PNG"
