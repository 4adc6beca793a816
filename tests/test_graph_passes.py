"""Each pass on hand-built graphs, checked against the expected printed form."""

import textwrap

import numpy as np

from ember.graph import Graph, interpret, verify
from ember.graph.passes import (
    cse,
    dce,
    fuse_elementwise,
    optimize,
    plan_memory,
    plan_summary,
    remove_copies,
    simplify,
)


def expect(graph, text):
    verify(graph)
    assert str(graph) == textwrap.dedent(text).strip()


def test_dce_drops_unused_nodes_and_constants_but_keeps_random_draws():
    g = Graph()
    x = g.add_input((3,), "float32")
    c = g.add_constant(np.ones(3, np.float32))
    g.add_node("add", [x, c])
    g.add_node("uniform", [], {"shape": (3,), "dtype": "float32", "low": 0.0, "high": 1.0})
    g.outputs.append(g.add_node("exp", [x]))
    expect(
        dce(g),
        """
        graph(%0:f32[3]) {
          %1:f32[3] = uniform[shape=(3,), dtype=float32, low=0.0, high=1.0]
          %2:f32[3] = exp %0
          return %2
        }""",
    )


def test_cse_merges_equal_nodes_transitively_and_equal_constants():
    g = Graph()
    x = g.add_input((3,), "float32")
    c1, c2 = g.add_constant(np.float32(2)), g.add_constant(np.float32(2))
    a = g.add_node("exp", [g.add_node("mul", [x, c1])])
    b = g.add_node("exp", [g.add_node("mul", [x, c2])])
    s1 = g.add_node("sum", [a], {"axis": (0,), "keepdims": False})
    s2 = g.add_node("sum", [b], {"axis": None, "keepdims": False})  # different attrs: kept
    g.outputs = [g.add_node("add", [a, b]), s1, s2]
    expect(
        cse(g),
        """
        graph(%0:f32[3]) {
          %1:f32[] = const 2.0
          %2:f32[3] = mul %0 %1
          %3:f32[3] = exp %2
          %4:f32[] = sum[axis=(0,), keepdims=False] %3
          %5:f32[] = sum[axis=None, keepdims=False] %3
          %6:f32[3] = add %3 %3
          return %6 %4 %5
        }""",
    )


def test_cse_never_merges_random_draws():
    g = Graph()
    attrs = {"shape": (2,), "dtype": "float32", "mean": 0.0, "std": 1.0}
    a, b = g.add_node("normal", [], attrs), g.add_node("normal", [], attrs)
    g.outputs.append(g.add_node("sub", [a, b]))
    assert len(cse(g).nodes) == 3


def test_simplify_identities():
    g = Graph()
    x = g.add_input((2, 3), "float32")
    one, zero = g.add_constant(np.float32(1)), g.add_constant(np.zeros((1, 3), np.float32))
    y = g.add_node("mul", [one, x])
    y = g.add_node("add", [y, zero])
    y = g.add_node("cast", [y], {"dtype": "float32"})
    y = g.add_node("neg", [g.add_node("neg", [y])])
    y = g.add_node("reshape", [g.add_node("reshape", [y], {"shape": (6,)})], {"shape": (3, 2)})
    y = g.add_node("reshape", [y], {"shape": (3, 2)})
    z = g.add_node("div", [x, g.add_constant(np.float32(1))])
    g.outputs = [y, z]
    expect(
        simplify(g),
        """
        graph(%0:f32[2,3]) {
          %1:f32[3,2] = reshape[shape=(3,2)] %0
          return %1 %0
        }""",
    )


def test_simplify_keeps_broadcasting_identities_that_change_the_shape():
    g = Graph()
    x = g.add_input((3,), "float32")
    g.outputs.append(g.add_node("mul", [x, g.add_constant(np.ones((2, 3), np.float32))]))
    assert len(simplify(g).nodes) == 1


def test_simplify_composes_permutes():
    g = Graph()
    x = g.add_input((2, 3, 4), "float32")
    y = g.add_node("permute", [x], {"perm": (1, 2, 0)})
    g.outputs.append(g.add_node("permute", [y], {"perm": (0, 2, 1)}))
    expect(
        simplify(g),
        """
        graph(%0:f32[2,3,4]) {
          %1:f32[3,2,4] = permute[perm=(1,0,2)] %0
          return %1
        }""",
    )


def _split_backward(bounds, axis=1):
    """The backward of splitting a (2, 6) value: each piece written into zeros, the writes summed."""
    g = Graph()
    pieces = []
    for start, stop in bounds:
        v = g.add_input((2, stop - start) if axis == 1 else (stop - start, 6), "float32")
        entry = ("slice", start, stop, None)
        index = (("slice", None, None, None), entry) if axis == 1 else (entry,)
        zeros = g.add_constant(np.zeros((2, 6), np.float32))
        pieces.append(g.add_node("index_put", [zeros, v], {"index": index, "accumulate": False}))
    total = pieces[0]
    for p in pieces[1:]:
        total = g.add_node("add", [total, p])
    g.outputs.append(total)
    return g


def test_simplify_turns_summed_slice_writes_into_a_cat():
    g = _split_backward([(4, 6), (0, 1), (1, 4)])
    args = [np.full(v.shape, i + 1, np.float32) for i, v in enumerate(g.inputs)]
    ref = interpret(g, args)[0]
    expect(
        simplify(g),
        """
        graph(%0:f32[2,2], %1:f32[2,1], %2:f32[2,3]) {
          %3:f32[2,6] = cat[axis=1] %1 %2 %0
          return %3
        }""",
    )
    np.testing.assert_array_equal(interpret(g, args)[0], ref)


def test_simplify_keeps_slice_writes_that_overlap_or_leave_gaps():
    for bounds in ([(0, 4), (3, 6)], [(0, 2), (3, 6)]):
        g = _split_backward(bounds)
        assert [n.op for n in simplify(g).nodes].count("index_put") == 2
    # a term that broadcasts into the sum (a (1, 6) write added to a (2, 6) one) is not a tile
    g = Graph()
    a, b = g.add_input((1, 2), "float32"), g.add_input((2, 4), "float32")
    writes = [
        g.add_node("index_put", [g.add_constant(np.zeros(shape, np.float32)), v],
                   {"index": (("slice", None, None, None), ("slice", lo, hi, None)), "accumulate": False})
        for v, shape, lo, hi in [(a, (1, 6), 0, 2), (b, (2, 6), 2, 6)]
    ]
    g.outputs.append(g.add_node("add", writes))
    assert [n.op for n in simplify(g).nodes].count("index_put") == 2


def test_remove_copies():
    g = Graph()
    x = g.add_input((2, 3), "float32")
    t = g.add_node("permute", [x], {"perm": (1, 0)})
    kept = g.add_node("copy", [t])  # copy of a view feeding a matmul: needed
    m = g.add_node("matmul", [kept, g.add_input((2, 2), "float32")])
    gone = g.add_node("copy", [g.add_node("copy", [m])])  # copy of a fresh result, copy of a copy
    e = g.add_node("exp", [g.add_node("copy", [t])])  # only elementwise readers
    g.outputs = [gone, e, g.add_node("copy", [x])]  # an input returned: the copy stays
    expect(
        remove_copies(g),
        """
        graph(%0:f32[2,3], %1:f32[2,2]) {
          %2:f32[3,2] = permute[perm=(1,0)] %0
          %3:f32[3,2] = copy %2
          %4:f32[3,2] = matmul %3 %1
          %5:f32[3,2] = exp %2
          %6:f32[2,3] = copy %0
          return %4 %5 %6
        }""",
    )


def test_fuse_chain_with_scalar_constant_and_trailing_reduction():
    g = Graph()
    x = g.add_input((4, 8), "float32")
    y = g.add_input((4, 8), "float32")
    d = g.add_node("sub", [x, y])
    sq = g.add_node("mul", [d, d])
    half = g.add_node("mul", [sq, g.add_constant(np.float32(0.5))])
    g.outputs.append(g.add_node("sum", [half], {"axis": None, "keepdims": False}))
    expect(
        fuse_elementwise(g),
        """
        graph(%0:f32[4,8], %1:f32[4,8]) {
          %2:f32[] = fused %0 %1
            body(%0:f32[4,8], %1:f32[4,8]) {
              %2:f32[] = const 0.5
              %3:f32[4,8] = sub %0 %1
              %4:f32[4,8] = mul %3 %3
              %5:f32[4,8] = mul %4 %2
              %6:f32[] = sum[axis=None, keepdims=False] %5
              return %6
            }
          return %2
        }""",
    )


def test_fuse_stops_at_values_read_elsewhere_and_at_broadcast_inputs():
    g = Graph()
    x = g.add_input((4, 8), "float32")
    b = g.add_input((8,), "float32")
    eb = g.add_node("exp", [b])  # smaller than the result: not pulled in (no recompute)
    h = g.add_node("add", [x, eb])
    r = g.add_node("maximum", [h, g.add_constant(np.float32(0))])  # h is also an output: not internal
    w = g.add_node("tanh", [g.add_node("neg", [r])])
    g.outputs = [h, w]
    expect(
        fuse_elementwise(g),
        """
        graph(%0:f32[4,8], %1:f32[8]) {
          %2:f32[8] = exp %1
          %3:f32[4,8] = add %0 %2
          %4:f32[4,8] = fused %3
            body(%0:f32[4,8]) {
              %1:f32[] = const 0.0
              %2:f32[4,8] = maximum %0 %1
              %3:f32[4,8] = neg %2
              %4:f32[4,8] = tanh %3
              return %4
            }
          return %3 %4
        }""",
    )


def test_memory_plan_reuses_dead_buffers_and_writes_in_place():
    g = Graph()
    x = g.add_input((8, 8), "float32")
    w = g.add_input((8, 8), "float32")
    a = g.add_node("matmul", [x, w])  # buf0
    b = g.add_node("matmul", [a, w])  # a still read later -> buf1
    c = g.add_node("add", [a, b])  # a and b die here: in place over a
    v = g.add_node("reshape", [c], {"shape": (64,)})  # a view keeps c's buffer alive
    d = g.add_node("matmul", [w, w])  # buf1 is free again (b died at node 2)
    e = g.add_node("sum", [v], {"axis": (0,), "keepdims": False})
    g.outputs = [g.add_node("add", [d, e])]
    plan_memory(g)
    assert plan_summary(g) == textwrap.dedent("""\
        %2 matmul -> buf0 (64 x float32)
        %3 matmul -> buf1 (64 x float32)
        %4 add -> buf0 in place
        %5 reshape -> fresh
        %6 matmul -> buf1 (64 x float32)
        %7 sum -> buf2 (1 x float32)
        %8 add -> fresh""")
    assert g.meta["buffers"] == [(64, "float32"), (64, "float32"), (1, "float32")]


def test_memory_plan_never_plans_values_that_escape_through_views():
    g = Graph()
    x = g.add_input((2, 3), "float32")
    e = g.add_node("exp", [x])
    g.outputs = [g.add_node("permute", [e], {"perm": (1, 0)})]
    plan_memory(g)
    assert plan_summary(g) == "%1 exp -> fresh\n%2 permute -> fresh"


def test_optimize_pipeline_end_to_end():
    g = Graph()
    x = g.add_input((4, 4), "float32")
    one = g.add_constant(np.float32(1))
    a = g.add_node("mul", [x, one])
    t = g.add_node("permute", [g.add_node("permute", [a], {"perm": (1, 0)})], {"perm": (1, 0)})
    y1 = g.add_node("exp", [t])
    y2 = g.add_node("exp", [x])
    g.outputs = [g.add_node("sum", [g.add_node("add", [y1, y2])], {"axis": None, "keepdims": False})]
    expect(
        optimize(g),
        """
        graph(%0:f32[4,4]) {
          %1:f32[] = fused %0
            body(%0:f32[4,4]) {
              %1:f32[4,4] = exp %0
              %2:f32[4,4] = add %1 %1
              %3:f32[] = sum[axis=None, keepdims=False] %2
              return %3
            }
          return %1
        }""",
    )


def test_simplify_reads_back_what_index_put_wrote():
    g = Graph()
    x = g.add_input((2, 3), "float32")
    zeros = g.add_constant(np.zeros((2, 2, 3), np.float32))
    packed = g.add_node("index_put", [zeros, x], {"index": (("int", 0),), "accumulate": False})
    g.outputs.append(g.add_node("getitem", [packed], {"index": (("int", 0),)}))
    g.outputs.append(g.add_node("getitem", [packed], {"index": (("int", 1),)}))  # the zeros: stays
    out = simplify(g)
    assert out.outputs[0] is x and out.producer(out.outputs[1]).op == "getitem"


_POOL = {"kernel": (2, 2), "stride": (2, 2), "padding": ((0, 0), (0, 0)), "dilation": (1, 1)}


def _relu_pool_joint(pool):
    """relu -> max pool (training form) and its backward, as a traced training step records them."""
    g = Graph()
    x, gy = g.add_input((2, 3, 6, 6), "float32"), g.add_input((2, 3) + ((3, 3) if pool == _POOL else (6, 6)), "float32")
    zero = g.add_constant(np.zeros((), np.float32))
    r = g.add_node("relu", [x])
    packed = g.add_node("pool_max_arg", [r], pool)
    y = g.add_node("getitem", [packed], {"index": (("int", 0),)})
    arg = g.add_node("getitem", [packed], {"index": (("int", 1),)})
    gr = g.add_node("pool_scatter_at", [gy, arg], dict(pool, size=(6, 6)))
    gx = g.add_node("where", [g.add_node("gt", [r, zero]), gr, zero])
    g.outputs += [y, gx]
    return g


def test_relu_before_a_max_pool_is_swapped_exactly():
    from ember.graph.passes.pool_relu import swap_relu_max_pool

    rng = np.random.default_rng(0)
    overlapping = {"kernel": (3, 3), "stride": (1, 1), "padding": ((1, 1), (1, 1)), "dilation": (1, 1)}
    for pool in (_POOL, overlapping):
        g = _relu_pool_joint(pool)
        x = rng.standard_normal((2, 3, 6, 6)).astype(np.float32)
        x[0, 0, :2, :2], x[0, 1, :3, :3], x[1, 2, 1, 1], x[1, 0, 2:4, 2:4] = -1.0, 0.0, np.nan, 2.0  # ties, NaN
        args = [x, rng.standard_normal(g.inputs[1].shape).astype(np.float32)]
        ref = interpret(g, args)
        swapped = swap_relu_max_pool(g)
        verify(swapped)
        ops = [n.op for n in swapped.nodes]
        assert ops.index("pool_max_arg") < ops.index("relu") and ops.count("gt") == 1
        assert swapped.producer(swapped.nodes[ops.index("gt")].inputs[0]).op == "relu"  # the mask on the pooled
        for a, b in zip(interpret(swapped, args), ref):
            np.testing.assert_array_equal(a, b)


def test_relu_read_elsewhere_is_not_swapped():
    from ember.graph.passes.pool_relu import swap_relu_max_pool

    g = _relu_pool_joint(_POOL)
    g.outputs.append(g.nodes[0].out)  # relu's output escapes the graph
    assert swap_relu_max_pool(g) is g
