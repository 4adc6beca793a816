"""Model versions on disk, loaded and swapped while requests keep being answered (TF Serving's manager).

A model's base path holds numeric version folders (``BASE/1/``, ``BASE/2/``...). A poll thread lists them every
``poll_seconds``; the version policy picks which should be served (TF Serving's default: the newest one).
Loading happens off the request path; a version becomes visible in one reference swap once it is loaded and
warmed up, and a version is unloaded only after a wanted version is available (availability preserving), so a
request never meets an empty model. A request holds its own reference to the version it runs on, so an unload
never cuts it off. A version whose files fail to load is reported (``state: END`` with the reason) and retried
when its files change; the versions being served are untouched.

Example:
    >>> import ember, os, tempfile
    >>> from ember import nn
    >>> base = tempfile.mkdtemp()
    >>> os.makedirs(os.path.join(base, "1"))
    >>> prog = ember.export.export(nn.Linear(3, 2).eval(), (ember.ones(2, 3),), dynamic_batch=True)
    >>> ember.export.save(prog, os.path.join(base, "1", "model.ember"))
    >>> manager = ModelManager([ModelConfig("demo", base)], log=lambda msg: None)
    >>> manager.poll_once()
    >>> manager.get("demo").version
    1
"""

from __future__ import annotations

import os
import re
import threading
import time
from dataclasses import dataclass, field

from .backends import ModelLoadError, find_model_file, load_version
from .codec import RequestError


@dataclass
class ModelConfig:
    """One served model: ``policy`` is ``("latest", n)``, ``("all",)`` or ``("specific", [versions])``."""

    name: str
    base_path: str
    policy: tuple = ("latest", 1)


@dataclass
class VersionState:
    """Status of one version as TF Serving reports it."""

    version: int
    state: str = "START"  # START, LOADING, AVAILABLE, UNLOADING, END
    error: str = ""
    backend: object = None
    files: tuple = ()  # (path, size, mtime) of the model file when it was last tried
    loaded_at: float = field(default=0.0)

    def status_json(self) -> dict:
        return {"version": str(self.version), "state": self.state,
                "status": {"error_code": "UNKNOWN" if self.error else "OK", "error_message": self.error}}


class ServedVersion:
    """What a request runs on: a loaded backend and its version number (immutable)."""

    __slots__ = ("name", "version", "backend")

    def __init__(self, name, version, backend):
        self.name, self.version, self.backend = name, version, backend


class ModelManager:
    """Loads, serves and unloads the versions of each configured model; ``get`` is what requests call."""

    def __init__(self, configs, poll_seconds: float = 1.0, log=print, onnx_threads: int = 0):
        self.configs = {c.name: c for c in configs}
        self.poll_seconds = poll_seconds
        self.log = log
        self.onnx_threads = onnx_threads
        self.states: dict[str, dict[int, VersionState]] = {c.name: {} for c in configs}
        # name -> {version: ServedVersion}: replaced as a whole on every change (readers never lock)
        self.served: dict[str, dict[int, ServedVersion]] = {c.name: {} for c in configs}
        self.generation = 0  # bumped on every change of `served` (the batcher's caches key on it)
        self._stop = threading.Event()
        self._thread = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------------------------------------ requests
    def get(self, name: str, version=None) -> ServedVersion:
        """The version to run (the newest available one when ``version`` is None); 404 otherwise."""
        if name not in self.served:
            raise RequestError(f"model {name!r} not found; served models: {sorted(self.served)}", 404)
        table = self.served[name]
        if version is None:
            if not table:
                raise RequestError(f"model {name!r} has no version available yet{self._why(name)}", 503)
            return table[max(table)]
        try:
            number = int(version)
        except (TypeError, ValueError):
            raise RequestError(f"version {version!r} of model {name!r} is not a number", 400) from None
        if number not in table:
            raise RequestError(f"version {number} of model {name!r} is not available; available: "
                               f"{sorted(table)}{self._why(name, number)}", 404)
        return table[number]

    def _why(self, name, number=None) -> str:
        errors = [s for s in self.states[name].values() if s.error and (number is None or s.version == number)]
        return "".join(f" (version {s.version} failed to load: {s.error})" for s in errors)

    def status(self, name: str, version=None) -> list:
        """TF Serving's ``model_version_status`` list (newest first)."""
        if name not in self.states:
            raise RequestError(f"model {name!r} not found; served models: {sorted(self.states)}", 404)
        states = sorted(self.states[name].values(), key=lambda s: -s.version)
        if version is not None:
            states = [s for s in states if str(s.version) == str(version)]
            if not states:
                raise RequestError(f"version {version} of model {name!r} not found", 404)
        return [s.status_json() for s in states]

    def ready(self) -> bool:
        return all(self.served[name] for name in self.configs)

    # ------------------------------------------------------------------------------------------ polling
    def start(self) -> ModelManager:
        """Poll once now (so the first versions are loaded before serving), then in a background thread."""
        self.poll_once()
        self._thread = threading.Thread(target=self._loop, name="ember-serve-poll", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)

    def _loop(self):
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception as exc:  # a bad poll (folder gone, permissions) is logged; serving goes on
                self.log(f"ember serve: polling failed: {type(exc).__name__}: {exc}")

    def poll_once(self) -> None:
        with self._lock:
            for config in self.configs.values():
                self._sync(config)

    def _sync(self, config: ModelConfig) -> None:
        on_disk = _version_folders(config.base_path)
        wanted = _apply_policy(config.policy, sorted(on_disk))
        states = self.states[config.name]
        for number in sorted(wanted, reverse=True):  # newest first: it is the one requests will get
            self._load_if_needed(config, number, on_disk[number], states)
        available_wanted = [n for n in wanted if states[n].state == "AVAILABLE"]
        for number, state in list(states.items()):
            if number in wanted:
                continue
            if state.state == "AVAILABLE" and not available_wanted and number in on_disk:
                continue  # keep serving until a wanted version is up (availability preserving)
            self._unload(config.name, state)
            del states[number]

    def _load_if_needed(self, config, number, folder, states) -> None:
        state = states.setdefault(number, VersionState(number))
        try:
            path = find_model_file(folder)
        except ModelLoadError as exc:
            path, state.error, state.state = None, str(exc), "END"
        if path is None:
            return  # not written yet (or ambiguous): look again next poll
        files = _file_signature(path)
        if state.state == "AVAILABLE" or (state.state == "END" and files == state.files):
            return
        state.state, state.files = "LOADING", files
        self.log(f"ember serve: loading model {config.name!r} version {number} from {path}")
        start = time.perf_counter()
        try:
            backend = load_version(folder, self.onnx_threads)
        except ModelLoadError as exc:
            state.state, state.error = "END", str(exc)
            self.log(f"ember serve: model {config.name!r} version {number} failed to load: {exc}")
            return
        state.state, state.error, state.backend, state.loaded_at = "AVAILABLE", "", backend, time.time()
        self._publish(config.name)
        self.log(f"ember serve: model {config.name!r} version {number} is available ({backend.platform}, "
                 f"{time.perf_counter() - start:.2f} s)")

    def _unload(self, name, state) -> None:
        if state.state == "AVAILABLE":
            state.state = "UNLOADING"
            self._publish(name)
            self.log(f"ember serve: unloaded model {name!r} version {state.version}")
        state.state, state.backend = "END", None

    def _publish(self, name) -> None:
        self.served[name] = {n: ServedVersion(name, n, s.backend) for n, s in self.states[name].items()
                             if s.state == "AVAILABLE"}
        self.generation += 1


def _version_folders(base: str) -> dict:
    if not os.path.isdir(base):
        return {}
    return {int(d): os.path.join(base, d) for d in os.listdir(base)
            if d.isdigit() and os.path.isdir(os.path.join(base, d))}


def _apply_policy(policy, versions: list) -> set:
    kind = policy[0]
    if kind == "all":
        return set(versions)
    if kind == "specific":
        return set(versions) & {int(v) for v in policy[1]}
    return set(versions[-int(policy[1]):]) if versions else set()


def _file_signature(path) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return (path,)
    return (path, st.st_size, st.st_mtime_ns)


# ------------------------------------------------------------------------------------------ config files
def parse_model_config(text: str, origin: str = "model config") -> list:
    """TF Serving's ``--model_config_file`` text format (the parts a model server of Ember's uses):

    ``model_config_list { config { name: 'a' base_path: '/models/a' model_platform: 'ember'
    model_version_policy { latest { num_versions: 2 } } } }`` (also ``all {}`` and
    ``specific { versions: 1 versions: 3 }``).
    """
    configs = []
    for block in _blocks(text, "config"):
        name = _field(block, "name")
        base = _field(block, "base_path")
        if not name or not base:
            raise ValueError(f"{origin}: every config needs name and base_path; got {block.strip()[:80]!r}")
        policy: tuple = ("latest", 1)
        if re.search(r"\ball\s*\{", block):
            policy = ("all",)
        elif re.search(r"\bspecific\s*\{", block):
            policy = ("specific", [int(v) for v in re.findall(r"versions\s*:\s*(\d+)", block)])
        elif m := re.search(r"num_versions\s*:\s*(\d+)", block):
            policy = ("latest", int(m.group(1)))
        configs.append(ModelConfig(name, base, policy))
    if not configs:
        raise ValueError(f"{origin}: no `config {{ ... }}` entries in model_config_list")
    return configs


def _blocks(text: str, key: str) -> list:
    """The bodies of ``key { ... }`` blocks (balanced braces)."""
    out, pos = [], 0
    pattern = re.compile(rf"\b{key}\s*\{{")
    while m := pattern.search(text, pos):
        depth, i = 1, m.end()
        while i < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append(text[m.end():i - 1])
        pos = i
    return out


def _field(block: str, key: str):
    m = re.search(rf"\b{key}\s*:\s*(?:'([^']*)'|\"([^\"]*)\")", block)
    return (m.group(1) if m.group(1) is not None else m.group(2)) if m else None


def parse_batching_parameters(text: str) -> dict:
    """TF Serving's ``--batching_parameters_file`` (``max_batch_size { value: 32 }`` ...) as a dict."""
    return {k: int(v) for k, v in re.findall(r"(\w+)\s*\{\s*value\s*:\s*(\d+)\s*\}", text)}
