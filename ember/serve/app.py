"""The ASGI application: TF Serving's REST API (v1), the Open Inference Protocol (v2), Prometheus metrics and
the demo page, over a ``ModelManager`` (versions) and a ``Runner`` (batching).

Routes:

- ``GET /v1/models/{name}[/versions/{v}]`` (status), ``GET .../metadata`` (signature),
  ``POST /v1/models/{name}[/versions/{v}]:predict`` (``instances`` or ``inputs``);
- ``GET /v2``, ``/v2/health/live``, ``/v2/health/ready``, ``GET /v2/models/{name}[/versions/{v}]``,
  ``.../ready``, ``POST .../infer``;
- ``GET /monitoring/prometheus/metrics``; ``GET /`` (draw a digit: browser and server predictions).

Errors are ``{"error": "..."}`` with a 4xx status for anything the client can fix (a 5xx only if a model fails
on inputs that passed its checks).
"""

from __future__ import annotations

import contextlib
import re
import time
import traceback

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .batching import ModelError, Runner
from .codec import (
    RequestError,
    decode_infer,
    decode_predict,
    dumps,
    encode_infer,
    encode_predict,
    parse_json,
    tf_tensor_info,
    v2_tensor_metadata,
)
from .demo import Demo

V1 = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<tail>/metadata|:predict)?$")
V2 = re.compile(r"^(?P<name>[^/]+)(?:/versions/(?P<version>[^/]+))?(?P<tail>/ready|/infer)?$")
LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10)


class Metrics:
    """Prometheus metrics of one server (its own registry, so several servers can live in one process)."""

    def __init__(self):
        self.registry = CollectorRegistry()
        self.requests = Counter("ember_serving_request_count", "Requests by model, API and HTTP status",
                                ["model_name", "api", "status"], registry=self.registry)
        self.latency = Histogram("ember_serving_request_latency_seconds", "Request latency (seconds)",
                                 ["model_name", "api"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.batch_size = Histogram("ember_serving_batch_size", "Rows per model call",
                                    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512), registry=self.registry)


def json_response(doc, status=200) -> Response:
    return Response(dumps(doc), status_code=status, media_type="application/json")


def error_response(message: str, status: int) -> Response:
    return json_response({"error": message}, status)


class ServingApp:
    """Builds the Starlette app; ``max_request_bytes`` bounds request bodies (413 beyond)."""

    def __init__(self, manager, runner: Runner | None = None, max_request_bytes=64 << 20, log=print, demo=True):
        self.manager = manager
        self.metrics = Metrics()
        self.runner = runner or Runner()
        self.runner.observe_batch = self.metrics.batch_size.observe
        self.max_request_bytes = max_request_bytes
        self.log = log
        self.demo = Demo(manager) if demo else None
        routes = [
            Route("/v1/models/{rest:path}", self.v1, methods=["GET", "POST"]),
            Route("/v2", self.v2_server),
            Route("/v2/health/live", self.v2_live),
            Route("/v2/health/ready", self.v2_ready),
            Route("/v2/models/{rest:path}", self.v2, methods=["GET", "POST"]),
            Route("/monitoring/prometheus/metrics", self.prometheus),
        ]
        if self.demo is not None:
            routes += self.demo.routes()
        self.app = Starlette(routes=routes, lifespan=self._lifespan)

    @contextlib.asynccontextmanager
    async def _lifespan(self, app):
        yield
        self.runner.close()

    async def __call__(self, scope, receive, send):
        await self.app(scope, receive, send)

    # ------------------------------------------------------------------------------------------ plumbing
    async def read_body(self, request: Request) -> bytes:
        """The body, or a 413 once it passes the limit (the rest is drained, unread, so the client gets it)."""
        declared = request.headers.get("content-length")
        too_big = declared is not None and declared.isdigit() and int(declared) > self.max_request_bytes
        chunks, size = [], 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > self.max_request_bytes:
                too_big = True
            if too_big:
                if size > 4 * max(self.max_request_bytes, 1 << 26):
                    break  # stop draining absurd bodies; the connection closes
                continue
            chunks.append(chunk)
        if too_big:
            raise RequestError(f"request body of {int(declared) if declared and declared.isdigit() else size} bytes "
                               f"is larger than the server's limit of {self.max_request_bytes} bytes "
                               f"(--max_request_bytes); send fewer instances per request", 413)
        return b"".join(chunks)

    async def _handle(self, model, api, work):
        """Run ``work()``, turning failures into ``{"error": ...}`` responses, and record metrics."""
        start = time.perf_counter()
        try:
            response = await work()
        except RequestError as exc:
            response = error_response(str(exc), exc.status)
        except ModelError as exc:
            self.log(f"ember serve: {exc}")
            response = error_response(str(exc), 500)
        except Exception as exc:  # a bug of the server's: report it, keep serving
            self.log("ember serve: internal error\n" + traceback.format_exc())
            response = error_response(f"internal error: {type(exc).__name__}: {exc}", 500)
        self.metrics.requests.labels(model, api, str(response.status_code)).inc()
        self.metrics.latency.labels(model, api).observe(time.perf_counter() - start)
        return response

    # ------------------------------------------------------------------------------------------ TF Serving v1
    async def v1(self, request: Request):
        m = V1.match(request.path_params["rest"])
        if m is None:
            return error_response(f"unknown path {request.url.path}; expected /v1/models/NAME[/versions/N]"
                                  f"[/metadata|:predict]", 404)
        name, version, tail = m.group("name"), m.group("version"), m.group("tail")
        if (request.method == "POST") != (tail == ":predict"):
            return error_response(f"{request.method} {request.url.path}: use POST for :predict and GET otherwise",
                                  405)
        if tail == ":predict":
            return await self._handle(name, "predict", lambda: self.v1_predict(request, name, version))
        if tail == "/metadata":
            return await self._handle(name, "metadata", lambda: self.v1_metadata(name, version))
        return await self._handle(name, "status", lambda: self.v1_status(name, version))

    async def v1_status(self, name, version):
        return json_response({"model_version_status": self.manager.status(name, version)})

    async def v1_metadata(self, name, version):
        served = self.manager.get(name, version)
        b = served.backend
        signature = {"inputs": {s.name: tf_tensor_info(s) for s in b.input_specs},
                     "outputs": {s.name: tf_tensor_info(s) for s in b.output_specs},
                     "method_name": "tensorflow/serving/predict"}
        return json_response({"model_spec": {"name": name, "signature_name": "", "version": str(served.version)},
                              "metadata": {"signature_def": {"signature_def": {"serving_default": signature}},
                                           "platform": b.platform}})

    async def v1_predict(self, request, name, version):
        served = self.manager.get(name, version)
        body = parse_json(await self.read_body(request))
        arrays, fmt = decode_predict(body, served.backend.input_specs)
        outs = await self.runner.run(served, arrays)
        return json_response(encode_predict(outs, served.backend.output_specs, fmt))

    # ------------------------------------------------------------------------------------------ Open Inference V2
    async def v2_server(self, request):
        from .. import __version__

        return json_response({"name": "ember", "version": __version__, "extensions": []})

    async def v2_live(self, request):
        return json_response({"live": True})

    async def v2_ready(self, request):
        ready = self.manager.ready()
        return json_response({"ready": ready}, 200 if ready else 503)

    async def v2(self, request: Request):
        m = V2.match(request.path_params["rest"])
        if m is None:
            return error_response(f"unknown path {request.url.path}; expected /v2/models/NAME[/versions/N]"
                                  f"[/ready|/infer]", 404)
        name, version, tail = m.group("name"), m.group("version"), m.group("tail")
        if (request.method == "POST") != (tail == "/infer"):
            return error_response(f"{request.method} {request.url.path}: use POST for /infer and GET otherwise", 405)
        if tail == "/infer":
            return await self._handle(name, "infer", lambda: self.v2_infer(request, name, version))
        if tail == "/ready":
            return await self._handle(name, "ready", lambda: self.v2_model_ready(name, version))
        return await self._handle(name, "metadata", lambda: self.v2_metadata(name, version))

    async def v2_metadata(self, name, version):
        served = self.manager.get(name, version)
        b = served.backend
        versions = [str(v) for v in sorted(self.manager.served.get(name, {}))]
        return json_response({"name": name, "versions": versions, "platform": b.platform,
                              "inputs": [v2_tensor_metadata(s) for s in b.input_specs],
                              "outputs": [v2_tensor_metadata(s) for s in b.output_specs]})

    async def v2_model_ready(self, name, version):
        try:
            self.manager.get(name, version)
            ready = True
        except RequestError as exc:
            if name not in self.manager.served:
                raise
            ready = exc.status not in (404, 503)
        return json_response({"name": name, "ready": ready}, 200 if ready else 503)

    async def v2_infer(self, request, name, version):
        served = self.manager.get(name, version)
        raw = await self.read_body(request)
        header_size = request.headers.get("inference-header-content-length")
        binary = b""
        if header_size is not None:  # the binary tensor extension: JSON header, then raw tensor bytes
            if not header_size.isdigit() or int(header_size) > len(raw):
                raise RequestError(f"Inference-Header-Content-Length {header_size!r} does not fit the body "
                                   f"({len(raw)} bytes)")
            raw, binary = raw[:int(header_size)], raw[int(header_size):]
        body = parse_json(raw)
        arrays, wanted = decode_infer(body, served.backend.input_specs, binary)
        outs = await self.runner.run(served, arrays)
        request_id = body.get("id") if isinstance(body.get("id"), str) else None
        return json_response(encode_infer(outs, served.backend.output_specs, wanted, name, str(served.version),
                                          request_id))

    # ------------------------------------------------------------------------------------------ metrics
    async def prometheus(self, request):
        return Response(generate_latest(self.metrics.registry), media_type=CONTENT_TYPE_LATEST)


__all__ = ["ServingApp", "Metrics"]
