"""torch.optim on Ember: optimizers (updates as one vectorised kernel per parameter) and LR schedulers.

>>> import ember
>>> from ember import nn, optim
>>> model = nn.Linear(4, 2)
>>> opt = optim.Adam(model.parameters(), lr=1e-3)
>>> loss = model(ember.randn(8, 4)).pow(2).mean()
>>> opt.zero_grad(); loss.backward(); opt.step()
"""
from . import lr_scheduler, optimizer, swa_utils  # noqa: F401  (optimizer: torch.optim.optimizer's hooks)
from .adafactor import Adafactor, SparseAdam  # noqa: F401
from .adam import Adam, AdamW  # noqa: F401
from .adamax import Adamax, NAdam  # noqa: F401
from .lbfgs import LBFGS  # noqa: F401
from .optimizer import Optimizer  # noqa: F401
from .radam import ASGD, RAdam, Rprop  # noqa: F401
from .rmsprop import Adadelta, Adagrad, RMSprop  # noqa: F401
from .sgd import SGD  # noqa: F401

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "NAdam", "LBFGS",
           "RAdam", "Rprop", "ASGD", "Adafactor", "SparseAdam", "lr_scheduler", "swa_utils"]
