"""The demo page at ``/``: draw a digit; the page shows the prediction made in the browser (onnxruntime-web
running the served model as ONNX) beside the one from ``:predict``.

The browser gets the model as ONNX: an ONNX version's own file, or an Ember artifact's graph converted once
(cached per loaded version). onnxruntime-web's files come from ``node_modules`` (``npm ci``) or
``$EMBER_ORT_WEB_DIR``; without them the page still shows the server's predictions and says why.
"""

from __future__ import annotations

import json
import threading

from starlette.responses import FileResponse, Response
from starlette.routing import Route

from ..export.browser import ASSETS, ORT_FILES, find_ort_dist, program_onnx_bytes
from .codec import dumps


def _image_dims(spec):
    """Batch-of-one dims of an input that holds one 28x28 grayscale image, else None."""
    d = tuple(spec.shape[1:])
    if d in ((1, 28, 28), (28, 28, 1), (28, 28), (784,)) and (spec.shape[:1] in ((None,), (1,))):
        return [1, *d]
    return None


class Demo:
    def __init__(self, manager, ort_dir=None):
        self.manager = manager
        try:
            self.ort_dir, self.ort_error = find_ort_dist(ort_dir), None
        except Exception as exc:
            self.ort_dir, self.ort_error = None, str(exc)
        self._onnx: dict = {}  # id(backend) -> (backend, bytes or error text)
        self._lock = threading.Lock()

    def routes(self):
        return [Route("/", self.page), Route("/demo/ember-web.js", self.script),
                Route("/demo/config.json", self.config), Route("/demo/ort/{file}", self.ort),
                Route("/demo/models/{name}/versions/{version}/model.onnx", self.model_file)]

    async def page(self, request):
        return FileResponse(ASSETS / "demo.html", media_type="text/html")

    async def script(self, request):
        return FileResponse(ASSETS / "ember-web.js", media_type="text/javascript")

    async def ort(self, request):
        name = request.path_params["file"]
        if self.ort_dir is None or name not in ORT_FILES:
            return Response(dumps({"error": self.ort_error or f"no file {name!r}"}), 404, media_type="application/json")
        kind = "application/wasm" if name.endswith(".wasm") else "text/javascript"
        return FileResponse(self.ort_dir / name, media_type=kind)

    def _onnx_for(self, served):
        backend = served.backend
        with self._lock:
            cached = self._onnx.get(id(backend))
            if cached is None or cached[0] is not backend:
                try:
                    if backend.platform == "onnxruntime":
                        with open(backend.path, "rb") as f:
                            data = f.read()
                    else:
                        data = program_onnx_bytes(backend.program)
                except Exception as exc:  # the page shows why, the server's predictions still work
                    data = f"this model has no ONNX form yet ({type(exc).__name__}: {exc})"
                cached = self._onnx[id(backend)] = (backend, data)
        return cached[1]

    async def config(self, request):
        models = []
        for name in sorted(self.manager.served):
            try:
                served = self.manager.get(name)
            except Exception:
                continue
            b = served.backend
            dims = _image_dims(b.input_specs[0]) if len(b.input_specs) == 1 else None
            if dims is None:
                continue
            onnx = self._onnx_for(served)
            user = (b.metadata or {}).get("user") or {}
            normalize = user.get("normalize")
            if isinstance(normalize, str):  # ONNX metadata_props hold strings: "[0.1307, 0.3081]"
                try:
                    normalize = json.loads(normalize)
                except ValueError:
                    normalize = None
            models.append({
                "name": name, "version": served.version, "dims": dims,
                "input": b.input_specs[0].to_json(), "output": b.output_specs[0].to_json(),
                "normalize": normalize if isinstance(normalize, list) else None,
                "onnx": f"/demo/models/{name}/versions/{served.version}/model.onnx" if isinstance(onnx, bytes)
                else None,
                "onnx_error": None if isinstance(onnx, bytes) else onnx,
            })
        return Response(dumps({"models": models, "ort": "/demo/ort/" if self.ort_dir else None,
                               "ort_error": self.ort_error}), media_type="application/json")

    async def model_file(self, request):
        try:
            served = self.manager.get(request.path_params["name"], request.path_params["version"])
        except Exception as exc:
            return Response(dumps({"error": str(exc)}), 404, media_type="application/json")
        data = self._onnx_for(served)
        if not isinstance(data, bytes):
            return Response(dumps({"error": data}), 404, media_type="application/json")
        return Response(data, media_type="application/octet-stream")
