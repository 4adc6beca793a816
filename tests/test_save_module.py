"""ember.save(model) / ember.load: whole modules stored as data (class path, attributes, tensors under their
state_dict names), rebuilt only from classes the loading program already imported, never by running code."""
import json
import struct
import sys
import types

import numpy as np
import pytest

import ember
from ember import nn, optim


class TiedLM(nn.Module):  # a user model: tied weights, plain attributes, a non-parameter tensor attribute
    def __init__(self, vocab=11, dim=6):
        super().__init__()
        self.embed = nn.Embedding(vocab, dim)
        self.rnn = nn.LSTM(dim, dim, batch_first=True)
        self.head = nn.Linear(dim, vocab)
        self.head.weight = self.embed.weight
        self.kind, self.dims, self.mask = "LSTM", (vocab, dim), ember.tril(ember.ones(3, 3))
        self.register_buffer("steps", ember.zeros((), dtype=ember.int64))

    def forward(self, x):
        return self.head(self.rnn(self.embed(x))[0])


class SideEffects(nn.Module):
    calls = []

    def __init__(self):
        super().__init__()
        SideEffects.calls.append("init")
        self.lin = nn.Linear(2, 2)

    def __setstate__(self, state):
        SideEffects.calls.append("setstate")

    def forward(self, x):
        return self.lin(x)


MODELS = [
    ("tied_lm", lambda: TiedLM(), lambda: ember.randint(0, 11, (2, 3))),
    ("cnn", lambda: nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(), nn.MaxPool2d(2),
                                  nn.Flatten(), nn.Dropout(0.5), nn.Linear(16, 3)), lambda: ember.randn(2, 1, 4, 4)),
    ("transformer", lambda: nn.Transformer(8, 2, 1, 1, 16, activation="gelu"), lambda: (ember.randn(5, 2, 8),
                                                                                         ember.randn(3, 2, 8))),
    ("gru_dict", lambda: nn.ModuleDict({"gru": nn.GRU(3, 4, 2), "out": nn.Linear(4, 1)}), None),
    ("data_parallel", lambda: nn.DataParallel(nn.Linear(3, 2)), lambda: ember.randn(4, 3)),
]


@pytest.mark.parametrize("name,make,inputs", MODELS, ids=[m[0] for m in MODELS])
def test_whole_module_round_trip(tmp_path, name, make, inputs):
    ember.manual_seed(0)
    model = make()
    model.eval()
    path = tmp_path / "model.pt"
    with open(path, "wb") as f:  # the file-object form programs use
        ember.save(model, f)
    with open(path, "rb") as f, ember.serialization.safe_globals([type(model)]):
        loaded = ember.load(f)
    assert type(loaded) is type(model) and not loaded.training and repr(loaded) == repr(model)
    sd, sd2 = model.state_dict(), loaded.state_dict()
    assert list(sd) == list(sd2) and all(np.array_equal(sd[k].numpy(), sd2[k].numpy()) for k in sd)
    assert all(isinstance(p, nn.Parameter) and p.requires_grad for p in loaded.parameters())
    if inputs is not None:
        x = inputs()
        x = x if isinstance(x, tuple) else (x,)
        np.testing.assert_array_equal(loaded(*x).detach().numpy(), model(*x).detach().numpy())
        loaded.train()
        opt = optim.SGD(loaded.parameters(), lr=0.1)
        loaded(*x).float().pow(2).mean().backward()
        opt.step()  # the loaded parameters are real leaves an optimizer can update


def test_file_keys_are_state_dict_keys_and_aliases_survive(tmp_path):
    model = TiedLM()
    ember.save(model, tmp_path / "m.pt")
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    keys = set(safetensors_numpy.load_file(str(tmp_path / "m.pt")))
    assert set(model.state_dict()) <= keys
    loaded = ember.load(tmp_path / "m.pt")
    assert loaded.head.weight is loaded.embed.weight  # still tied
    assert loaded.kind == "LSTM" and loaded.dims == (11, 6) and loaded.steps.dtype == ember.int64
    assert not isinstance(loaded.mask, nn.Parameter) and loaded.mask.shape == (3, 3)


def test_loading_runs_no_code_of_the_class(tmp_path):
    ember.save(SideEffects(), tmp_path / "s.pt")
    SideEffects.calls.clear()
    loaded = ember.load(tmp_path / "s.pt")
    assert SideEffects.calls == [] and isinstance(loaded.lin, nn.Linear)


def _rewrite_structure(path, edit):
    raw = path.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    header["__metadata__"]["ember_structure"] = edit(header["__metadata__"]["ember_structure"])
    new = json.dumps(header).encode()
    new += b" " * (-len(new) % 8)
    path.write_bytes(struct.pack("<Q", len(new)) + new + raw[8 + n:])


def test_refused_loads(tmp_path):
    mod = types.ModuleType("user_models_tmp")
    exec("from ember import nn\nclass Net(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
         "        self.fc = nn.Linear(2, 2)\n", mod.__dict__)
    sys.modules["user_models_tmp"] = mod
    try:
        ember.save(mod.Net(), tmp_path / "net.pt")
    finally:
        del sys.modules["user_models_tmp"]
    with pytest.raises(ValueError, match="(?s)'Net' from module 'user_models_tmp' is not defined.*from user_models_tmp "
                                         "import Net"):
        ember.load(tmp_path / "net.pt")
    for target, match in [('"builtins:dict"', "not an nn.Module subclass"), ('"os:system"', "not an nn.Module")]:
        p = tmp_path / "evil.pt"
        ember.save(nn.Linear(2, 2), p)
        _rewrite_structure(p, lambda s, t=target: s.replace('"ember.nn.modules.linear:Linear"', t))
        with pytest.raises(ValueError, match=match):
            ember.load(p)
    p = tmp_path / "evil_fn.pt"
    ember.save(nn.TransformerEncoderLayer(4, 2, 8), p)
    _rewrite_structure(p, lambda s: s.replace('"ember.nn.functional.activation:relu"', '"os:system"'))
    with pytest.raises(ValueError, match="only Ember's own functions"):
        ember.load(p)


def test_refused_saves_show_the_state_dict_way(tmp_path):
    hooked = nn.Linear(2, 2)
    hooked.register_forward_hook(lambda m, i, o: o)
    with pytest.raises(TypeError, match="has hooks.*state_dict"):
        ember.save(hooked, tmp_path / "h.pt")
    odd = nn.Linear(2, 2)
    odd.act = lambda v: v * 2
    with pytest.raises(TypeError, match="cannot save the function.*model.state_dict"):
        ember.save(odd, tmp_path / "l.pt")
    odd2 = nn.Linear(2, 2)
    odd2.log = open(tmp_path / "log.txt", "w")
    try:
        with pytest.raises(TypeError, match="cannot save TextIOWrapper"):
            ember.save(odd2, tmp_path / "f.pt")
    finally:
        odd2.log.close()
    assert not (tmp_path / "h.pt").exists() and not (tmp_path / "l.pt").exists()  # nothing half-written
