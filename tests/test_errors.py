"""Bad inputs: each row is the input, the error type, and words the message must contain (the op, the shapes,
the fix). Where the core adds the user's source line ("at <file>:<line>: <code>"), the row checks it points
at this file, at the line that made the bad call."""

from __future__ import annotations

import os

import pytest

import ember
from ember.dtypes import float32
from ember.ops import Aval
from ember.ops._rules import elementwise

HERE = os.path.basename(__file__)


def _ones(*shape, **kw):
    return ember.ones(*shape, **kw)


def _iadd_float_into_int():
    x = ember.ones(2, dtype=ember.int64)
    x += 1.5


def _leaf_inplace():
    x = ember.ones(2, requires_grad=True)
    x.mul_(2)


def _backward_nonscalar():
    (ember.ones(3, requires_grad=True) * 2).backward()


def _backward_bad_gradient_shape():
    (ember.ones(3, requires_grad=True) * 2).backward(gradient=ember.ones(2))


def _set_wrong_shape():
    x = ember.ones(2, 3)
    x[0] = ember.ones(4)


# (id, call, error type, words the message must contain, whether the message carries this file's line;
#  None: an internal rule called directly, so neither the line nor the user-error mark is added yet)
CASES = [
    # shape mismatches, one per family
    (
        "add_broadcast",
        lambda: _ones(2, 3) + _ones(4),
        ValueError,
        ["add", "(2, 3)", "(4,)", "broadcast"],
        True,
    ),
    ("mul_broadcast", lambda: _ones(5, 1, 3) * _ones(2, 4), ValueError, ["mul", "(5, 1, 3)", "(2, 4)"], True),
    (
        "where_broadcast",
        lambda: ember.where(_ones(2).bool(), _ones(3), _ones(2)),
        ValueError,
        ["where", "(3,)", "(2,)"],
        True,
    ),
    (
        "matmul_inner",
        lambda: ember.randn(64, 784) @ ember.randn(10, 784),
        RuntimeError,
        ["matmul", "(64, 784)", "(10, 784)", "784", "10", "b.T"],
        True,
    ),
    (
        "matmul_0d",
        lambda: ember.matmul(_ones(()), _ones(2)),
        RuntimeError,
        ["matmul", "at least 1 dim"],
        True,
    ),
    (
        "mm_not_2d",
        lambda: ember.mm(_ones(2, 3, 4), _ones(4, 2)),
        RuntimeError,
        ["mm", "2-D", "(2, 3, 4)"],
        True,
    ),
    (
        "bmm_batch",
        lambda: ember.bmm(_ones(2, 3, 4), _ones(3, 4, 5)),
        RuntimeError,
        ["bmm", "(2, 3, 4)", "(3, 4, 5)"],
        True,
    ),
    (
        "cat_sizes",
        lambda: ember.cat([_ones(2, 3), _ones(2, 4)], 0),
        RuntimeError,
        ["cat", "(2, 3)", "(2, 4)"],
        True,
    ),
    (
        "stack_sizes",
        lambda: ember.stack([_ones(2, 3), _ones(3, 2)]),
        RuntimeError,
        ["stack", "(2, 3)", "(3, 2)"],
        True,
    ),
    ("reshape_numel", lambda: _ones(2, 3).reshape(4, 2), RuntimeError, ["reshape", "(4, 2)", "(2, 3)"], True),
    (
        "reshape_two_inferred",
        lambda: _ones(2, 3).reshape(-1, -1),
        RuntimeError,
        ["reshape", "one dimension"],
        True,
    ),
    (
        "view_noncontiguous",
        lambda: _ones(2, 3).t().view(6),
        RuntimeError,
        ["view", "stride", ".reshape("],
        True,
    ),
    ("expand_size", lambda: _ones(2, 3).expand(4, 3), RuntimeError, ["expand", "(4, 3)", "2"], True),
    ("expand_fewer_dims", lambda: _ones(2, 3).expand(3), RuntimeError, ["expand", "(2, 3)"], True),
    ("setitem_shape", _set_wrong_shape, (ValueError, RuntimeError), ["(4,)", "(2, 3)"], True),
    (
        "einsum_operands",
        lambda: ember.einsum("ij,jk->ik", _ones(2, 3)),
        ValueError,
        ["einsum", "2 operands"],
        False,
    ),
    (
        "einsum_sizes",
        lambda: ember.einsum("ij,jk->ik", _ones(2, 3), _ones(4, 5)),
        ValueError,
        ["einsum", "'j'"],
        True,
    ),
    ("split_sections", lambda: _ones(5, 2).split([2, 2]), RuntimeError, ["split", "[2, 2]", "5"], True),
    # bad dims
    ("sum_dim", lambda: _ones(2, 3).sum(2), IndexError, ["sum", "dim 2", "(2, 3)", "[-2, 1]"], True),
    ("mean_dim", lambda: _ones(2, 3).mean(-3), IndexError, ["mean", "-3", "(2, 3)"], True),
    ("softmax_dim", lambda: _ones(2, 3).softmax(5), IndexError, ["softmax", "5", "(2, 3)"], True),
    ("argmax_dim", lambda: _ones(2, 3).argmax(4), IndexError, ["argmax", "4"], True),
    ("transpose_dim", lambda: _ones(2, 3).transpose(0, 2), IndexError, ["transpose", "2", "(2, 3)"], True),
    ("unsqueeze_dim", lambda: _ones(2, 3).unsqueeze(4), IndexError, ["unsqueeze", "4", "(2, 3)"], True),
    ("permute_dims", lambda: _ones(2, 3).permute(0, 0), RuntimeError, ["permute", "(0, 0)", "(2, 3)"], True),
    ("cat_dim", lambda: ember.cat([_ones(2), _ones(2)], 1), IndexError, ["cat", "dim 1"], True),
    ("t_3d", lambda: _ones(2, 3, 4).t(), RuntimeError, ["t()", "(2, 3, 4)", "mT"], True),
    # bad indices
    ("index_range", lambda: _ones(2, 3)[5], IndexError, ["index 5", "size 2", "(2, 3)"], True),
    ("too_many_indices", lambda: _ones(2)[0, 0], IndexError, ["too many indices", "(2,)"], True),
    (
        "float_index_tensor",
        lambda: _ones(3)[ember.tensor([0.5])],
        IndexError,
        ["integer or bool", "float32"],
        True,
    ),
    ("float_index_list", lambda: _ones(3)[[0.5, 1.0]], IndexError, ["long, int or bool"], True),
    (
        "gather_float_index",
        lambda: _ones(2, 3).gather(1, _ones(2, 3)),
        RuntimeError,
        ["gather", "long()"],
        True,
    ),
    (
        "gather_range",
        lambda: _ones(2, 3).gather(1, ember.tensor([[0, 7]])),
        IndexError,
        ["gather", "7", "size 3"],
        True,
    ),
    ("narrow_range", lambda: _ones(4).narrow(0, 2, 5), IndexError, ["narrow", "5", "size (4)"], True),
    ("topk_k", lambda: _ones(3).topk(4), RuntimeError, ["topk", "4", "size 3"], True),
    # dtypes
    (
        "int_requires_grad",
        lambda: _ones(2, dtype=ember.int64, requires_grad=True),
        RuntimeError,
        ["floating-point", "int64", ".float()"],
        True,
    ),
    ("int_iadd_float", _iadd_float_into_int, RuntimeError, ["add_", "float", "int64", "out-of-place"], True),
    (
        "matmul_int_float",
        lambda: _ones(2, 2, dtype=ember.int64) @ _ones(2, 2),
        RuntimeError,
        ["matmul", "int64", "float32", "same dtype"],
        True,
    ),
    (
        "mean_int",
        lambda: _ones(2, dtype=ember.int64).mean(),
        RuntimeError,
        ["mean", "int64", ".float()"],
        True,
    ),
    (
        "masked_fill_mask",
        lambda: _ones(2).masked_fill(_ones(2), 0.0),
        RuntimeError,
        ["masked_fill", "bool"],
        True,
    ),
    ("int_negative_pow", lambda: _ones(2, dtype=ember.int64) ** -1, ValueError, ["pow", "negative"], False),
    ("ragged_list", lambda: ember.tensor([[1, 2], [3]]), TypeError, ["tensor"], True),
    ("bitwise_on_float", lambda: _ones(2) & _ones(2), TypeError, ["bool tensors", "(x > 0)"], False),
    # devices
    ("device_name", lambda: ember.device("tpu"), ValueError, ["'cpu' or 'cuda'", "'tpu'"], False),
    (
        "device_mismatch_rule",
        lambda: elementwise("add", Aval((2,), float32, "cpu"), Aval((2,), float32, "cuda:0")),
        RuntimeError,
        ["add", "cpu", "cuda:0", ".to(device)"],
        None,
    ),  # the rule diagnose() runs
    # autograd and conversions
    ("backward_nonscalar", _backward_nonscalar, RuntimeError, ["scalar", "(3,)", "gradient="], True),
    ("backward_gradient_shape", _backward_bad_gradient_shape, RuntimeError, ["(2,)", "(3,)"], True),
    ("backward_no_grad", lambda: _ones(2).sum().backward(), RuntimeError, ["does not require grad"], True),
    (
        "grad_input_no_grad",
        lambda: ember.autograd.grad((_ones(1, requires_grad=True) * 2).sum(), _ones(1)),
        RuntimeError,
        ["input 0", "requires_grad=True"],
        True,
    ),
    ("leaf_inplace", _leaf_inplace, RuntimeError, ["leaf", "mul_", "no_grad"], True),
    ("item_many", lambda: _ones(2, 3).item(), RuntimeError, ["item()", "6 elements", "(2, 3)"], True),
    ("bool_ambiguous", lambda: bool(_ones(3)), RuntimeError, ["ambiguous", ".any()", ".all()"], True),
    (
        "numpy_requires_grad",
        lambda: _ones(2, requires_grad=True).numpy(),
        RuntimeError,
        ["detach().numpy()"],
        True,
    ),
    ("randint_no_size", lambda: ember.randint(0, 5), TypeError, ["randint", "size"], True),
]


def test_enough_cases():
    assert len(CASES) >= 30


@pytest.mark.parametrize("call,exc,words,has_line", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input(call, exc, words, has_line):
    with pytest.raises(exc) as info:
        call()
    msg = str(info.value)
    missing = [w for w in words if w not in msg]
    assert not missing, f"message lacks {missing}: {msg}"
    if has_line is None:
        return
    if has_line:
        assert f"at {HERE}:" in msg or f"at tests/{HERE}:" in msg or f"{os.sep}{HERE}:" in msg, (
            f"message does not carry the user's line: {msg}"
        )
    assert getattr(info.value, "_ember_user_error", False), "not marked as a user error (traceback trimming)"
