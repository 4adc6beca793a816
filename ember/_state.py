"""Thread-local switches read on every dispatch: grad mode, the active tracer, anomaly mode, autocast."""
import threading


class _State(threading.local):
    # Class attributes are the defaults each new thread starts from.
    grad_enabled = True
    inference = False
    tracer = None
    anomaly = False
    autocast = None  # an amp.AutocastState while an autocast region is active (ember/_autocast.py)
    anomaly_check_nan = True
    profiler = None  # an ember.profiler recorder while `with profile():` runs on this thread
    # remember the user's source line of every recorded op (for in-place and anomaly errors); ~0.5 us/op
    record_sites = True
    # (pack, unpack) of the innermost autograd.graph.saved_tensors_hooks; a message string while
    # disable_saved_tensors_hooks is active; read by autograd.record only when an op is recorded
    saved_hooks = None


STATE = _State()
