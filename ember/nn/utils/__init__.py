"""torch.nn.utils on Ember: gradient clipping, parameter/vector conversion, and (rnn.py) sequence packing."""
import importlib

from . import fusion, parametrizations, parametrize, stateless  # noqa: F401,E402
from .clip_grad import clip_grad_norm_, clip_grad_value_, clip_grads_with_norm_, get_total_norm  # noqa: F401
from .convert_parameters import parameters_to_vector, vector_to_parameters  # noqa: F401
from .fusion import (  # noqa: F401
    fuse_conv_bn_eval,
    fuse_conv_bn_weights,
    fuse_linear_bn_eval,
    fuse_linear_bn_weights,
)
from .init_skip import skip_init  # noqa: F401
from .weight_norm import remove_spectral_norm, remove_weight_norm, spectral_norm, weight_norm  # noqa: F401

try:
    rnn = importlib.import_module(f"{__name__}.rnn")
except ModuleNotFoundError as _e:  # rnn helpers live in rnn.py (written with the RNN layers)
    if _e.name != f"{__name__}.rnn":
        raise
