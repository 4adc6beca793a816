"""Running requests on a model: one at a time, or merged into batches (TF Serving's ``--enable_batching``).

With batching on, requests for the same model version whose inputs agree in everything but the batch dim wait
up to ``batch_timeout_micros`` for company; a batch runs as soon as it holds ``max_batch_size`` rows or the
timeout fires, and each request gets its own rows of the result. Models run on one worker thread, so the event
loop keeps accepting (and batching) requests while a batch computes.

Example:
    >>> import asyncio, numpy as np
    >>> from ember.export import TensorSpec
    >>> class Double:
    ...     input_specs = [TensorSpec("x", (None, 2), "float64")]
    ...     def run(self, arrays):
    ...         return [arrays[0] * 2]
    >>> class Served:
    ...     name, version, backend = "m", 1, Double()
    >>> runner = Runner(batching=True, max_batch_size=8, batch_timeout_micros=1000)
    >>> async def two_requests():
    ...     one, two = runner.run(Served(), [np.ones((1, 2))]), runner.run(Served(), [np.ones((2, 2))])
    ...     return await asyncio.gather(one, two)
    >>> [out[0].shape for out in asyncio.run(two_requests())]
    [(1, 2), (2, 2)]
"""

from __future__ import annotations

import asyncio
import concurrent.futures

import numpy as np

from .codec import RequestError


class ModelError(RuntimeError):
    """The model itself failed on inputs that passed the checks (a 500: the server's problem, not the client's)."""


class Runner:
    """Runs a served version on checked input arrays; ``observe_batch(size)`` is called per model call."""

    def __init__(self, batching=False, max_batch_size=32, batch_timeout_micros=1000, observe_batch=None,
                 inline=False):
        self.batching = batching
        self.max_batch_size = max_batch_size
        self.timeout = batch_timeout_micros / 1e6
        self.observe_batch = observe_batch or (lambda size: None)
        self.inline = inline and not batching  # inline: run on the event loop (tiny models, no thread hop)
        self.pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="ember-serve-model")
        self.pending: dict = {}  # key -> [(arrays, rows, future)], the batch being collected

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    async def run(self, served, arrays: list) -> list:
        rows = arrays[0].shape[0] if arrays and arrays[0].ndim else 1
        if not self.batching or not _batchable(served, arrays):
            self.observe_batch(rows)
            if self.inline:
                return _call(served, arrays)
            return await asyncio.get_running_loop().run_in_executor(self.pool, _call, served, arrays)
        key = (id(served), tuple((a.shape[1:], a.dtype.str) for a in arrays))
        future = asyncio.get_running_loop().create_future()
        batch = self.pending.get(key)
        if batch is None:
            batch = self.pending[key] = [[], 0]
            asyncio.get_running_loop().call_later(self.timeout, self._flush, key, batch, served)
        batch[0].append((arrays, rows, future))
        batch[1] += rows
        if batch[1] >= self.max_batch_size:
            self._flush(key, batch, served)
        return await future

    def _flush(self, key, batch, served) -> None:
        if self.pending.get(key) is not batch:
            return  # already flushed (full before the timeout)
        del self.pending[key]
        items = batch[0]
        self.observe_batch(batch[1])
        merged = [np.concatenate([it[0][i] for it in items]) if len(items) > 1 else items[0][0][i]
                  for i in range(len(items[0][0]))]
        done = asyncio.get_running_loop().run_in_executor(self.pool, _call, served, merged)
        done.add_done_callback(lambda f: _split(f, items))


def _batchable(served, arrays) -> bool:
    """Batching needs a dynamic dim 0 on every input (and outputs that follow it)."""
    specs = served.backend.input_specs
    return bool(arrays) and all(a.ndim and s.shape and s.shape[0] is None for a, s in zip(arrays, specs))


def _call(served, arrays):
    try:
        return served.backend.run(arrays)
    except RequestError:
        raise
    except ValueError as exc:  # the program's own input checks (ExportError is a ValueError)
        raise RequestError(str(exc)) from None
    except Exception as exc:
        raise ModelError(f"model {served.name!r} version {served.version} failed: {type(exc).__name__}: {exc}") \
            from None


def _split(done, items) -> None:
    exc = done.exception()
    if exc is None:
        outs = done.result()
        total = sum(rows for _, rows, _ in items)
        if any(o.ndim == 0 or o.shape[0] != total for o in outs):
            exc = ModelError(f"batched outputs {[o.shape for o in outs]} do not have the batch ({total}) as dim 0; "
                             f"turn batching off for this model")
    start = 0
    for _, rows, future in items:
        if not future.done():  # a client that went away leaves a cancelled future
            if exc is not None:
                future.set_exception(exc)
            else:
                future.set_result([o[start:start + rows] for o in outs])
        start += rows
