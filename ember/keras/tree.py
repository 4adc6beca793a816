"""``keras.tree``: nested structures (lists, tuples, dicts, namedtuples) of leaves, as Keras 3's utilities.

Dicts are traversed in sorted-key order (Keras's rule), ``None`` is a leaf; tensors and arrays are leaves.

>>> from ember.keras import tree
>>> tree.flatten({"b": [1, 2], "a": (3,)})
[3, 1, 2]
>>> tree.map_structure(lambda v: v * 10, {"b": [1, 2], "a": (3,)})
{'b': [10, 20], 'a': (30,)}
"""
from __future__ import annotations

import collections.abc

MAP_TO_NONE = object()  # traverse(): a function returning this replaces the subtree with None

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path",
           "is_nested", "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to",
           "pack_sequence_as", "traverse"]


def _is_namedtuple(x) -> bool:
    return isinstance(x, tuple) and hasattr(type(x), "_fields")


def is_nested(structure) -> bool:
    """Whether ``structure`` is a list, tuple, namedtuple or mapping (not a leaf)."""
    return isinstance(structure, (list, tuple, collections.abc.Mapping))


def _children(x):
    if isinstance(x, collections.abc.Mapping):
        return [(k, x[k]) for k in sorted(x)]
    return list(enumerate(x))


def _rebuild(like, values):
    if isinstance(like, collections.abc.Mapping):
        keys = sorted(like)
        made = dict(zip(keys, values))
        return type(like)(made) if not isinstance(like, dict) or type(like) is not dict else \
            {k: made[k] for k in like}
    if _is_namedtuple(like):
        return type(like)(*values)
    return type(like)(values)


def flatten(structure) -> list:
    """The leaves of ``structure``, depth first (dicts by sorted key)."""
    if not is_nested(structure):
        return [structure]
    return [leaf for _, child in _children(structure) for leaf in flatten(child)]


def flatten_with_path(structure) -> list:
    """``[(path, leaf)]``, each path the tuple of keys / indices from the root."""
    if not is_nested(structure):
        return [((), structure)]
    return [((k,) + p, leaf) for k, child in _children(structure) for p, leaf in flatten_with_path(child)]


def pack_sequence_as(structure, flat_sequence):
    """Put the leaves of ``flat_sequence`` into the shape of ``structure``."""
    flat = list(flat_sequence)
    need = len(flatten(structure))
    if need != len(flat):
        raise ValueError(f"keras.tree.pack_sequence_as: the structure has {need} leaves, the sequence {len(flat)}")
    it = iter(flat)

    def build(s):
        if not is_nested(s):
            return next(it)
        return _rebuild(s, [build(c) for _, c in _children(s)])
    return build(structure)


def assert_same_structure(a, b, check_types=True) -> None:
    """Raise ValueError when ``a`` and ``b`` do not have the same nesting (and container types)."""
    if is_nested(a) != is_nested(b):
        raise ValueError(f"keras.tree: the structures differ: {_describe(a)} vs {_describe(b)}")
    if not is_nested(a):
        return
    if check_types and type(a) is not type(b) and not (isinstance(a, (list, tuple)) and isinstance(b, (list, tuple))
                                                       and not (_is_namedtuple(a) or _is_namedtuple(b))):
        raise ValueError(f"keras.tree: container types differ: {type(a).__name__} vs {type(b).__name__}")
    ka, kb = [k for k, _ in _children(a)], [k for k, _ in _children(b)]
    if ka != kb:
        raise ValueError(f"keras.tree: the structures differ: keys/lengths {ka} vs {kb}")
    for (_, x), (_, y) in zip(_children(a), _children(b)):
        assert_same_structure(x, y, check_types)


def assert_same_paths(a, b) -> None:
    pa, pb = {p for p, _ in flatten_with_path(a)}, {p for p, _ in flatten_with_path(b)}
    if pa != pb:
        raise ValueError(f"keras.tree.assert_same_paths: paths only in the first {sorted(pa - pb)}, only in the "
                         f"second {sorted(pb - pa)}")


def _describe(x):
    return type(x).__name__ if is_nested(x) else "a leaf"


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` applied leaf by leaf across structures of the same shape; the result keeps that shape."""
    if not structures:
        raise TypeError("keras.tree.map_structure needs at least one structure")
    for other in structures[1:]:
        assert_same_structure(structures[0], other, check_types=False)
    flats = [flatten(s) for s in structures]
    return pack_sequence_as(structures[0], [func(*leaves) for leaves in zip(*flats)])


def map_structure_up_to(shallow_structure, func, *structures):
    """``func`` applied to the subtrees of ``structures`` found at the leaves of ``shallow_structure``."""
    def go(shallow, *subs):
        if not is_nested(shallow):
            return func(*subs)
        return _rebuild(shallow, [go(c, *[dict(_children(s))[k] for s in subs]) for k, c in _children(shallow)])
    return go(shallow_structure, *structures)


def map_shape_structure(func, structure):
    """``map_structure`` that treats tuples/lists of ints (shapes) as leaves."""
    def is_shape(x):
        return isinstance(x, (tuple, list)) and all(isinstance(v, int) or v is None for v in x)

    def go(s):
        if is_shape(s) or not is_nested(s):
            return func(s)
        return _rebuild(s, [go(c) for _, c in _children(s)])
    return go(structure)


def lists_to_tuples(structure):
    """Every list in ``structure`` made a tuple."""
    if not is_nested(structure):
        return structure
    items = [lists_to_tuples(c) for _, c in _children(structure)]
    return tuple(items) if isinstance(structure, list) else _rebuild(structure, items)


def traverse(func, structure, top_down=True):
    """Visit every node; ``func(node)`` returning non-None replaces the node (``MAP_TO_NONE``: by None)."""
    def fix(v):
        return None if v is MAP_TO_NONE else v

    def go(s):
        if top_down:
            r = func(s)
            if r is not None:
                return fix(r)
        if is_nested(s):
            s = _rebuild(s, [go(c) for _, c in _children(s)])
        if not top_down:
            r = func(s)
            if r is not None:
                return fix(r)
        return s
    return go(structure)
