"""ember.nn: PyTorch's torch.nn on Ember (Module, layers, losses, init, utils).

Layout (one concept per file): modules/module.py (Module, Parameter), modules/container.py, modules/linear.py,
modules/activation.py, modules/loss.py, modules/normalization.py, modules/dropout.py, modules/sparse.py
(Embedding), modules/conv.py, modules/pooling.py, modules/rnn.py, modules/attention.py (MultiheadAttention),
modules/transformer.py; functional/ mirrors torch.nn.functional; init.py; utils/.
"""
from . import attention, functional, init, parallel, utils  # noqa: F401
from .modules import *  # noqa: F401,F403
from .modules.module import Module, Parameter  # noqa: F401
from .parameter import Buffer, UninitializedBuffer, UninitializedParameter  # noqa: F401
