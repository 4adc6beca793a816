"""Random number generation: ``manual_seed``, ``Generator`` and the default generator (NumPy's PCG64).

Numbers are drawn on the CPU and moved to the device, so a seed gives the same values on every device.
"""
from __future__ import annotations

import contextlib

import numpy as np

from ._state import STATE


class Generator:
    """A seedable random source, like ``torch.Generator``.

    >>> g = Generator().manual_seed(0)
    >>> import ember; ember.rand(2, generator=g).shape
    ember.Size([2])
    """

    def __init__(self, device="cpu"):
        self.device = device
        self._seed = int(np.random.SeedSequence().entropy % (2 ** 63))
        self._np = np.random.Generator(np.random.PCG64(self._seed))

    def manual_seed(self, seed: int) -> Generator:
        self._seed = int(seed)
        self._np = np.random.Generator(np.random.PCG64(self._seed))
        return self

    def seed(self) -> int:
        return self.manual_seed(int(np.random.SeedSequence().entropy % (2 ** 63)))._seed

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self):
        """The state as a uint8 tensor-free dict of plain data (JSON-serialisable; no pickle)."""
        st = self._np.bit_generator.state
        return {"bit_generator": st["bit_generator"], "state": {k: int(v) for k, v in st["state"].items()},
                "has_uint32": int(st["has_uint32"]), "uinteger": int(st["uinteger"]), "seed": self._seed}

    def set_state(self, state) -> None:
        st = dict(state)
        self._seed = int(st.pop("seed", self._seed))
        self._np.bit_generator.state = st


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed Ember's default generator (and NumPy's legacy global one, which some user code relies on)."""
    np.random.seed(int(seed) % (2 ** 32))
    return default_generator.manual_seed(seed)


def seed() -> int:
    return default_generator.seed()


def initial_seed() -> int:
    return default_generator.initial_seed()


def get_rng_state():
    return default_generator.get_state()


def set_rng_state(state) -> None:
    default_generator.set_state(state)


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type="cuda"):
    """Restore the random state on exit: draws made inside the ``with`` do not change later ones.

    Ember draws every random number from one CPU generator (then moves it to the device), so that one state
    covers all devices; ``devices`` and ``device_type`` are accepted for PyTorch code and change nothing.
    ``enabled=False`` makes it a no-op.

    >>> import ember
    >>> _ = ember.manual_seed(0)
    >>> with ember.random.fork_rng():
    ...     inside = ember.rand(2)
    >>> bool((ember.rand(2) == inside).all())
    True
    """
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)


def numpy_generator(generator=None) -> np.random.Generator:
    """The NumPy generator behind ``generator`` (default: Ember's), for numbers drawn in Python rather than by
    the random primitives (an explicit ``generator=``, shuffles, initialisers). A graph tracer would freeze
    such numbers into the graph, so while one is active the draw is a graph break (see ``ember.compile``)."""
    if STATE.tracer is not None:
        STATE.tracer.on_host_draw()
    return (generator or default_generator)._np
