"""``keras.layers``: every layer class, channels_last."""

from .attention import MultiHeadAttention  # noqa: F401
from .base import Layer, Variable  # noqa: F401
from .conv import Conv1D, Conv2D, Conv2DTranspose  # noqa: F401
from .core import (  # noqa: F401
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Input,
    InputLayer,
    Lambda,
    Permute,
    Rescaling,
    Reshape,
)
from .merge import Add, Average, Concatenate, Maximum, Minimum, Multiply, Subtract  # noqa: F401
from .noise import GaussianDropout, GaussianNoise  # noqa: F401
from .normalization import BatchNormalization, LayerNormalization  # noqa: F401
from .pooling import (  # noqa: F401
    AveragePooling1D,
    AveragePooling2D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    MaxPooling1D,
    MaxPooling2D,
)
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: F401
from .wrappers import TorchModuleWrapper  # noqa: F401

MaxPool2D, AvgPool2D, MaxPool1D = MaxPooling2D, AveragePooling2D, MaxPooling1D
