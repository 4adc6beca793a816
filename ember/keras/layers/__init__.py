"""``keras.layers``: every layer class; image layers take channels_last or channels_first data."""

from .activation_layers import ELU, LeakyReLU, PReLU, ReLU, Softmax  # noqa: F401
from .attention import Attention, MultiHeadAttention  # noqa: F401
from .base import Layer, Variable  # noqa: F401
from .conv import (  # noqa: F401
    Conv1D,
    Conv2D,
    Conv3D,
    DepthwiseConv1D,
    DepthwiseConv2D,
    SeparableConv1D,
    SeparableConv2D,
)
from .conv_lstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D  # noqa: F401
from .conv_transpose import Conv1DTranspose, Conv2DTranspose, Conv3DTranspose  # noqa: F401
from .core import (  # noqa: F401
    Activation,
    Dense,
    Dropout,
    Embedding,
    Flatten,
    Identity,
    Input,
    InputLayer,
    Lambda,
    Masking,
    Permute,
    Rescaling,
    Reshape,
)
from .einsum_dense import AdditiveAttention, EinsumDense  # noqa: F401
from .group_query_attention import GroupQueryAttention  # noqa: F401
from .hashed_crossing import HashedCrossing  # noqa: F401
from .input_spec import InputSpec, Wrapper, deserialize, serialize  # noqa: F401
from .merge import (  # noqa: F401
    Add,
    Average,
    Concatenate,
    Dot,
    Maximum,
    Minimum,
    Multiply,
    Subtract,
    add,
    average,
    concatenate,
    dot,
    maximum,
    minimum,
    multiply,
    subtract,
)
from .noise import (  # noqa: F401
    ActivityRegularization,
    AlphaDropout,
    GaussianDropout,
    GaussianNoise,
    SpatialDropout1D,
    SpatialDropout2D,
    SpatialDropout3D,
)
from .normalization import (  # noqa: F401
    BatchNormalization,
    GroupNormalization,
    LayerNormalization,
    RMSNormalization,
    UnitNormalization,
)
from .pooling import (  # noqa: F401
    AdaptiveAveragePooling1D,
    AdaptiveAveragePooling2D,
    AdaptiveAveragePooling3D,
    AdaptiveMaxPooling1D,
    AdaptiveMaxPooling2D,
    AdaptiveMaxPooling3D,
    AveragePooling1D,
    AveragePooling2D,
    AveragePooling3D,
    GlobalAveragePooling1D,
    GlobalAveragePooling2D,
    GlobalAveragePooling3D,
    GlobalMaxPooling1D,
    GlobalMaxPooling2D,
    GlobalMaxPooling3D,
    MaxPooling1D,
    MaxPooling2D,
    MaxPooling3D,
)
from .preprocessing import (  # noqa: F401
    CategoryEncoding,
    CenterCrop,
    Discretization,
    Normalization,
    RandomFlip,
    Resizing,
)
from .preprocessing_augment import (  # noqa: F401
    Equalization,
    RandomErasing,
    RandomGaussianBlur,
    RandomHue,
    RandomSaturation,
    RandomSharpness,
)
from .preprocessing_augment_more import RandomColorJitter, RandomPerspective, RandomShear  # noqa: F401
from .preprocessing_color import (  # noqa: F401
    AutoContrast,
    RandomColorDegeneration,
    RandomGrayscale,
    RandomInvert,
    RandomPosterization,
    Solarization,
)
from .preprocessing_elastic import MaxNumBoundingBoxes, RandomElasticTransform  # noqa: F401
from .preprocessing_image import (  # noqa: F401
    RandomBrightness,
    RandomContrast,
    RandomCrop,
    RandomRotation,
    RandomTranslation,
    RandomZoom,
)
from .preprocessing_mix import CutMix, MixUp  # noqa: F401
from .preprocessing_text import Hashing, IntegerLookup, StringLookup, TextVectorization  # noqa: F401
from .reshaping import (  # noqa: F401
    Cropping1D,
    Cropping2D,
    Cropping3D,
    RepeatVector,
    UpSampling1D,
    UpSampling2D,
    UpSampling3D,
    ZeroPadding1D,
    ZeroPadding2D,
    ZeroPadding3D,
)
from .reversible import Pipeline, ReversibleEmbedding  # noqa: F401
from .rnn import GRU, LSTM, Bidirectional, SimpleRNN  # noqa: F401
from .rnn_cells import RNN, GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells  # noqa: F401
from .wrappers import SpectralNormalization, TimeDistributed, TorchModuleWrapper  # noqa: F401

MaxPool2D, AvgPool2D, MaxPool1D = MaxPooling2D, AveragePooling2D, MaxPooling1D
MaxPool3D, AvgPool3D = MaxPooling3D, AveragePooling3D
AvgPool1D = AveragePooling1D
GlobalAvgPool1D, GlobalAvgPool2D = GlobalAveragePooling1D, GlobalAveragePooling2D
GlobalAvgPool3D = GlobalAveragePooling3D
GlobalMaxPool1D, GlobalMaxPool2D, GlobalMaxPool3D = GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D
Convolution1D, Convolution2D, Convolution3D = Conv1D, Conv2D, Conv3D  # Keras's older names, still exported
Convolution1DTranspose, Convolution2DTranspose = Conv1DTranspose, Conv2DTranspose
Convolution3DTranspose = Conv3DTranspose
SeparableConvolution2D = SeparableConv2D
SeparableConvolution1D = SeparableConv1D
