"""The newer nn layers and functions against PyTorch, one row each: the same outputs and input gradients for
the same inputs and arguments (float64), and finite-difference gradient checks of the functions; their
argument errors name the function."""
from __future__ import annotations

import numpy as np
import pytest

import ember
import ember.nn.functional as EF
from ember.testing import gradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

RNG = np.random.default_rng(0)
X, Y, Z = (RNG.standard_normal((4, 5)) for _ in range(3))
SIGNS = np.sign(RNG.standard_normal((4, 5)))
LABELS = np.array([0, 3, 4, 1])
BITS = (RNG.random((4, 5)) > 0.5).astype(float)
IMG = RNG.standard_normal((2, 4, 3, 3))
COLUMNS = RNG.standard_normal((2, 4, 4))  # (N, C * 2 * 2, L): one channel, four 2x2 blocks of a 3x3 image

ROWS = {  # name -> (build(lib, nn, F) -> callable of the float64 tensors, arrays; the first gets a gradient)
    "Hardshrink": (lambda L, nn, F: nn.Hardshrink(0.6), (X,)),
    "Softshrink": (lambda L, nn, F: nn.Softshrink(0.6), (X,)),
    "RReLU_eval": (lambda L, nn, F: nn.RReLU(0.1, 0.3).eval(), (X,)),
    "Softmax2d": (lambda L, nn, F: nn.Softmax2d(), (IMG,)),
    "LocalResponseNorm": (lambda L, nn, F: nn.LocalResponseNorm(3, alpha=0.1, beta=0.6, k=1.5), (IMG,)),
    "LocalResponseNorm_3d": (lambda L, nn, F: nn.LocalResponseNorm(2), (X.reshape(1, 4, 5),)),
    "PairwiseDistance": (lambda L, nn, F: nn.PairwiseDistance(p=3.0, keepdim=True), (X, Y)),
    "CosineSimilarity": (lambda L, nn, F: nn.CosineSimilarity(dim=0), (X, Y)),
    "Unfold": (lambda L, nn, F: nn.Unfold(kernel_size=2, padding=1, stride=2), (IMG,)),
    "Fold": (lambda L, nn, F: nn.Fold(output_size=(3, 3), kernel_size=2), (COLUMNS,)),
    "TripletMarginLoss": (lambda L, nn, F: nn.TripletMarginLoss(margin=2.0), (X, Y, Z)),
    "TripletMarginLoss_swap_p1": (lambda L, nn, F: nn.TripletMarginLoss(2.0, p=1.0, swap=True, reduction="none"),
                                  (X, Y, Z)),
    "TripletMarginWithDistanceLoss": (lambda L, nn, F: nn.TripletMarginWithDistanceLoss(
        distance_function=lambda a, b: 1.0 - F.cosine_similarity(a, b), margin=0.5), (X, Y, Z)),
    "HingeEmbeddingLoss": (lambda L, nn, F: nn.HingeEmbeddingLoss(margin=0.5), (X, SIGNS)),
    "MultiMarginLoss": (lambda L, nn, F: nn.MultiMarginLoss(), (X, LABELS)),
    "MultiMarginLoss_p2_weight": (lambda L, nn, F: nn.MultiMarginLoss(p=2, margin=0.5, weight=L.tensor(
        np.abs(Y[0])), reduction="sum"), (X, LABELS)),
    "MultiLabelSoftMarginLoss": (lambda L, nn, F: nn.MultiLabelSoftMarginLoss(), (X, BITS)),
    "GaussianNLLLoss": (lambda L, nn, F: nn.GaussianNLLLoss(), (X, Y, np.abs(Z) + 0.1)),
    "GaussianNLLLoss_full_per_sample": (lambda L, nn, F: nn.GaussianNLLLoss(full=True, reduction="sum"),
                                        (X, Y, np.abs(Z[:, 0]) + 0.1)),
    "LPPool2d": (lambda L, nn, F: nn.LPPool2d(2, 2), (IMG,)),
    "LPPool2d_p3_stride": (lambda L, nn, F: nn.LPPool2d(3, (2, 3), stride=1), (np.abs(IMG),)),
    "LPPool1d_p1": (lambda L, nn, F: nn.LPPool1d(1, 2, stride=1), (X.reshape(1, 4, 5),)),
    "pdist": (lambda L, nn, F: F.pdist, (X,)),
    "pdist_p1": (lambda L, nn, F: lambda x: F.pdist(x, 1.0), (X,)),
    "rrelu_eval": (lambda L, nn, F: F.rrelu, (X,)),
}


def _run(lib, name):
    build, arrays = ROWS[name]
    fn = build(lib, lib.nn, EF if lib is ember else TF)
    args = [lib.tensor(a.copy(), requires_grad=(i == 0)) if a.dtype.kind == "f" else lib.tensor(a.copy())
            for i, a in enumerate(arrays)]
    out = fn(*args)
    out.sum().backward()
    return out.detach().numpy(), args[0].grad.numpy()


@pytest.mark.parametrize("name", ROWS)
def test_layer_matches_torch(name):
    (out, grad), (t_out, t_grad) = _run(ember, name), _run(torch, name)
    np.testing.assert_allclose(out, t_out, rtol=1e-10, atol=1e-12, err_msg=name)
    np.testing.assert_allclose(grad, t_grad, rtol=1e-10, atol=1e-12, err_msg=f"{name} gradient")


CHECKED = {  # functions whose gradients are checked against finite differences (away from kinks)
    "local_response_norm": lambda x: EF.local_response_norm(x.reshape(1, 4, 5), 3, alpha=0.2),
    "pdist": EF.pdist,
    "triplet_margin_loss": lambda x: EF.triplet_margin_loss(x, x * 0.5 + 1, -x, margin=3.0),
    "multilabel_soft_margin_loss": lambda x: EF.multilabel_soft_margin_loss(x, ember.tensor(BITS)),
    "gaussian_nll_loss": lambda x: EF.gaussian_nll_loss(ember.tensor(Y), ember.tensor(Z), x * x + 0.5),
}


@pytest.mark.parametrize("name", CHECKED)
def test_gradients_match_finite_differences(name):
    x = ember.tensor(X.copy(), requires_grad=True)
    assert gradcheck(CHECKED[name], (x,))


def test_in_place_forms_overwrite_their_input_like_torch():
    for name in ("elu_", "selu_", "celu_", "leaky_relu_", "hardtanh_", "rrelu_"):
        ours, theirs = ember.tensor(X.copy()), torch.tensor(X.copy())
        assert getattr(EF, name)(ours) is ours
        getattr(TF, name)(theirs)
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-12, err_msg=name)


def test_rrelu_samples_slopes_in_its_range_while_training():
    out = EF.rrelu(-ember.ones(20000), 0.2, 0.4, training=True).numpy()
    assert 0.2 <= -out.max() and -out.min() <= 0.4 and abs(-out.mean() - 0.3) < 0.005


def test_bad_arguments_name_the_function():
    with pytest.raises(ValueError, match="gaussian_nll_loss: var has negative"):
        EF.gaussian_nll_loss(ember.tensor(X), ember.tensor(Y), ember.tensor(-np.abs(Z)))
    with pytest.raises(ValueError, match="gaussian_nll_loss: var of shape"):
        EF.gaussian_nll_loss(ember.tensor(X), ember.tensor(Y), ember.ones(3))
    with pytest.raises(ValueError, match="multi_margin_loss: only p = 1 and p = 2"):
        EF.multi_margin_loss(ember.tensor(X), ember.tensor(LABELS), p=3)
    with pytest.raises(RuntimeError, match="pdist: expected a 2-D tensor"):
        EF.pdist(ember.ones(2, 2, 2))
    with pytest.raises(ValueError, match="margin must be greater than 0"):
        EF.triplet_margin_loss(ember.tensor(X), ember.tensor(Y), ember.tensor(Z), margin=0.0)


def test_gumbel_softmax_samples_the_softmax_and_passes_the_soft_gradient():
    ember.manual_seed(0)
    logits = ember.tensor([0.0, 1.0, 2.0, 3.0]).expand(20000, 4)
    hard = EF.gumbel_softmax(logits, tau=0.7, hard=True)
    assert ((hard == 0) | (hard == 1)).all() and (hard.sum(-1) == 1).all()
    np.testing.assert_allclose(hard.mean(0).numpy(), EF.softmax(logits[0], 0).numpy(), atol=0.015)
    x = ember.tensor([[0.5, -1.0, 2.0]], requires_grad=True)
    weights = ember.tensor([[1.0, 2.0, 3.0]])
    ember.manual_seed(1)
    (EF.gumbel_softmax(x, hard=True) * weights).sum().backward()
    straight_through = x.grad.numpy().copy()
    x.grad = None
    ember.manual_seed(1)
    (EF.gumbel_softmax(x) * weights).sum().backward()
    np.testing.assert_allclose(straight_through, x.grad.numpy(), rtol=1e-6)


SAMPLING = [(mode, padding, corners) for mode in ("bilinear", "nearest") for padding in ("zeros", "border",
                                                                                        "reflection")
            for corners in (False, True)]


@pytest.mark.parametrize("mode,padding,corners", SAMPLING)
def test_affine_grid_and_grid_sample_match_torch(mode, padding, corners):
    """Outputs and the gradients for the image and for the grid (points outside included), float64."""
    rng = np.random.default_rng(1)
    image, theta = rng.standard_normal((2, 3, 5, 6)), rng.standard_normal((2, 2, 3)) * 0.6
    grid = rng.uniform(-1.3, 1.3, (2, 4, 7, 2))
    weights = rng.standard_normal((2, 3, 4, 7))
    results = []
    for lib, F in ((ember, EF), (torch, TF)):
        img, pts = lib.tensor(image, requires_grad=True), lib.tensor(grid, requires_grad=True)
        out = F.grid_sample(img, pts, mode, padding, corners)
        (out * lib.tensor(weights)).sum().backward()
        affine = F.affine_grid(lib.tensor(theta), (2, 3, 4, 7), align_corners=corners)
        # nearest sampling: the grid's gradient is zero (PyTorch fills zeros; Ember's graph leaves it None)
        grid_grad = np.zeros_like(grid) if pts.grad is None else pts.grad.numpy()
        results.append((out.detach().numpy(), img.grad.numpy(), grid_grad, affine.numpy()))
    for got, want, what in zip(results[0], results[1], ("output", "image gradient", "grid gradient", "affine")):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12, err_msg=what)


def test_sampling_refuses_what_it_does_not_do():
    with pytest.raises(ValueError, match="bicubic is not supported"):
        EF.grid_sample(ember.ones(1, 1, 2, 2), ember.zeros(1, 1, 1, 2), mode="bicubic")
    with pytest.raises(NotImplementedError, match="volumetric"):
        EF.grid_sample(ember.ones(1, 1, 2, 2, 2), ember.zeros(1, 1, 1, 1, 3))


CTC = {  # name -> (targets form, input lengths, target lengths, reduction, zero_infinity)
    "padded_mean": ("padded", [12, 10, 12, 3], [4, 3, 0, 3], "mean", False),
    "padded_none": ("padded", [12, 10, 12, 3], [4, 3, 0, 3], "none", False),
    "concatenated_sum": ("concatenated", [12, 10, 12, 3], [4, 3, 0, 3], "sum", False),
    "infeasible": ("padded", [12, 2, 12, 12], [4, 3, 1, 2], "none", False),  # 2 frames for 3 labels: inf
    "infeasible_zeroed": ("padded", [12, 2, 12, 12], [4, 3, 1, 2], "mean", True),
}


@pytest.mark.parametrize("case", CTC)
def test_ctc_loss_matches_torch(case):
    form, input_lengths, target_lengths, reduction, zero_infinity = CTC[case]
    rng = np.random.default_rng(2)
    frames = rng.standard_normal((12, 4, 5))
    padded = rng.integers(1, 5, (4, 4))
    padded[1, 1] = padded[1, 0]  # a repeated label: the path must pass a blank between them
    flat = np.concatenate([padded[i, :k] for i, k in enumerate(target_lengths)])
    results = []
    for lib in (ember, torch):
        x = lib.tensor(frames, requires_grad=True)
        loss = lib.nn.CTCLoss(reduction=reduction, zero_infinity=zero_infinity)(
            x.log_softmax(2), lib.tensor(padded if form == "padded" else flat), lib.tensor(input_lengths),
            lib.tensor(target_lengths))
        if np.isfinite(loss.detach().numpy()).all():
            loss.sum().backward()
        results.append((loss.detach().numpy(), None if x.grad is None else x.grad.numpy()))
    np.testing.assert_allclose(results[0][0], results[1][0], rtol=1e-10)
    if results[1][1] is not None:
        np.testing.assert_allclose(results[0][1], results[1][1], rtol=1e-9, atol=1e-12)
