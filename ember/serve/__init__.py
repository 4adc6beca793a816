"""``ember.serve``: a model server with TF Serving's REST API and command line, the Open Inference Protocol
(KServe V2), dynamic batching, Prometheus metrics, version hot-swap and a demo page (needs ``ember[serve]``).

    ember serve --model_name mnist --model_base_path models/mnist --rest_api_port 8501

Example:
    >>> import ember, os, tempfile, json, urllib.request
    >>> from ember import nn
    >>> base = tempfile.mkdtemp(); os.makedirs(os.path.join(base, "1"))
    >>> prog = ember.export.export(nn.Linear(3, 2).eval(), (ember.ones(2, 3),), dynamic_batch=True)
    >>> ember.export.save(prog, os.path.join(base, "1", "model.ember"))
    >>> with ember.serve.Server({"lin": base}, port=0, log=lambda m: None) as server:
    ...     status = json.load(urllib.request.urlopen(server.url + "/v1/models/lin"))
    >>> status["model_version_status"][0]["state"]
    'AVAILABLE'

See ``docs/serving.md``.
"""

from .backends import ModelLoadError, load_version
from .codec import RequestError
from .manager import ModelConfig, ModelManager, parse_model_config
from .server import Server

__all__ = ["Server", "ModelConfig", "ModelManager", "ModelLoadError", "RequestError", "load_version",
           "parse_model_config"]
