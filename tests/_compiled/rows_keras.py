"""Differential rows for Keras layers (train and eval mode), each trained a few SGD steps as the ``ember.nn``
layer rows are: built on a first call, then the step (forward, a smooth loss of the outputs, backward, SGD)
runs eagerly and compiled. Keras layers are ``nn.Module``s, so ``train()`` / ``eval()`` set their ``training``."""
from __future__ import annotations

import numpy as np

import ember
from ember import keras
from ember.keras import layers as L

from .harness import Row
from .rows_layers import R, _layer_program, _materialized, _mode


def _masked_steps():  # (batch, time, features) with the last two steps of every sequence all zeros
    return ember.randn(2, 5, 3) * ember.tensor([1.0, 1.0, 1.0, 0.0, 0.0]).reshape(1, 5, 1)


def _built(layer, *shape):
    return lambda: _materialized(layer(), [R(*shape)])


def _adapted():
    layer = L.Normalization()
    layer.adapt(np.random.default_rng(0).normal(2.0, 3.0, (20, 4)).astype("float32"))
    return layer


def _with_losses(layer, x):
    out = layer(x)
    return out, sum(layer.losses)  # the activity penalty computed in the step


# named sublayers: the harness keys state by parameter path, and Keras's automatic names count up per process
def _masked_lstm():
    return keras.Sequential([L.Masking(0.0), L.LSTM(4, return_sequences=True, name="lstm"),
                             L.GlobalAveragePooling1D()])


def _embedded_gru():
    return keras.Sequential([L.Embedding(10, 4, mask_zero=True, name="embedding"), L.GRU(3, name="gru")])


def _swish_then_pointwise():
    return keras.Sequential([L.Conv2D(3, 3, padding="same", activation="swish", name="conv"),
                             L.Conv2D(4, 1, use_bias=False, name="pointwise")])


def _ids():  # ids with zero padding (masked by mask_zero)
    return ember.tensor([[3, 5, 1, 0, 0], [2, 9, 9, 4, 0]])


# (name, constructor, input makers, how to call the layer or None)
LAYERS = [
    ("LeakyReLU", lambda: L.LeakyReLU(0.2), [R(4, 5)], None),
    ("PReLU", _built(lambda: L.PReLU(), 4, 5), [R(4, 5)], None),
    ("ELU", lambda: L.ELU(0.7), [R(4, 5)], None),
    ("ReLU-max_value-threshold", lambda: L.ReLU(max_value=1.0, negative_slope=0.1, threshold=0.2), [R(4, 5)],
     None),
    ("Softmax", lambda: L.Softmax(), [R(4, 5)], None),
    ("UpSampling1D", lambda: L.UpSampling1D(2), [R(2, 3, 4)], None),
    ("UpSampling2D", lambda: L.UpSampling2D(2), [R(2, 3, 3, 2)], None),
    ("UpSampling2D-bilinear", lambda: L.UpSampling2D(2, interpolation="bilinear"), [R(2, 3, 3, 2)], None),
    ("ZeroPadding1D", lambda: L.ZeroPadding1D((1, 2)), [R(2, 3, 4)], None),
    ("ZeroPadding2D", lambda: L.ZeroPadding2D(((1, 0), (2, 1))), [R(2, 3, 3, 2)], None),
    ("Cropping1D", lambda: L.Cropping1D((1, 2)), [R(2, 6, 4)], None),
    ("Cropping2D", lambda: L.Cropping2D(((1, 0), (2, 1))), [R(2, 5, 5, 2)], None),
    ("Conv2D", _built(lambda: L.Conv2D(3, 3, padding="same", activation="relu"), 2, 5, 5, 2), [R(2, 5, 5, 2)],
     None),
    ("SeparableConv2D", _built(lambda: L.SeparableConv2D(3, 3, depth_multiplier=2), 2, 5, 5, 2),
     [R(2, 5, 5, 2)], None),
    # a 1x1 convolution reading a swish output that nothing else keeps alive: its im2col columns were a view
    # of that output's buffer, which the compiled graph reused before the kernel gradient read the columns
    ("Conv2D-1x1-after-swish", _built(_swish_then_pointwise, 2, 5, 5, 2), [R(2, 5, 5, 2)], None),
    ("DepthwiseConv2D", _built(lambda: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same"), 2, 5, 5, 2),
     [R(2, 5, 5, 2)], None),
    ("Conv1DTranspose", _built(lambda: L.Conv1DTranspose(3, 3, strides=2), 2, 4, 2), [R(2, 4, 2)], None),
    ("Conv2DTranspose", _built(lambda: L.Conv2DTranspose(3, 3, strides=2, padding="same"), 2, 3, 3, 2),
     [R(2, 3, 3, 2)], None),
    # the GAN guide's layers: few output channels (shift-sum form), a 4x4 stride-2 transposed one
    ("Conv2D-shift", _built(lambda: L.Conv2D(1, 5, padding="same", activation="sigmoid"), 2, 6, 6, 8),
     [R(2, 6, 6, 8)], None),
    ("Conv2DTranspose-4x4", _built(lambda: L.Conv2DTranspose(5, 4, strides=2, padding="same"), 2, 3, 3, 4),
     [R(2, 3, 3, 4)], None),
    ("BatchNormalization", _built(lambda: L.BatchNormalization(momentum=0.8), 6, 3), [R(6, 3)], None),
    ("LayerNormalization", _built(lambda: L.LayerNormalization(), 4, 5), [R(4, 5)], None),
    ("GroupNormalization", _built(lambda: L.GroupNormalization(2), 2, 3, 4), [R(2, 3, 4)], None),
    ("Dropout", lambda: L.Dropout(0.3), [R(6, 5)], None),
    ("Dropout-seed", lambda: L.Dropout(0.3, seed=2), [R(6, 5)], None),
    ("Dropout-noise_shape", lambda: L.Dropout(0.5, noise_shape=(None, 1, 1, 1)), [R(6, 2, 2, 3)], None),
    ("SpatialDropout1D", lambda: L.SpatialDropout1D(0.5), [R(2, 4, 3)], None),
    ("SpatialDropout2D-seed", lambda: L.SpatialDropout2D(0.5, seed=1), [R(2, 3, 3, 4)], None),
    ("GaussianNoise", lambda: L.GaussianNoise(0.3), [R(4, 5)], None),
    ("GaussianDropout-seed", lambda: L.GaussianDropout(0.3, seed=4), [R(4, 5)], None),
    ("ActivityRegularization", lambda: L.ActivityRegularization(0.01, 0.02), [R(4, 5)], _with_losses),
    ("Masking-LSTM-mask-propagation", _built(_masked_lstm, 2, 5, 3), [_masked_steps], None),
    ("Embedding-mask_zero-GRU", lambda: _materialized(_embedded_gru(), [_ids]), [_ids], None),
    ("Normalization-adapted", _adapted, [R(4, 4)], None),
    ("Rescaling", lambda: L.Rescaling(0.5, offset=-1.0), [R(4, 5)], None),
    ("Resizing", lambda: L.Resizing(4, 6), [R(2, 3, 3, 2)], None),
    ("CenterCrop", lambda: L.CenterCrop(2, 3), [R(2, 4, 5, 2)], None),
    ("RandomFlip", lambda: L.RandomFlip(), [R(4, 3, 3, 2)], None),
    ("RandomFlip-seed", lambda: L.RandomFlip("horizontal", seed=5), [R(4, 3, 3, 2)], None),
    ("MaxPooling2D", lambda: L.MaxPooling2D(2), [R(2, 4, 4, 3)], None),
    ("AveragePooling1D-same", lambda: L.AveragePooling1D(2, padding="same"), [R(2, 5, 3)], None),
    ("GlobalMaxPooling2D", lambda: L.GlobalMaxPooling2D(), [R(2, 4, 4, 3)], None),
    ("MultiHeadAttention", _built(lambda: _SelfAttention(), 2, 4, 6), [R(2, 4, 6)], None),
    ("Bidirectional-SimpleRNN", _built(lambda: L.Bidirectional(L.SimpleRNN(3)), 2, 4, 3), [R(2, 4, 3)], None),
    ("Conv3D", _built(lambda: L.Conv3D(2, 2, padding="same"), 2, 3, 4, 4, 2), [R(2, 3, 4, 4, 2)], None),
    ("MaxPooling3D", lambda: L.MaxPooling3D(2), [R(2, 4, 4, 4, 3)], None),
    ("AveragePooling3D-same", lambda: L.AveragePooling3D(2, padding="same"), [R(2, 3, 5, 4, 2)], None),
    ("GlobalAveragePooling3D", lambda: L.GlobalAveragePooling3D(), [R(2, 3, 4, 4, 2)], None),
    ("Attention-scale-causal", _built(lambda: _SelfAttend(L.Attention(use_scale=True)), 2, 4, 3), [R(2, 4, 3)],
     None),
    ("Attention-concat", _built(lambda: _SelfAttend(L.Attention(score_mode="concat")), 2, 4, 3), [R(2, 4, 3)],
     None),
    ("LSTM-stateful", _built(lambda: L.LSTM(3, stateful=True, return_sequences=True), 2, 4, 3), [R(2, 4, 3)],
     None),
    ("GRU-stateful", _built(lambda: L.GRU(3, stateful=True), 2, 4, 3), [R(2, 4, 3)], None),
    ("Dot-normalize", lambda: L.Dot(axes=1, normalize=True), [R(4, 5), R(4, 5)], lambda layer, a, b: layer([a, b])),
    ("UnitNormalization", lambda: L.UnitNormalization(), [R(4, 5)], None),
    ("Dense-MaxNorm-constraint", _built(lambda: L.Dense(3, kernel_constraint=keras.constraints.MaxNorm(0.5)), 4, 5),
     [R(4, 5)], None),
    ("TimeDistributed-Dense", _built(lambda: L.TimeDistributed(L.Dense(3)), 2, 4, 5), [R(2, 4, 5)], None),
    ("RNN-stacked-cells", _built(lambda: L.RNN([L.LSTMCell(3), L.GRUCell(2)], return_sequences=True), 2, 4, 3),
     [R(2, 4, 3)], None),
    ("RNN-SimpleRNNCell-dropout", _built(lambda: L.RNN(L.SimpleRNNCell(3, dropout=0.3, seed=1)), 2, 4, 3),
     [R(2, 4, 3)], None),
    ("ConvLSTM2D", _built(lambda: L.ConvLSTM2D(2, 3, padding="same", return_sequences=True), 2, 3, 5, 5, 1),
     [R(2, 3, 5, 5, 1)], None),
    ("EinsumDense-heads", _built(lambda: L.EinsumDense("abc,cde->abde", (None, 2, 3), bias_axes="de"), 2, 4, 5),
     [R(2, 4, 5)], None),
    ("AdditiveAttention", _built(lambda: _SelfAttend(L.AdditiveAttention()), 2, 4, 3), [R(2, 4, 3)], None),
    ("RMSNormalization", _built(lambda: L.RMSNormalization(), 3, 5), [R(3, 5)], None),
    ("AlphaDropout", lambda: L.AlphaDropout(0.2), [R(4, 5)], None),
    ("UpSampling3D-ZeroPadding3D", lambda: keras.Sequential([L.UpSampling3D((1, 2, 1)), L.ZeroPadding3D(1),
                                                             L.Cropping3D(1)]), [R(2, 2, 2, 2, 1)], None),
    ("AdaptiveAveragePooling2D", lambda: L.AdaptiveAveragePooling2D((2, 3)), [R(2, 5, 7, 2)], None),
    ("AdaptiveMaxPooling1D", lambda: L.AdaptiveMaxPooling1D(3), [R(2, 7, 2)], None),
    ("SeparableConv1D", _built(lambda: L.SeparableConv1D(3, 3, depth_multiplier=2), 2, 6, 2), [R(2, 6, 2)], None),
    ("DepthwiseConv1D", _built(lambda: L.DepthwiseConv1D(3, padding="same"), 2, 6, 2), [R(2, 6, 2)], None),
    ("Conv2D-groups", _built(lambda: L.Conv2D(4, 3, groups=2), 2, 5, 5, 4), [R(2, 5, 5, 4)], None),
    ("Dense-activity-regularizer", _built(lambda: L.Dense(3, activity_regularizer="l2"), 4, 5), [R(4, 5)],
     _with_losses),    ("GroupQueryAttention-window-gate", _built(lambda: _SelfGQA(), 2, 5, 6), [R(2, 5, 6)], None),
    ("SpectralNormalization-Dense", _built(lambda: L.SpectralNormalization(L.Dense(3), power_iterations=2), 4, 5),
     [R(4, 5)], None),
    ("ReversibleEmbedding-reverse", lambda: _materialized(_Tied(), [_ids]), [_ids], None),
    ("colour-layers-seed", lambda: keras.Sequential([L.RandomGrayscale(0.5, seed=1), L.RandomInvert(seed=2),
                                                      L.Solarization(0.1, (0.2, 0.6), seed=3),
                                                      L.RandomPosterization(5, seed=4),
                                                      L.RandomColorDegeneration(0.4, seed=5), L.AutoContrast()]),
     [lambda: ember.rand(3, 4, 4, 3) * 255], None),
]


class _SelfAttention(L.Layer):
    def __init__(self):
        super().__init__()
        self.mha = L.MultiHeadAttention(2, 3, dropout=0.1)

    def call(self, x):
        return self.mha(x, x)


class _SelfAttend(L.Layer):  # query = value = key, with a causal mask where the layer is told so
    def __init__(self, attention):
        super().__init__()
        self.attention = attention

    def call(self, x):
        return self.attention([x, x], use_causal_mask=self.attention.use_scale)


class _SelfGQA(L.Layer):
    def __init__(self):
        super().__init__()
        self.gqa = L.GroupQueryAttention(2, 4, 2, sliding_window=2, use_gate=True, dropout=0.1)

    def call(self, x):
        return self.gqa(x, x, use_causal_mask=True)


class _Tied(L.Layer):  # ids -> embedding -> tanh -> logits through the same table
    def __init__(self):
        super().__init__()
        self.embed = L.ReversibleEmbedding(10, 4, logit_soft_cap=2.0)

    def call(self, ids):
        return self.embed(ember.tanh(self.embed(ids)), reverse=True)


# layers whose computation depends on training (the others run in train mode only: their eval row is the same)
MODAL = {"BatchNormalization", "Dropout", "Dropout-seed", "Dropout-noise_shape", "SpatialDropout1D",
         "SpatialDropout2D-seed", "GaussianNoise", "GaussianDropout-seed", "RandomFlip", "RandomFlip-seed",
         "MultiHeadAttention", "GroupQueryAttention-window-gate", "SpectralNormalization-Dense",
         "colour-layers-seed"}
ROWS = [Row(f"keras-{name}-{_mode(t)}", (lambda c=c, m=m, call=call, t=t: _layer_program(c, m, call, t)))
        for name, c, m, call in LAYERS for t in ((True, False) if name in MODAL else (True,))]
