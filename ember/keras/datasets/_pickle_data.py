"""A reader for the *data* in Python pickle streams that never runs code and never imports ``pickle``.

Keras ships CIFAR as pickled Python dicts and IMDB/Reuters as ``.npz`` files whose ragged arrays are pickled
object arrays. Ember never unpickles (unpickling can run any code the file names), so this module interprets the
pickle opcodes itself and builds only plain values: ``None``, bools, ints, floats, str, bytes, lists, tuples,
dicts, and NumPy arrays/dtypes, which it builds with NumPy directly. A stream that names any other callable
(``os.system``, a class, ...) is refused with an error naming it; nothing named in the stream is imported.

>>> data = bytes.fromhex("80027d710028580300000061626371014b014b02474000000000000000752e")
>>> loads(data)
{'abc': 1, 2: 2.0}
"""

from __future__ import annotations

import ast
import io
import struct
import zipfile

import numpy as np

# (module, name) pairs a stream may refer to; each is emulated below, never imported.
_RECONSTRUCT = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct")}
_FROMBUFFER = {("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer")}  # protocol 5
_NDARRAY, _DTYPE, _ENCODE = ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")


class PickleRefused(ValueError):
    """The stream needs something other than plain data (a callable Ember will not emulate)."""


class _Global:
    def __init__(self, module, name):
        if (module, name) not in _RECONSTRUCT | _FROMBUFFER | {_NDARRAY, _DTYPE, _ENCODE}:
            raise PickleRefused(
                f"this pickle refers to {module}.{name}; Ember reads only plain data and NumPy arrays from "
                "pickles and never runs code named in a file, so it will not load it"
            )
        self.key = (module, name)


class _ArrayStub:
    value = None


class _DtypeStub:
    def __init__(self, spec):
        self.spec = spec.decode("latin1") if isinstance(spec, bytes) else spec
        self.value = np.dtype(self.spec)


def _reduce(func, args):
    if not isinstance(func, _Global):
        raise PickleRefused(f"this pickle calls {type(func).__name__}; Ember's pickle data reader will not")
    if func.key in _RECONSTRUCT:
        return _ArrayStub()
    if func.key in _FROMBUFFER:
        raw, dtype, shape, order = args
        dtype = dtype.value if isinstance(dtype, _DtypeStub) else np.dtype(dtype)
        out = _ArrayStub()
        out.value = np.frombuffer(bytes(raw), dtype=dtype).reshape(shape, order=order).copy()
        return out
    if func.key == _DTYPE:
        return _DtypeStub(args[0])
    if func.key == _ENCODE:
        return args[0].encode(args[1] if len(args) > 1 else "utf-8")
    raise PickleRefused(f"this pickle calls {func.key[0]}.{func.key[1]} directly; Ember will not")


def _build(obj, state):
    if isinstance(obj, _DtypeStub):
        endian = state[1] if isinstance(state, tuple) and len(state) > 1 else "|"
        endian = endian.decode() if isinstance(endian, bytes) else endian
        if endian in "<>":
            obj.value = obj.value.newbyteorder(endian)
        return obj
    if isinstance(obj, _ArrayStub):
        _, shape, dtype, fortran, raw = state
        dtype = dtype.value if isinstance(dtype, _DtypeStub) else np.dtype(dtype)
        order = "F" if fortran else "C"
        if dtype.kind == "O":
            out = np.empty(len(raw), dtype=object)
            out[:] = [_finish(v) for v in raw]
            obj.value = out.reshape(shape, order=order)
        else:
            raw = raw.encode("latin1") if isinstance(raw, str) else bytes(raw)
            obj.value = np.frombuffer(raw, dtype=dtype).reshape(shape, order=order).copy()
        return obj
    raise PickleRefused(f"this pickle sets the state of a {type(obj).__name__}; Ember's reader will not")


def _finish(v):
    """Replace the array/dtype placeholders by their values, all the way down."""
    if isinstance(v, (_ArrayStub, _DtypeStub)):
        return v.value
    if isinstance(v, list):
        return [_finish(x) for x in v]
    if isinstance(v, tuple):
        return tuple(_finish(x) for x in v)
    if isinstance(v, dict):
        return {_finish(k): _finish(x) for k, x in v.items()}
    return v


def loads(data: bytes, encoding="bytes"):
    """The value in the pickle stream ``data``; Python 2 ``str`` objects come back as bytes
    (``encoding="bytes"``, as Keras reads CIFAR) or decoded with ``encoding``."""
    f = io.BytesIO(data)
    stack, marks, memo = [], [], {}

    def n(fmt):
        size = struct.calcsize(fmt)
        return struct.unpack(fmt, f.read(size))[0]

    def pop_mark():
        start = marks.pop()
        items = stack[start:]
        del stack[start:]
        return items

    def py2str(raw):
        return raw if encoding == "bytes" else raw.decode(encoding)

    while True:
        op = f.read(1)
        if not op:
            raise ValueError("truncated pickle stream (no STOP opcode)")
        c = op[0]
        if op == b".":
            return _finish(stack.pop())
        if c == 0x80:  # PROTO
            f.read(1)
        elif c == 0x95:  # FRAME
            f.read(8)
        elif op == b"(":
            marks.append(len(stack))
        elif op == b"}":
            stack.append({})
        elif op == b"]":
            stack.append([])
        elif op == b")":
            stack.append(())
        elif op == b"d":
            items = pop_mark()
            stack.append(dict(zip(items[::2], items[1::2])))
        elif op == b"l":
            stack.append(pop_mark())
        elif op == b"t":
            stack.append(tuple(pop_mark()))
        elif c in (0x85, 0x86, 0x87):  # TUPLE1..3
            k = c - 0x84
            items = stack[-k:]
            del stack[-k:]
            stack.append(tuple(items))
        elif op == b"a":
            v = stack.pop()
            stack[-1].append(v)
        elif op == b"e":
            items = pop_mark()
            stack[-1].extend(items)
        elif op == b"s":
            v, k = stack.pop(), stack.pop()
            stack[-1][k] = v
        elif op == b"u":
            items = pop_mark()
            stack[-1].update(zip(items[::2], items[1::2]))
        elif op == b"J":
            stack.append(n("<i"))
        elif op == b"K":
            stack.append(n("<B"))
        elif op == b"M":
            stack.append(n("<H"))
        elif c == 0x8A:  # LONG1
            stack.append(int.from_bytes(f.read(n("<B")), "little", signed=True))
        elif op == b"I":
            text = f.readline().strip()
            stack.append(text == b"01" if text in (b"00", b"01") else int(text))
        elif op == b"N":
            stack.append(None)
        elif c in (0x88, 0x89):
            stack.append(c == 0x88)
        elif op == b"G":
            stack.append(n(">d"))
        elif op == b"U":
            stack.append(py2str(f.read(n("<B"))))
        elif op == b"T":
            stack.append(py2str(f.read(n("<i"))))
        elif op == b"X":
            stack.append(f.read(n("<I")).decode("utf-8", "surrogatepass"))
        elif c == 0x8C:
            stack.append(f.read(n("<B")).decode("utf-8", "surrogatepass"))
        elif c == 0x8D:
            stack.append(f.read(n("<Q")).decode("utf-8", "surrogatepass"))
        elif op == b"B":
            stack.append(f.read(n("<I")))
        elif op == b"C":
            stack.append(f.read(n("<B")))
        elif c == 0x8E:
            stack.append(f.read(n("<Q")))
        elif c == 0x96:  # BYTEARRAY8
            stack.append(bytearray(f.read(n("<Q"))))
        elif op == b"q":
            memo[n("<B")] = stack[-1]
        elif op == b"r":
            memo[n("<I")] = stack[-1]
        elif c == 0x94:  # MEMOIZE
            memo[len(memo)] = stack[-1]
        elif op == b"p":
            memo[int(f.readline())] = stack[-1]
        elif op == b"h":
            stack.append(memo[n("<B")])
        elif op == b"j":
            stack.append(memo[n("<I")])
        elif op == b"g":
            stack.append(memo[int(f.readline())])
        elif op == b"c":
            module, name = f.readline().decode().strip(), f.readline().decode().strip()
            stack.append(_Global(module, name))
        elif c == 0x93:  # STACK_GLOBAL
            name, module = stack.pop(), stack.pop()
            stack.append(_Global(module, name))
        elif op == b"R":
            args, func = stack.pop(), stack.pop()
            stack.append(_reduce(func, args))
        elif op == b"b":
            state = stack.pop()
            _build(stack[-1], state)
        elif op == b"0":
            stack.pop()
        elif op == b"1":
            pop_mark()
        else:
            raise PickleRefused(f"pickle opcode {op!r} is not one Ember's data reader supports")


def load_npy_bytes(raw: bytes):
    """An array from ``.npy`` bytes; object arrays (stored as pickles) go through :func:`loads`."""
    f = io.BytesIO(raw)
    version = np.lib.format.read_magic(f)
    header = f.read(struct.unpack("<H" if version[0] == 1 else "<I", f.read(2 if version[0] == 1 else 4))[0])
    meta = ast.literal_eval(header.decode("latin1"))
    dtype = np.dtype(meta["descr"]) if not isinstance(meta["descr"], list) else np.dtype(
        [tuple(d) for d in meta["descr"]])
    order = "F" if meta["fortran_order"] else "C"
    if dtype.kind == "O":
        value = loads(f.read(), encoding="latin1")
        return np.asarray(value, dtype=object).reshape(meta["shape"], order=order) if not isinstance(
            value, np.ndarray) else value
    return np.frombuffer(f.read(), dtype=dtype).reshape(meta["shape"], order=order).copy()


def load_npz(path):
    """``{name: array}`` of every array in an ``.npz`` file, object arrays included, without unpickling."""
    with zipfile.ZipFile(path) as zf:
        return {name[:-4] if name.endswith(".npy") else name: load_npy_bytes(zf.read(name)) for name in zf.namelist()}
