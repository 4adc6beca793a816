"""Tensor: one array (NumPy or CuPy) plus autograd state. Operators dispatch to ``ops.apply``.

>>> import ember
>>> x = ember.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
>>> y = (x @ x).sum()
>>> y.backward()
>>> x.grad
tensor([[ 7., 11.],
        [ 9., 13.]])
"""
from __future__ import annotations

import numpy as np

from . import backend, dtypes
from . import memory_format as _mf
from ._state import STATE
from ._tensor_methods import TensorMethods
from .backend import float_errors_off, float_errors_restore
from .errors import mark, user_site, with_user_line

# installed by ember/_wiring.py (pieces of higher layers)
_to_array = VersionCounter = backward = POST_HOOKS = REGISTRY = apply = build_key = _promote_pair = None
check_complex = None

_ndarray = np.ndarray
_scalar_cache: dict = {}


class Tensor(TensorMethods):
    __slots__ = ("_data", "requires_grad", "_grad", "_node", "_vc", "_hooks", "_retains", "__weakref__",
                 "__dict__")
    __array_priority__ = 1000  # NumPy defers to our reflected operators (ndarray * tensor -> Tensor)

    def __init__(self, *args, dtype=None, device=None, requires_grad=False):
        # like torch.Tensor: Tensor(2, 3) is an uninitialised 2x3 float tensor, Tensor(data) copies data as float
        if args and all(isinstance(a, int) and not isinstance(a, bool) for a in args):
            arr = np.empty(args, dtype=(dtype and dtypes.to_np(dtype)) or dtypes.get_default_dtype().np)
        else:
            data = args[0] if args else []
            arr = _to_array(data, dtype or dtypes.get_default_dtype(), device)
        self._init(arr)
        if STATE.tracer is not None:
            STATE.tracer.on_created(arr)
        if requires_grad:
            self.requires_grad_(True)

    def _init(self, arr):
        self._data = arr
        self.requires_grad = False
        self._grad = None
        self._node = None
        self._vc = None
        self._hooks = None
        self._retains = False

    @classmethod
    def _wrap(cls, arr):
        t = object.__new__(cls)
        t._data = arr
        t.requires_grad = False
        t._grad = None
        t._node = None
        t._vc = None
        t._hooks = None
        t._retains = False
        return t

    @classmethod
    def _created(cls, arr):
        """A tensor holding an array just made from Python data (``zeros``, ``full``, ``tensor([...])``). A
        graph tracer takes its value as made for a constant of the graph, also when the traced function
        writes into it later (each call starts again from the made value)."""
        t = cls._wrap(arr)
        if STATE.tracer is not None:
            STATE.tracer.on_created(arr)
        return t

    def _version_counter(self):
        vc = self._vc
        if vc is None:
            vc = self._vc = VersionCounter()
        return vc

    # -- attributes ------------------------------------------------------------------------------------------
    @property
    def shape(self):
        return Size(self._data.shape)

    @property
    def dtype(self):
        return dtypes.from_np(self._data.dtype)

    @property
    def device(self):
        return backend.device_of(self._data)

    @property
    def is_cuda(self):
        return self.device.type == "cuda"

    @property
    def ndim(self):
        return self._data.ndim

    @property
    def is_leaf(self):
        return self._node is None

    @property
    def grad_fn(self):
        return self._node

    @property
    def _version(self):
        return 0 if self._vc is None else self._vc.value

    @property
    def data(self):
        return self.detach()

    @data.setter
    def data(self, other):
        self._data = other._data

    @property
    def is_floating_point_(self):
        return dtypes.is_float(self._data.dtype)

    def size(self, dim=None):
        return Size(self._data.shape) if dim is None else self._data.shape[dim]

    def dim(self):
        return self._data.ndim

    def numel(self):
        return int(self._data.size)

    def element_size(self):
        return self._data.dtype.itemsize

    def is_floating_point(self):
        return dtypes.is_float(self._data.dtype)

    def is_contiguous(self, memory_format=None):
        """Whether the elements lie densely in ``memory_format``'s order (row-major by default)."""
        if memory_format is None or memory_format is _mf.contiguous_format:
            return bool(self._data.flags.c_contiguous)
        fmt = _mf.check_format("is_contiguous", memory_format)
        if fmt.order is None or len(fmt.order) != self._data.ndim:
            return False
        return _mf.is_in_format(self._data.shape, self.stride(), fmt)

    @property
    def layout(self):
        return _mf.strided

    def __len__(self):
        if self._data.ndim == 0:
            raise mark(TypeError("len() of a 0-d tensor"))
        return self._data.shape[0]

    def __iter__(self):
        if self._data.ndim == 0:
            raise mark(TypeError("iteration over a 0-d tensor"))
        return (self[i] for i in range(self._data.shape[0]))

    __hash__ = object.__hash__

    # -- conversion --------------------------------------------------------------------------------------
    def _data_access(self, what):
        if STATE.tracer is not None:
            STATE.tracer.on_data_access(self, what)

    def numpy(self, *, force=False):
        """The data as a NumPy array; zero-copy on the CPU (changes show on both sides)."""
        self._data_access("numpy")
        if self.requires_grad and not force:
            raise mark(with_user_line(RuntimeError(
                "Can't call numpy() on a tensor that requires grad. Use tensor.detach().numpy() instead."), 2))
        return self._data if type(self._data) is _ndarray else backend.to_device(self._data, backend.CPU)

    def __array__(self, dtype=None, copy=None):
        self._data_access("numpy")
        arr = backend.to_device(self._data, backend.CPU)
        return arr if dtype is None else arr.astype(dtype, copy=False)

    def item(self):
        self._data_access("item")
        if self._data.size != 1:
            raise mark(with_user_line(RuntimeError(
                f"item(): a tensor with {self._data.size} elements (shape {tuple(self._data.shape)}) cannot be "
                "converted to a Python scalar; only one-element tensors can. Reduce it first (e.g. .sum()) or use "
                ".tolist()."), 2))
        return self._data.reshape(()).item()

    def tolist(self):
        self._data_access("tolist")
        return backend.to_device(self._data, backend.CPU).tolist()

    def __bool__(self):
        self._data_access("bool")
        if self._data.size != 1:
            raise mark(with_user_line(RuntimeError(
                f"Boolean value of a tensor with {self._data.size} elements is ambiguous; use .any() or .all()"),
                2))
        return bool(self._data.reshape(()).item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self._data.dtype.kind not in "iu" or self._data.size != 1:
            raise mark(TypeError(f"only integer tensors of a single element can be converted to an index, got "
                                 f"{self.dtype.name} of shape {tuple(self._data.shape)}"))
        return int(self.item())

    def __complex__(self):
        return complex(self.item())

    def __format__(self, spec):
        if self._data.ndim == 0 and spec:
            return format(self.item(), spec)
        return str(self)

    def __repr__(self):
        from ._printing import tensor_repr

        self._data_access("print")
        return tensor_repr(self)

    __str__ = __repr__

    def __reduce_ex__(self, protocol):  # DataLoader workers send tensors between processes
        return (_rebuild, (backend.to_device(self._data, backend.CPU), self.requires_grad))

    def __deepcopy__(self, memo):
        if not self.is_leaf:
            raise mark(RuntimeError("Only leaf tensors support deepcopy; detach() it first"))
        t = self.__class__._wrap(self._data.copy())
        t.requires_grad = self.requires_grad
        if self.grad is not None:
            t.grad = self.grad.clone()
        if hasattr(self, "__dict__"):
            for k, v in self.__dict__.items():
                setattr(t, k, v)
        memo[id(self)] = t
        return t

    # -- autograd ----------------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad=True):
        if requires_grad and not dtypes.is_float(self._data.dtype) and self._data.dtype.kind != "c":
            raise mark(with_user_line(RuntimeError(
                f"only floating-point and complex tensors can require gradients, got {self.dtype.name}. "
                "Convert it first, e.g. x.float().requires_grad_()"), 2))
        if not requires_grad and self._node is not None:
            raise mark(RuntimeError("you can only change requires_grad of leaf tensors; use detach() instead"))
        self.requires_grad = bool(requires_grad)
        return self

    def backward(self, gradient=None, retain_graph=None, create_graph=False, inputs=None):
        """Accumulate gradients of this tensor into the ``.grad`` of the leaves it depends on."""
        backward([self], None if gradient is None else [gradient], retain_graph, create_graph, inputs)

    def detach(self):
        t = Tensor._wrap(self._data)
        t._vc = self._version_counter()
        return t

    def detach_(self):
        self._node = None
        self.requires_grad = False
        return self

    def register_hook(self, hook):
        """Call ``hook(grad)`` when this tensor's gradient is computed; it may return a replacement."""
        if not self.requires_grad:
            raise mark(RuntimeError("cannot register a hook on a tensor that doesn't require gradient"))
        if self._node is not None:
            if self._node.hooks is None:
                self._node.hooks = []
            hooks = self._node.hooks
        else:
            if self._hooks is None:
                self._hooks = []
            hooks = self._hooks
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def share_memory_(self):
        """Move the data into a named shared-memory block (in place), so processes started by
        ``ember.multiprocessing`` that receive this tensor read and write the same memory (CPU only)."""
        if self.__dict__.get("_shm") is None:
            from multiprocessing import shared_memory

            arr = self._data
            shm = shared_memory.SharedMemory(create=True, size=max(arr.nbytes, 1))
            shared = np.ndarray(arr.shape, arr.dtype, buffer=shm.buf)
            shared[...] = arr
            self._data = shared
            self.__dict__["_shm"] = shm
            import weakref

            weakref.finalize(self, _release_shared, shm, True)
        return self

    def is_shared(self) -> bool:
        return self.__dict__.get("_shm") is not None

    def register_post_accumulate_grad_hook(self, hook):
        """Call ``hook(self)`` on this leaf right after backward has accumulated its ``.grad`` (PyTorch's name).

        The gradient is accumulated as soon as it is final, while backward goes on with the rest of the graph;
        DistributedDataParallel starts its gradient all-reduce from here."""
        if self._node is not None:
            raise mark(RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors"))
        if not self.requires_grad:
            raise mark(RuntimeError("cannot register a hook on a tensor that doesn't require gradient"))
        POST_HOOKS.registered = True
        hooks = self.__dict__.setdefault("_post_acc_hooks", [])
        hooks.append(hook)
        return RemovableHandle(hooks, hook)

    def retain_grad(self):
        if self._node is None or self._retains:
            return
        import weakref

        ref = weakref.ref(self)

        def keep(g):
            t = ref()
            if t is not None:
                t.grad = g.detach() if t.grad is None else t.grad + g.detach()

        self._retains = True
        self.register_hook(keep)

    @property
    def grad(self):
        """The gradient accumulated by ``backward()`` (None until then). Reading it on a non-leaf that does
        not ``retain_grad()`` warns, as in PyTorch: backward never fills it there."""
        g = self._grad
        if g is None and self._node is not None and not self._retains:
            from .errors import warn_user

            warn_user(f"the .grad of a non-leaf tensor (shape {tuple(self.shape)}, the output of "
                      f"{self._node.op.name if hasattr(self._node.op, 'name') else 'an op'}) is being read; "
                      "backward() fills .grad only on leaf tensors, so it is None. Call .retain_grad() on this "
                      "tensor before backward() to keep its gradient, or read the .grad of the leaf (e.g. the "
                      "parameter or input created with requires_grad=True).")
        return g

    @grad.setter
    def grad(self, value):
        self._grad = value

    @property
    def retains_grad(self):
        return self._retains

    # -- in-place machinery -------------------------------------------------------------------------------
    # The one way tensor storage changes: ``_inplace`` (x.op_(...)), ``_setitem`` (x[key] = v, copy_, fill_,
    # zero_) and ``_write`` under both. Each bumps the version counter and, while a graph tracer is active,
    # records the write, so a compiled function does what the eager one does. Library code uses the public
    # in-place methods built on these; tests/test_layering_writes.py fails on any other write to ``_data``.
    def _inplace(self, op_name, *others, **attrs):
        """Run primitive ``op_name`` and write the result into this tensor's buffer (PyTorch's ``x.op_()``)."""
        if STATE.tracer is None and not attrs and self._fast_inplace(op_name, others):
            return self
        op = REGISTRY[op_name]
        others = tuple(o if isinstance(o, Tensor) else self._scalar(o) for o in others)
        if len(others) == 1 and others[0]._data.dtype != self._data.dtype:
            others = (self._promoted_operand(others[0], op_name),)
        recording = STATE.grad_enabled and (self.requires_grad or any(o.requires_grad for o in others))
        if recording:
            self._check_leaf_inplace(op_name)
            old = Tensor._wrap(self._data)
            if 0 in op.saved_indices(1 + len(others)):  # the vjp reads the old value: keep a copy (traced)
                old = apply("copy", old)
            old._node, old.requires_grad = self._node, self.requires_grad
            res = apply(op, old, *others, **attrs)
        elif STATE.tracer is not None:  # a trace must see the op (optimizer updates under no_grad)
            res = apply(op, Tensor._wrap(self._data), *others, **attrs)
        else:
            if dtypes.COMPLEX_SEEN[0] and not op.complex_ok:
                check_complex(op, (self, *others))
            res = Tensor._wrap(op.forward(_xp(self._data), self._data, *[o._data for o in others], **attrs))
        self._write(res, op_name)
        return self

    def _fast_inplace(self, op_name, others) -> bool:
        """Eager, unrecorded float arithmetic straight into the buffer with ``out=`` (no temporary, the same
        values as forward + copy); False when the general path is needed."""
        data = self._data
        ufunc = _INPLACE_UFUNC.get(op_name)
        if ufunc is None or data.dtype.kind != "f":
            return False
        args = []
        for o in others:
            cls = o.__class__
            if cls is float or cls is int:  # a weak Python scalar: computed in data's dtype, like _scalar(o)
                args.append(o)
            elif isinstance(o, Tensor) and o._data.dtype == data.dtype and not (
                    o.requires_grad and STATE.grad_enabled):
                args.append(o._data)
            else:
                return False
        if self.requires_grad and STATE.grad_enabled:
            return False
        quiet = float_errors_off()  # no NumPy float warnings, as in ops.apply
        try:
            getattr(_xp(data), ufunc)(data, *args, out=data)
        except ValueError:  # an operand that does not broadcast to self, a read-only view: explained below
            return False
        finally:
            float_errors_restore(quiet)
        self._bump(op_name)
        return True

    def _setitem(self, index, index_tensors, value):
        """``self[key] = value`` for a normalised key (``ops.indexing`` spec + index tensors); ``value`` is a
        Tensor. Recorded for autograd when either side requires grad, and for a graph tracer."""
        if value._data.dtype.kind == "c" and self._data.dtype.kind != "c":  # PyTorch: the real part, warned
            from .errors import warn_user

            warn_user("Casting complex values to real discards the imaginary part")
            value = apply("real", value)
        if STATE.grad_enabled and (self.requires_grad or value.requires_grad):
            self._check_leaf_inplace("setitem")
            old = Tensor._wrap(self._data)
            old._node, old.requires_grad = self._node, self.requires_grad
            v = value if value._data.dtype == self._data.dtype else value.to(self.dtype)
            self._write(apply("index_put", old, v, *index_tensors, index=index, accumulate=False), "setitem")
        elif STATE.tracer is not None:
            v = value if value._data.dtype == self._data.dtype else value.to(self.dtype)
            if index == (("ellipsis",),) and not index_tensors:  # a whole overwrite (copy_, fill_, zero_)
                res = v if v._data.shape == self._data.shape else v.expand(*self._data.shape)
            else:
                res = apply("index_put", Tensor._wrap(self._data), v, *index_tensors, index=index,
                            accumulate=False)
            self._write(res, "setitem")
        else:
            try:
                self._data[build_key(index, [t._data for t in index_tensors])] = value._data
            except (ValueError, IndexError) as e:
                raise mark(with_user_line(type(e)(
                    f"setitem: cannot assign a value of shape {tuple(value.shape)} to the indexed region of a "
                    f"tensor of shape {tuple(self.shape)}: {e}"), 3)) from None
            self._bump("setitem")

    def _write(self, res, op_name):
        """Copy ``res`` into this tensor's buffer, adopt its autograd history, and bump the version."""
        out = res._data
        if out.dtype != self._data.dtype and not np.can_cast(out.dtype, self._data.dtype, "same_kind"):
            raise mark(with_user_line(RuntimeError(
                f"{op_name}_: result type {dtypes.from_np(out.dtype).name} can't be cast to the desired output "
                f"type {self.dtype.name}. Use the out-of-place form (x = x.{op_name}(...)) instead."), 3))
        if out.shape != self._data.shape:
            if np.broadcast_shapes(out.shape, self._data.shape) != self._data.shape:
                raise mark(with_user_line(RuntimeError(
                    f"{op_name}_: output with shape {tuple(self._data.shape)} doesn't match the broadcast shape "
                    f"{tuple(out.shape)}"), 3))
        if out is not self._data:
            _xp(self._data).copyto(self._data, out, casting="unsafe")
        if res._node is not None:
            self._node, self.requires_grad = res._node, True
        self._bump(op_name)
        if STATE.tracer is not None:
            STATE.tracer.record_inplace(self, res)

    def _reshape_(self, new, op_name):
        """An in-place shape change (``unsqueeze_``, ``squeeze_``): adopt ``new`` (a reshape of this buffer)."""
        if STATE.grad_enabled and self.requires_grad:
            self._check_leaf_inplace(op_name)
        self._data = new._data
        if new._node is not None:
            self._node, self.requires_grad = new._node, True
        self._bump(op_name)
        if STATE.tracer is not None:
            STATE.tracer.record_inplace(self, new)
        return self

    def _promoted_operand(self, other, op_name):
        """``other`` cast to the PyTorch result type of (self, other), which must fit back into self."""
        _, other = _promote_pair(self, other)
        if not np.can_cast(other._data.dtype, self._data.dtype, "same_kind"):
            raise mark(with_user_line(RuntimeError(
                f"{op_name}_: result type {other.dtype.name} can't be cast to the desired output type "
                f"{self.dtype.name}. Use the out-of-place form (x = x.{op_name}(...)) or convert x first "
                f"(e.g. x = x.float())."), 4))
        return other

    def _bump(self, op_name):
        vc = self._version_counter()
        vc.value += 1
        if STATE.grad_enabled:
            vc.last_op, vc.last_site = op_name + "_", user_site(3)

    def _check_leaf_inplace(self, op_name):
        if self._node is None and self.requires_grad:
            raise mark(with_user_line(RuntimeError(
                f"a leaf tensor that requires grad (shape {tuple(self.shape)}) is being used in an in-place "
                f"operation ({op_name}_). Wrap the update in `with ember.no_grad():` (as optimizers do), or use "
                "an out-of-place op."), 4))

    def _scalar(self, value):
        """A 0-d tensor for a Python scalar meeting this tensor (PyTorch: scalars don't upcast tensors)."""
        dt = self._data.dtype
        cat = 0 if isinstance(value, bool) else 1 if isinstance(value, int) else 3 if isinstance(value, complex) \
            else 2
        own = 0 if dt.kind == "b" else 1 if dt.kind in "iu" else 3 if dt.kind == "c" else 2
        if cat > own:
            dt = dtypes.scalar_dtype(value).np if cat < 3 else (
                dtypes.to_complex(dtypes.from_np(dt), "a complex number with a " + dt.name + " tensor").np
                if own == 2 else dtypes.default_complex().np)
        key = (value, dt, cat)
        t = _scalar_cache.get(key) if type(self._data) is _ndarray else None
        if t is None:
            t = Tensor._wrap(_xp(self._data).asarray(value, dtype=dt))
            if type(self._data) is _ndarray:
                if len(_scalar_cache) > 4096:
                    _scalar_cache.clear()
                _scalar_cache[key] = t
        return t


def update_(op_name, states, *operands, graph_form=None, **attrs):
    """Update the tensors ``states`` in place with update primitive ``op_name`` (``ops.update_primitive``),
    reading ``operands``. Eagerly its kernel writes straight into their buffers. Under a graph tracer the update
    is recorded and each state is written with its new value: from ``graph_form(*states, *operands, **attrs)``
    (the same rule in Ember ops, which the compiler can fuse) when given and the primitive's "record_whole"
    lowering does not claim the arrays, else from the primitive's functional form (which the executor runs
    in place: ``graph/passes/updates.py``). Not differentiable: run it under ``no_grad`` (optimizers do)."""
    op = REGISTRY[op_name]
    if STATE.grad_enabled and any(t.requires_grad for t in (*states, *operands)):
        raise mark(with_user_line(RuntimeError(
            f"{op_name}: an update primitive is not recorded for autograd; run it under ember.no_grad()"), 2))
    if dtypes.COMPLEX_SEEN[0]:
        check_complex(op, (*states, *operands))
    if STATE.tracer is None:
        quiet = float_errors_off()  # no NumPy float warnings, as in ops.apply
        try:
            op.update(_xp(states[0]._data), *[t._data for t in states], *[t._data for t in operands], **attrs)
        finally:
            float_errors_restore(quiet)
        for t in states:
            t._bump(op_name)
        return
    whole = op.lowerings.get("record_whole")  # the primitive itself is faster than its graph form here
    if graph_form is not None and not (whole is not None and whole(*[t._data for t in (*states, *operands)])):
        new = graph_form(*states, *operands, **attrs)
    else:
        stacked = apply(op, *states, *operands, **attrs)
        new = [apply("getitem", stacked, index=(("int", i),)) for i in range(len(states))]
    for t, v in zip(states, new):
        t._write(v if v._data.dtype == t._data.dtype else v.to(t.dtype), op_name)


# primitives whose forward is exactly ``xp.<ufunc>(*inputs)``: eager in-place calls write with ``out=``
_INPLACE_UFUNC = {"add": "add", "sub": "subtract", "mul": "multiply", "div": "true_divide", "neg": "negative",
                  "maximum": "maximum", "minimum": "minimum", "sqrt": "sqrt", "exp": "exp", "abs": "abs",
                  "tanh": "tanh", "pow": "power"}


def _xp(arr):
    return np if type(arr) is _ndarray else backend.xp_of(arr)


def _rebuild(arr, requires_grad):
    t = Tensor._wrap(arr)
    t.requires_grad = requires_grad
    return t


class Size(tuple):
    """``tensor.shape``: a tuple that prints like PyTorch's ``torch.Size([2, 3])``."""

    def __repr__(self):
        return f"ember.Size({list(self)})"

    def numel(self):
        n = 1
        for s in self:
            n *= s
        return n


class RemovableHandle:
    def __init__(self, container, item):
        self._container, self._item = container, item

    def remove(self):
        try:
            self._container.remove(self._item)
        except ValueError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


def _release_shared(shm, owner):
    shm.close()
    if owner:
        try:
            shm.unlink()
        except FileNotFoundError:
            pass
