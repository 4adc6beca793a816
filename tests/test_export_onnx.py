"""ONNX export of the graph IR (optional extra: skipped without onnx/onnxruntime)."""

import numpy as np
import pytest

import ember
from ember import nn

pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

from ember.export.onnx import export, export_session  # noqa: E402


def _run(model, x):
    sess = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return sess.run(None, {"x0": x})[0]


def test_mlp_matches_ember_and_batch_is_dynamic():
    ember.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 3)).eval()
    proto = export(model, ember.randn(2, 6), dynamic_batch=True)
    for batch in (1, 5):
        x = ember.randn(batch, 6)
        with ember.no_grad():
            want = model(x).numpy()
        np.testing.assert_allclose(_run(proto, x.numpy()), want, rtol=1e-5, atol=1e-6)


def test_elementwise_reductions_and_shapes():
    def f(x):
        y = (x.exp() - x.sigmoid() * 2).permute(1, 0).reshape(3, 4)
        return ember.where(y > 0, y, -y).sum(1, keepdim=True) + y.amax(0)

    x = ember.randn(4, 3)
    want = f(x).numpy()
    np.testing.assert_allclose(_run(export(f, x), x.numpy()), want, rtol=1e-5, atol=1e-6)


def test_layer_norm_and_softmax_map_to_onnx_ops():
    ember.manual_seed(0)
    norm = nn.LayerNorm(8).eval()
    with ember.no_grad():
        norm.weight.mul_(2.0)

    def f(x):
        return ember.softmax(norm(x), -1) + nn.functional.layer_norm(x, (3, 8), eps=1e-3)

    x = ember.randn(2, 3, 8) * 3
    proto = export(f, x)
    assert {"Softmax", "LayerNormalization"} <= {n.op_type for n in proto.graph.node}
    with ember.no_grad():
        want = f(x).numpy()
    np.testing.assert_allclose(_run(proto, x.numpy()), want, rtol=1e-5, atol=1e-6)


def test_export_session_and_unsupported_op_names_it():
    model = nn.Sequential(nn.Linear(4, 2)).eval()
    sess, feed = export_session(ember.compile(model), ember.ones(1, 4))
    with ember.no_grad():
        np.testing.assert_allclose(sess.run(None, feed)[0], model(ember.ones(1, 4)).numpy(), rtol=1e-6)
    conv = nn.Conv2d(1, 2, 3).eval()
    with pytest.raises(NotImplementedError, match="im2col"):
        export(conv, ember.randn(1, 1, 5, 5))
