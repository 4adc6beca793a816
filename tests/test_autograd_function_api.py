"""torch's custom Function API and torch.autograd.graph: each row runs the same code on torch and on Ember."""
import pytest
from _nested import as_numpy as _np
from _nested import assert_same

import ember

torch = pytest.importorskip("torch")

_same = assert_same


def _fn_lib(lib):
    return lib.autograd.Function


# -- the functions, written once against `lib` -----------------------------------------------------------
def cube_ctx(lib):
    class Cube(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            ctx.save_for_backward(x)
            ctx.k = k
            return x ** 3 * k

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 3 * x ** 2 * ctx.k, None

    x = lib.tensor([1.0, -2.0, 0.5], dtype=lib.float64, requires_grad=True)
    y = Cube.apply(x, 2.0)
    (gx,) = lib.autograd.grad(y.sum(), x, create_graph=True)
    (ggx,) = lib.autograd.grad(gx.sum(), x)  # double backward through differentiable ops in backward
    return [y, gx, ggx]


def setup_context_style(lib):
    class Mul(lib.autograd.Function):
        @staticmethod
        def forward(x, w, scale):
            return x * w * scale

        @staticmethod
        def setup_context(ctx, inputs, output):
            x, w, scale = inputs
            ctx.save_for_backward(x, w)
            ctx.scale = scale
            ctx.seen = ctx.needs_input_grad

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return (g * w * ctx.scale if ctx.needs_input_grad[0] else None,
                    g * x * ctx.scale if ctx.needs_input_grad[1] else None, None)

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    w = lib.tensor([3.0, 4.0])
    y = Mul.apply(x, w, 0.5)
    y.sum().backward()
    return [y, x.grad, w.grad, list(Mul.apply(x, w, 1.0).grad_fn is not None for _ in [0])]


def vjp_alias(lib):
    class Double(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def vjp(ctx, g):
            return g * 2

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    Double.apply(x).sum().backward()
    return [x.grad]


def needs_input_grad(lib):
    seen = []

    class F(lib.autograd.Function):
        @staticmethod
        def forward(ctx, a, b, n):
            seen.append(ctx.needs_input_grad)
            return a + b

        @staticmethod
        def backward(ctx, g):
            return g, g, None

    a = lib.tensor([1.0], requires_grad=True)
    F.apply(a, lib.tensor([2.0]), 3)
    with lib.no_grad():
        F.apply(a, lib.tensor([2.0]), 3)
    return [list(s) for s in seen]


def mark_dirty(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    a = lib.tensor([1.0, 2.0], requires_grad=True)
    x = a * 1
    v0 = x._version
    y = AddOne.apply(x)
    same = y is x
    (y * y).sum().backward()
    return [y, a.grad, same, v0, x._version]


def non_differentiable(lib):
    got = []

    class MaxIdx(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            i = x.argmax()
            v = x.max()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(x, i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            x, i = ctx.saved_tensors
            got.append(gi)
            g = lib.zeros_like(x)
            g[i] = gv
            return g

    x = lib.tensor([1.0, 5.0, 2.0], requires_grad=True)
    v, i = MaxIdx.apply(x)
    flags = [v.requires_grad, i.requires_grad]
    v.backward()
    return [x.grad, flags, got]


def materialize(lib, on):
    got = []

    class Two(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(on)
            return x * 1, x * 2

        @staticmethod
        def backward(ctx, g1, g2):
            got.append(g2)
            return g1 if g2 is None else g1 + 2 * g2

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    a, _ = Two.apply(x)
    a.sum().backward()
    return [x.grad, got]


def non_tensor_io(lib):
    got = []

    class Scale(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k, name):
            ctx.k = k
            return x * k, k + 1, name.upper()

        @staticmethod
        def backward(ctx, g, g_int, g_str):
            got.append([g_int, g_str])
            return g * ctx.k, None, None

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y, k1, s = Scale.apply(x, 3, "ab")
    y.sum().backward()
    return [y, k1, s, x.grad, got]


def once_diff(lib):
    from importlib import import_module

    once = import_module(lib.__name__ + ".autograd.function").once_differentiable

    class Sq(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = lib.tensor([1.0, 3.0], requires_grad=True)
    (gx,) = lib.autograd.grad(Sq.apply(x).sum(), x, create_graph=True)
    y = Sq.apply(x)
    gy = lib.ones(2, requires_grad=True)
    (gx2,) = lib.autograd.grad(y, x, grad_outputs=gy, create_graph=True)  # grad outputs that need grad
    return [gx, gx.requires_grad, gx2, gx2.requires_grad]


def broadcast_grad(lib):
    class Bias(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, b):
            return x + b

        @staticmethod
        def backward(ctx, g):
            return g, g  # b's gradient has x's shape: summed down as torch does

    x = lib.ones(3, 2, requires_grad=True)
    b = lib.tensor([1.0, 2.0], requires_grad=True)
    (Bias.apply(x, b) * lib.tensor([1.0, 3.0])).sum().backward()
    return [b.grad, x.grad]


ROWS = {
    "ctx + double backward": cube_ctx,
    "setup_context": setup_context_style,
    "vjp alias": vjp_alias,
    "needs_input_grad": needs_input_grad,
    "mark_dirty": mark_dirty,
    "mark_non_differentiable": non_differentiable,
    "materialize grads on": lambda lib: materialize(lib, True),
    "materialize grads off": lambda lib: materialize(lib, False),
    "non-tensor inputs/outputs": non_tensor_io,
    "once_differentiable": once_diff,
    "broadcast grad summed": broadcast_grad,
}


@pytest.mark.parametrize("name", list(ROWS))
def test_function_matches_torch(name):
    _same(_np(ROWS[name](torch)), _np(ROWS[name](ember)))


# -- error rows: the same code raises on both, with these words in Ember's message -----------------------
def err_version(lib):
    class Keep(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * 2

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * x

    z = lib.tensor([1.0, 2.0], requires_grad=True) * 1
    out = Keep.apply(z)
    z.add_(1)
    out.sum().backward()


def _grads_fn(lib, ret):
    class Bad(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x, k):
            return x * k

        @staticmethod
        def backward(ctx, g):
            return ret(g)

    x = lib.tensor([1.0, 2.0], requires_grad=True)
    Bad.apply(x, 2).sum().backward()


def err_dirty_leaf(lib):
    class AddOne(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            x.add_(1)
            ctx.mark_dirty(x)
            return x

        @staticmethod
        def backward(ctx, g):
            return g

    AddOne.apply(lib.tensor([1.0], requires_grad=True))


def err_once_twice(lib):
    from importlib import import_module

    once = import_module(lib.__name__ + ".autograd.function").once_differentiable

    class Sq(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @once
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = lib.tensor([1.0, 3.0], requires_grad=True)
    gy = lib.ones(2, requires_grad=True)
    (gx,) = lib.autograd.grad(Sq.apply(x), x, grad_outputs=gy, create_graph=True)
    gx.sum().backward()


def err_both(lib):
    class Both(lib.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g

        @staticmethod
        def vjp(ctx, g):
            return g

    Both.apply(lib.tensor([1.0], requires_grad=True)).sum().backward()


ERRORS = {
    "saved tensor modified": (err_version, "modified by an inplace operation"),
    "too few grads": (lambda lib: _grads_fn(lib, lambda g: g), "incorrect number of gradients"),
    "grad for a non-tensor": (lambda lib: _grads_fn(lib, lambda g: (g, g)), "was not a"),
    "grad of the wrong shape": (lambda lib: _grads_fn(lib, lambda g: (g[:1], None)), "invalid gradient"),
    "mark_dirty on a leaf": (err_dirty_leaf, "leaf Variable that requires grad"),
    "once_differentiable twice": (err_once_twice, "differentiate twice"),
    "backward and vjp": (err_both, "both 'backward' and 'vjp'"),
}


@pytest.mark.parametrize("name", list(ERRORS))
def test_function_errors_as_torch(name):
    fn, words = ERRORS[name]
    with pytest.raises(RuntimeError):
        fn(torch)
    with pytest.raises(RuntimeError, match=words):
        fn(ember)
