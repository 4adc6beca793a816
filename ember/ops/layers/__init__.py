"""Layer ops: the layers deployment formats know as one op (conv, pools, norms, embedding, RNNs, attention,
gelu, log_softmax). Each is declared here with its attrs, shape rule and lowerings; its eager implementation
is the composite in ``ember.nn.functional`` / ``ember.functional``, bound with ``@ember.ops.composite(name)``.
A trace records one node per call; ``ember.graph.passes.decompose`` lowers it to primitives for the
executors. See docs/internals.md ("Layer ops").
"""
from . import attention, conv, conv_infer, norm, rnn  # noqa: F401
