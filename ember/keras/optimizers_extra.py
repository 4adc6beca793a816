"""The rest of Keras 3's optimizers: Adamax, Nadam and Adadelta over ``ember.optim``'s kernels (with the option
that gives Keras's math), and Lion, Lamb, Ftrl and Adafactor (Keras-only rules, no PyTorch counterpart in
``ember.optim``) written as Ember tensor ops; all with Keras's defaults, slot names and configs.

>>> import ember
>>> from ember.keras import optimizers
>>> w = ember.tensor([1.0, -2.0], requires_grad=True)
>>> optimizers.Lion(learning_rate=0.1).apply([ember.tensor([0.5, -0.5])], [w])
>>> w.detach().numpy().tolist()
[0.8999999761581421, -1.899999976158142]
"""

from __future__ import annotations

import ember
from ember import functional as F
from ember.optim.adamax import adamax_kernel, nadam_kernel
from ember.optim.rmsprop import adadelta_kernel

from .layers.variable import Variable
from .optimizers import MATH, Optimizer


class Adamax(Optimizer):
    """Keras's Adamax: ``u = max(beta_2 * u, |g|)``, ``w -= lr * m / ((1 - beta_1^t) * (u + epsilon))``:
    ``ember.optim``'s Adamax kernel with ``eps_outside_max``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._slots = (("momentum", 0.0), ("norm", 0.0))

    def update_step(self, gradient, variable, learning_rate):
        m, u = self._slot(variable, "momentum"), self._slot(variable, "norm")
        new, m2, u2 = adamax_kernel(MATH, variable, gradient, m, u, step=self._local_step(variable),
                                    lr=learning_rate.to(variable.dtype), betas=(self.beta_1, self.beta_2),
                                    eps=self.epsilon, weight_decay=0.0, maximize=False, eps_outside_max=True)
        self.assign(m, m2)
        self.assign(u, u2)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Nadam(Optimizer):
    """Keras's Nadam: ``ember.optim``'s NAdam kernel with ``momentum_decay=1`` (``mu_t = beta_1 * (1 - 0.5 *
    0.96^t)``) and one momentum-product variable shared by all weights, as Keras keeps it."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._slots = (("momentum", 0.0), ("velocity", 0.0))
        self._u_product = Variable(1.0, name="u_product", trainable=False, dtype="float32")
        self._u_next = None

    def apply(self, grads, trainable_variables=None):
        self._u_next = None
        super().apply(grads, trainable_variables)
        if self._u_next is not None:
            self.assign(self._u_product, self._u_next)

    def update_step(self, gradient, variable, learning_rate):
        m, v = self._slot(variable, "momentum"), self._slot(variable, "velocity")
        new, m2, v2, u2 = nadam_kernel(
            MATH, variable, gradient, m, v, self._u_product.to(variable.dtype), step=self._local_step(variable),
            lr=learning_rate.to(variable.dtype), betas=(self.beta_1, self.beta_2), eps=self.epsilon,
            weight_decay=0.0, momentum_decay=1.0, decoupled_weight_decay=False, maximize=False)
        self.assign(m, m2)
        self.assign(v, v2)
        self.assign(variable, new)
        self._u_next = u2

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Adadelta(Optimizer):
    """Keras's Adadelta (``rho=0.95``, ``epsilon=1e-7``, ``learning_rate=0.001``): ``ember.optim``'s Adadelta
    kernel, whose math (epsilon inside both square roots) is Keras's."""

    def __init__(self, learning_rate=0.001, rho=0.95, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.rho, self.epsilon = rho, epsilon
        self._slots = (("accumulated_grad", 0.0), ("accumulated_delta_var", 0.0))

    def update_step(self, gradient, variable, learning_rate):
        acc_g, acc_d = self._slot(variable, "accumulated_grad"), self._slot(variable, "accumulated_delta_var")
        new, g2, d2 = adadelta_kernel(MATH, variable, gradient, acc_g, acc_d, step=None,
                                      lr=learning_rate.to(variable.dtype), rho=self.rho, eps=self.epsilon,
                                      weight_decay=0.0, maximize=False)
        self.assign(acc_g, g2)
        self.assign(acc_d, d2)
        self.assign(variable, new)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class Lion(Optimizer):
    """Lion: ``w -= lr * sign(beta_1 * m + (1 - beta_1) * g)``, then ``m = beta_2 * m + (1 - beta_2) * g``."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.99, **kwargs):
        super().__init__(learning_rate, **kwargs)
        if not 0 < beta_1 <= 1:
            raise ValueError(f"Lion: beta_1 must be in (0, 1], got beta_1={beta_1}")
        self.beta_1, self.beta_2 = beta_1, beta_2
        self._slots = (("momentum", 0.0),)

    def update_step(self, gradient, variable, learning_rate):
        m = self._slot(variable, "momentum")
        lr = learning_rate.to(variable.dtype)
        self.assign(variable, variable - lr * F.sign(m * self.beta_1 + gradient * (1.0 - self.beta_1)))
        self.assign(m, m * self.beta_2 + gradient * (1.0 - self.beta_2))

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2}


class Lamb(Optimizer):
    """LAMB: the bias-corrected Adam direction ``r = m_hat / (sqrt(v_hat) + epsilon)`` scaled by the trust
    ratio ``||w|| / ||r||`` (1 when either norm is 0)."""

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self._slots = (("momentum", 0.0), ("velocity", 0.0))

    def update_step(self, gradient, variable, learning_rate):
        m, v = self._slot(variable, "momentum"), self._slot(variable, "velocity")
        t = self._local_step(variable)
        m2 = m + (gradient - m) * (1.0 - self.beta_1)
        v2 = v + (gradient * gradient - v) * (1.0 - self.beta_2)
        update = (m2 / (1.0 - self.beta_1 ** t)) / (F.sqrt(v2 / (1.0 - self.beta_2 ** t)) + self.epsilon)
        w_norm, u_norm = F.sqrt((variable * variable).sum()), F.sqrt((update * update).sum())
        one = ember.ones_like(w_norm)
        ratio = F.where(w_norm > 0, F.where(u_norm > 0, w_norm / F.where(u_norm > 0, u_norm, one), one), one)
        self.assign(m, m2)
        self.assign(v, v2)
        self.assign(variable, variable - ratio * learning_rate.to(variable.dtype) * update)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}


class Ftrl(Optimizer):
    """FTRL-Proximal (McMahan et al., 2013) with L1, L2 and L2-shrinkage regularization, as Keras defines it."""

    def __init__(self, learning_rate=0.001, learning_rate_power=-0.5, initial_accumulator_value=0.1,
                 l1_regularization_strength=0.0, l2_regularization_strength=0.0,
                 l2_shrinkage_regularization_strength=0.0, beta=0.0, **kwargs):
        super().__init__(learning_rate, **kwargs)
        values = {"initial_accumulator_value": initial_accumulator_value,
                  "l1_regularization_strength": l1_regularization_strength,
                  "l2_regularization_strength": l2_regularization_strength,
                  "l2_shrinkage_regularization_strength": l2_shrinkage_regularization_strength}
        for name, value in values.items():
            if value < 0:
                raise ValueError(f"Ftrl: {name} must be >= 0, got {name}={value}")
        if learning_rate_power > 0:
            raise ValueError(f"Ftrl: learning_rate_power must be <= 0, got learning_rate_power={learning_rate_power}")
        self.learning_rate_power, self.initial_accumulator_value = learning_rate_power, initial_accumulator_value
        self.l1_regularization_strength = l1_regularization_strength
        self.l2_regularization_strength = l2_regularization_strength
        self.l2_shrinkage_regularization_strength = l2_shrinkage_regularization_strength
        self.beta = beta
        self._slots = (("accumulator", float(initial_accumulator_value)), ("linear", 0.0))

    def update_step(self, gradient, variable, learning_rate):
        acc, linear = self._slot(variable, "accumulator"), self._slot(variable, "linear")
        lr = learning_rate.to(variable.dtype)
        power = -self.learning_rate_power
        l2 = self.l2_regularization_strength + self.beta / (2.0 * lr)
        g_shrunk = gradient + 2.0 * self.l2_shrinkage_regularization_strength * variable
        new_acc = acc + gradient * gradient
        self.assign(linear, linear + g_shrunk - (F.pow(new_acc, power) - F.pow(acc, power)) / lr * variable)
        quadratic = F.pow(new_acc, power) / lr + 2.0 * l2
        l1 = self.l1_regularization_strength
        self.assign(variable, (F.clamp(linear, -l1, l1) - linear) / quadratic)
        self.assign(acc, new_acc)

    def get_config(self):
        return {**super().get_config(), "learning_rate_power": self.learning_rate_power,
                "initial_accumulator_value": self.initial_accumulator_value,
                "l1_regularization_strength": self.l1_regularization_strength,
                "l2_regularization_strength": self.l2_regularization_strength,
                "l2_shrinkage_regularization_strength": self.l2_shrinkage_regularization_strength,
                "beta": self.beta}


class Adafactor(Optimizer):
    """Adafactor (Shazeer & Stern, 2018) as Keras 3 defines it: second moments factored into row and column
    averages over the last two axes (a full average below 2-D), updates clipped to RMS ``clip_threshold``,
    step size ``max(epsilon_2, RMS(w)) * min(lr, 1 / sqrt(t))``."""

    def __init__(self, learning_rate=0.001, beta_2_decay=-0.8, epsilon_1=1e-30, epsilon_2=1e-3,
                 clip_threshold=1.0, relative_step=True, **kwargs):
        super().__init__(learning_rate, **kwargs)
        self.beta_2_decay, self.epsilon_1, self.epsilon_2 = beta_2_decay, epsilon_1, epsilon_2
        self.clip_threshold, self.relative_step = clip_threshold, relative_step

    def build(self, variables):
        if self.built:
            return
        super().build(variables)
        for v in self._trainable_variables:
            name = str(getattr(v, "path", None) or getattr(v, "name", "var")).replace("/", "_")
            if v.ndim >= 2:
                shape = tuple(v.shape)
                self.state[v]["r"] = self.add_variable(shape[:-1], "zeros", v.dtype.name, name=f"{name}_r", like=v)
                self.state[v]["c"] = self.add_variable(shape[:-2] + shape[-1:], "zeros", v.dtype.name,
                                                       name=f"{name}_c", like=v)
            self.state[v]["velocity"] = self.add_variable_from_reference(v, "velocity")

    @staticmethod
    def _rms(x):
        return F.sqrt((x * x).mean())

    def update_step(self, gradient, variable, learning_rate):
        slots = self.state[variable]
        t = self._local_step(variable)
        rho = F.minimum(learning_rate.to(variable.dtype), 1.0 / F.sqrt(t))  # relative_step's cap
        alpha = F.maximum(self._rms(variable), rho._scalar(self.epsilon_2)) * rho
        g2 = gradient * gradient + self.epsilon_1
        beta_2 = 1.0 - F.pow(t, self.beta_2_decay)
        v = slots["velocity"]
        if variable.ndim >= 2:
            r, c = slots["r"], slots["c"]
            self.assign(r, beta_2 * r + (1.0 - beta_2) * g2.mean(-1))
            self.assign(c, beta_2 * c + (1.0 - beta_2) * g2.mean(-2))
            self.assign(v, (r / r.mean(-1, keepdim=True)).unsqueeze(-1) * c.unsqueeze(-2))
        else:
            self.assign(v, beta_2 * v + (1.0 - beta_2) * g2)
        u = gradient / F.sqrt(v)
        u = u / F.maximum(self._rms(u) / self.clip_threshold, ember.ones_like(alpha))
        self.assign(variable, variable - alpha * u)

    def get_config(self):
        return {**super().get_config(), "beta_2_decay": self.beta_2_decay, "epsilon_1": self.epsilon_1,
                "epsilon_2": self.epsilon_2, "clip_threshold": self.clip_threshold,
                "relative_step": self.relative_step}
