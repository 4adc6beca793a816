"""keras.random on Ember's random primitives, and Keras optimizers used as ember.optim optimizers."""

import numpy as np
import pytest

import ember
from ember import keras, nn


def test_seeds_follow_keras_semantics():
    keras.utils.set_random_seed(1)
    a = keras.random.normal((3, 4)).numpy()
    keras.utils.set_random_seed(1)
    np.testing.assert_array_equal(keras.random.normal((3, 4)).numpy(), a)  # the global seed reproduces
    assert not np.array_equal(keras.random.normal((3, 4)).numpy(), a)  # ... and draws go on
    fixed = [keras.random.uniform((5,), 2.0, 3.0, seed=11).numpy() for _ in range(2)]
    np.testing.assert_array_equal(*fixed)  # an int seed: the same numbers each call
    assert ((fixed[0] >= 2.0) & (fixed[0] < 3.0)).all()
    gen = keras.random.SeedGenerator(7)
    draws = [keras.random.uniform((5,), seed=gen).numpy() for _ in range(2)]
    assert not np.array_equal(*draws) and gen.state.numpy().tolist() == [7, 2]
    ints = keras.random.randint((1000,), 3, 6, seed=gen).numpy()
    assert ints.dtype == np.int32 and set(ints.tolist()) == {3, 4, 5}
    assert sorted(keras.random.shuffle(np.arange(10)).numpy().tolist()) == list(range(10))
    with pytest.raises(ValueError, match="SeedGenerator"):
        keras.random.normal((2,), seed="x")


def test_dropout_noise_shape_and_rate_one():
    keras.utils.set_random_seed(0)
    x = np.ones((4, 3, 8), "float32")
    out = keras.random.dropout(x, 0.5, noise_shape=(None, 1, 8)).numpy()
    np.testing.assert_array_equal(out, np.repeat(out[:, :1], 3, axis=1))  # one mask value per noise entry
    assert set(np.unique(out).tolist()) <= {0.0, 2.0}
    assert not keras.layers.Dropout(1.0)(x, training=True).numpy().any()


def test_keras_optimizer_is_an_ember_optim_optimizer():
    def make():
        ember.manual_seed(0)
        model = nn.Linear(3, 2)
        opt = keras.optimizers.Adam(0.1)
        opt.build(list(model.parameters()))
        return model, opt

    x = ember.randn(8, 3)
    model, opt = make()
    assert isinstance(opt, ember.optim.Optimizer) and opt.param_groups[0]["params"][0] is model.weight
    for _ in range(2):  # the PyTorch loop: backward, step, zero_grad
        model(x).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()
    state = opt.state_dict()
    assert sorted(state["state"][0]) == ["momentum", "velocity"] and state["iterations"] == 2
    other, opt2 = make()
    opt2.load_state_dict(state)
    assert int(opt2.iterations) == 2
    velocity = opt.state[model.weight]["velocity"].numpy()
    np.testing.assert_array_equal(opt2.state[other.weight]["velocity"].numpy(), velocity)

    def train(model, opt, x):
        model(x).pow(2).mean().backward()
        opt.step()
        opt.zero_grad()

    (model_c, opt_c), (model_e, opt_e) = make(), make()
    compiled = ember.compile(train)
    for _ in range(4):  # eager step: builds nothing new, so the second call already runs the graph
        compiled(model_c, opt_c, x)
        train(model_e, opt_e, x)
    assert ember.compile.stats(compiled)["cache_hits"] == 3
    for a, b in zip(list(model_c.parameters()) + opt_c.variables, list(model_e.parameters()) + opt_e.variables):
        np.testing.assert_allclose(a.detach().numpy(), b.detach().numpy(), rtol=1e-6, atol=1e-7)


def test_categorical_draws_follow_the_softmax_of_the_logits():
    probs = np.array([[0.2, 0.5, 0.3], [0.7, 0.1, 0.2]], "float32")
    draws = keras.random.categorical(np.log(probs), 20000, seed=3).numpy()
    assert draws.shape == (2, 20000) and draws.dtype == np.int32  # Keras's (batch, num_samples), int32
    freq = np.stack([np.bincount(row, minlength=3) / 20000 for row in draws])
    np.testing.assert_allclose(freq, probs, atol=0.015)  # > 4 standard errors at n = 20000
    again = [keras.random.categorical(np.log(probs), 5, seed=3).numpy() for _ in range(2)]
    np.testing.assert_array_equal(*again)  # an int seed: the same draws on every call
    step = ember.compile(lambda logits: keras.random.categorical(logits, 4, dtype="int64"))
    keras.utils.set_random_seed(5)
    compiled = [step(ember.tensor(np.log(probs))).numpy() for _ in range(2)]
    keras.utils.set_random_seed(5)
    eager = [keras.random.categorical(np.log(probs), 4, dtype="int64").numpy() for _ in range(2)]
    np.testing.assert_array_equal(compiled, eager)  # compiled draws fresh numbers, as eager does
    with pytest.raises(ValueError, match="batch, classes"):
        keras.random.categorical(np.zeros(3, "float32"), 2)


def test_truncated_normal_stays_within_two_stddev_with_the_truncated_spread():
    import math

    x = keras.random.truncated_normal((200000,), mean=1.0, stddev=0.5, seed=2).numpy()
    assert x.dtype == np.float32 and x.min() >= 0.0 and x.max() <= 2.0
    pdf2, mass = math.exp(-2.0) / math.sqrt(2 * math.pi), math.erf(2 / math.sqrt(2))
    truncated_std = 0.5 * math.sqrt(1 - 4 * pdf2 / mass)  # the std of N(0, 1) cut at +-2, scaled
    assert abs(x.mean() - 1.0) < 0.005 and abs(x.std() - truncated_std) < 0.005
    np.testing.assert_array_equal(*[keras.random.truncated_normal((6,), seed=4).numpy() for _ in range(2)])


MOMENTS = [  # (draw, mean, variance) of each law
    ("gamma", lambda seed: keras.random.gamma((40000,), 2.5, seed=seed), 2.5, 2.5),
    ("gamma_small_alpha", lambda seed: keras.random.gamma((40000,), 0.3, seed=seed), 0.3, 0.3),
    ("beta", lambda seed: keras.random.beta((40000,), 2.0, 5.0, seed=seed), 2 / 7, 10 / (49 * 8)),
    ("binomial", lambda seed: keras.random.binomial((40000,), 12, 0.25, seed=seed), 3.0, 12 * 0.25 * 0.75),
]


@pytest.mark.parametrize("name,draw,mean,var", MOMENTS, ids=[m[0] for m in MOMENTS])
def test_parameter_draws_have_the_laws_moments(name, draw, mean, var):
    x = draw(3).numpy().astype("float64")
    assert abs(x.mean() - mean) < 5 * np.sqrt(var / x.size)  # five standard errors
    assert abs(x.var() / var - 1) < 0.05
    np.testing.assert_array_equal(draw(3).numpy(), x.astype("float32"))  # an int seed: the same numbers
    gen = keras.random.SeedGenerator(3)
    first, second = draw(gen).numpy(), draw(gen).numpy()
    assert not np.array_equal(first, second) and gen.state.numpy().tolist() == [3, 2]


def test_parameter_draws_broadcast_their_parameters_and_check_them():
    b = keras.random.binomial((3, 4), [[0.0], [5.0], [50.0]], 0.5, seed=1).numpy()
    assert b.dtype == np.float32 and (b[0] == 0).all() and (b[1] <= 5).all() and b[2].mean() > 10
    t = keras.random.beta((2, 3), np.array([0.5, 1.0, 8.0]), 1.0, dtype="float64", seed=2).numpy()
    assert t.dtype == np.float64 and ((t >= 0) & (t <= 1)).all()
    keras.utils.set_random_seed(4)
    a = keras.random.gamma((5,), 1.0).numpy()
    keras.utils.set_random_seed(4)
    np.testing.assert_array_equal(keras.random.gamma((5,), 1.0).numpy(), a)  # the global seed reproduces
    with pytest.raises(ValueError, match=r"gamma: the gamma parameters must be > 0"):
        keras.random.gamma((2,), -1.0)
    with pytest.raises(ValueError, match=r"keyed_binomial: probabilities must lie in \[0, 1\]"):
        keras.random.binomial((2,), 3, 1.5, seed=1)
    with pytest.raises(ValueError, match="counts must be whole numbers"):
        keras.random.binomial((2,), 2.5, 0.5)


def test_compiled_parameter_draws_equal_eager():
    def step(gen):
        return keras.random.gamma((4,), 2.0, seed=gen) + keras.random.binomial((4,), 6, 0.5, seed=gen)

    eager_gen, compiled_gen = keras.random.SeedGenerator(9), keras.random.SeedGenerator(9)
    compiled = ember.compile(step)
    for _ in range(3):  # the generator's state is graph state: every call draws what eager draws
        np.testing.assert_array_equal(compiled(compiled_gen).numpy(), step(eager_gen).numpy())
    assert compiled_gen.state.numpy().tolist() == eager_gen.state.numpy().tolist() == [9, 6]
