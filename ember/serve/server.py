"""``Server``: uvicorn (uvloop + httptools) running the serving app, in this thread or a background one.

Example:
    >>> import ember, os, tempfile, json, urllib.request
    >>> from ember import nn
    >>> base = tempfile.mkdtemp(); os.makedirs(os.path.join(base, "1"))
    >>> prog = ember.export.export(nn.Linear(3, 2).eval(), (ember.ones(2, 3),), dynamic_batch=True)
    >>> ember.export.save(prog, os.path.join(base, "1", "model.ember"))
    >>> server = Server({"lin": base}, port=0, log=lambda m: None).start()  # port 0: any free port
    >>> body = json.dumps({"instances": [[1, 2, 3]]}).encode()
    >>> req = urllib.request.Request(server.url + "/v1/models/lin:predict", body)
    >>> len(json.load(urllib.request.urlopen(req))["predictions"][0])
    2
    >>> server.stop()
"""

from __future__ import annotations

import threading
import time

from .app import ServingApp
from .batching import Runner
from .manager import ModelConfig, ModelManager


class Server:
    """Serve ``models`` (``{name: base_path}`` or a list of ``ModelConfig``) over HTTP on ``host:port``."""

    def __init__(self, models, port=8501, host="127.0.0.1", enable_batching=False, max_batch_size=32,
                 batch_timeout_micros=1000, poll_seconds=1.0, max_request_bytes=64 << 20, log=print,
                 inline=False, onnx_threads=0, demo=True):
        configs = [ModelConfig(n, p) for n, p in models.items()] if isinstance(models, dict) else list(models)
        self.log = log
        self.host, self.port = host, port
        self.manager = ModelManager(configs, poll_seconds=poll_seconds, log=log, onnx_threads=onnx_threads)
        runner = Runner(enable_batching, max_batch_size, batch_timeout_micros, inline=inline)
        self.app = ServingApp(self.manager, runner, max_request_bytes=max_request_bytes, log=log, demo=demo)
        self._server = None
        self._thread = None
        if enable_batching:
            log(f"ember serve: batching on (max_batch_size {max_batch_size}, batch_timeout_micros "
                f"{batch_timeout_micros})")

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def _uvicorn(self):
        import uvicorn

        config = uvicorn.Config(self.app, host=self.host, port=self.port, loop="uvloop", http="httptools",
                                log_level="warning", access_log=False, lifespan="on", timeout_keep_alive=30)
        return uvicorn.Server(config)

    def _announce(self):
        sock = self._server.servers[0].sockets[0]
        self.port = sock.getsockname()[1]
        names = ", ".join(sorted(self.manager.configs))
        self.log(f"ember serve: REST API at {self.url} (models: {names}; TF Serving /v1, KServe /v2, "
                 f"metrics at /monitoring/prometheus/metrics, demo page at /)")

    def start(self, timeout=60.0) -> Server:
        """Load the models, then serve from a background thread; returns once the port is listening."""
        self.manager.start()
        self._server = self._uvicorn()
        self._thread = threading.Thread(target=self._run_in_thread, name="ember-serve-http", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"ember serve: the HTTP server did not start on {self.host}:{self.port}")
            time.sleep(0.01)
        self._announce()
        return self

    def _run_in_thread(self):
        import uvloop

        # no signal handlers off the main thread: uvicorn's capture_signals would fail there
        self._server.capture_signals = _no_signals
        uvloop.run(self._server.serve())

    def stop(self) -> None:
        """Stop serving (in-flight requests finish) and the version poller."""
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.manager.stop()

    def serve_forever(self) -> None:
        """Serve in this thread until interrupted (Ctrl-C / SIGTERM)."""
        import uvloop

        self.manager.start()
        self._server = self._uvicorn()
        original = self._server.startup

        async def startup(sockets=None):
            await original(sockets)
            self._announce()

        self._server.startup = startup
        try:
            uvloop.run(self._server.serve())
        finally:
            self.manager.stop()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class _NoSignals:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _no_signals():
    return _NoSignals()
