"""torch.cuda / torch.accelerator / torch.backends names on machines without a usable GPU, against PyTorch's
CPU build; CuPy's three states (absent, installed without a driver, broken) simulated by swapping the module."""
import sys
import types

import pytest

import ember
from ember import backend

torch = pytest.importorskip("torch", reason="torch is the oracle for these tests (pip install 'ember[test]')")


class _CudaRuntimeError(RuntimeError):  # what CuPy raises without a driver
    pass


def _driverless_cupy():
    """A module shaped like CuPy on a machine without an NVIDIA driver: imports, then fails on first use."""
    def fail(*a, **k):
        raise _CudaRuntimeError("cudaErrorInsufficientDriver: CUDA driver version is insufficient")

    cp = types.ModuleType("cupy")
    cp.__version__ = "99.0"
    cp.cuda = types.SimpleNamespace(runtime=types.SimpleNamespace(getDeviceCount=fail))
    cp.zeros = fail
    return cp


@pytest.fixture(params=["absent", "driverless", "broken"])
def no_gpu(request, monkeypatch):
    """Each way CUDA can be unusable; the probe is re-run and restored afterwards."""
    if request.param == "absent":
        monkeypatch.setitem(sys.modules, "cupy", None)  # `import cupy` raises ImportError
    elif request.param == "driverless":
        monkeypatch.setitem(sys.modules, "cupy", _driverless_cupy())
    else:
        broken = types.ModuleType("cupy")

        def getattr_(name):
            raise OSError("libcudart.so.12: cannot open shared object file")

        broken.__getattr__ = getattr_
        monkeypatch.setitem(sys.modules, "cupy", broken)
    backend.reset_cuda_probe()
    yield request.param
    backend.reset_cuda_probe()


def test_is_available_is_false_never_an_exception(no_gpu):
    assert ember.cuda.is_available() is False
    assert ember.cuda.device_count() == 0
    assert ember.accelerator.is_available() is False
    problem = backend.cuda_problem()
    expected = {"absent": "not installed", "driverless": "insufficient", "broken": "cannot open"}[no_gpu]
    assert expected in problem


def test_moving_to_cuda_names_the_missing_piece(no_gpu):
    with pytest.raises(RuntimeError) as info:
        ember.ones(2).to("cuda")
    msg = str(info.value)
    assert "cuda" in msg and "device='cpu'" in msg
    if no_gpu == "absent":
        assert "pip install 'ember[cuda]'" in msg
    elif no_gpu == "driverless":
        assert "driver" in msg and "cudaErrorInsufficientDriver" in msg and "nvidia-smi" in msg
    with pytest.raises(RuntimeError, match="CUDA"):
        ember.zeros(3, device="cuda:0")


def test_the_modern_first_line_runs(no_gpu):
    acc = ember.accelerator
    device = acc.current_accelerator() if acc.is_available() else ember.device("cpu")
    assert device == ember.device("cpu")
    # "built with CUDA" (CuPy importable) names cuda unless asked to check, as PyTorch's CUDA build does
    assert acc.current_accelerator(check_available=True) is None
    assert (acc.current_accelerator() is None) == (no_gpu == "absent")
    model = ember.nn.Linear(2, 2).to(device)
    assert model(ember.ones(1, 2).to(device)).shape == (1, 2)


@pytest.mark.skipif(ember.cuda.is_available(), reason="checks the no-GPU behaviour")
def test_cuda_names_without_gpu_behave_like_torch_cpu_build():
    c, tc = ember.cuda, torch.cuda
    assert (c.is_available(), c.device_count()) == (tc.is_available(), tc.device_count())
    assert torch.accelerator.current_accelerator(check_available=True) is None
    assert ember.accelerator.current_accelerator(check_available=True) is None
    assert ember.accelerator.device_count() == torch.accelerator.device_count() == 0
    for name in ("manual_seed", "manual_seed_all"):
        ember.manual_seed(0)
        expected = ember.rand(3)
        ember.manual_seed(0)
        assert getattr(c, name)(3) is None and getattr(tc, name)(3) is None
        assert ember.equal(ember.rand(3), expected)  # lazy without a GPU: the CPU stream is untouched
    assert c.memory_allocated() == tc.memory_allocated() == 0
    assert c.max_memory_allocated() == tc.max_memory_allocated() == 0
    assert c.memory_reserved() == tc.memory_reserved() == 0
    assert c.empty_cache() is None and tc.empty_cache() is None
    assert c.reset_peak_memory_stats() is None
    assert c.is_bf16_supported() is tc.is_bf16_supported() is False
    # these need a device in both libraries; Ember's errors say what is missing
    for call in (c.current_device, c.synchronize, c.get_device_name, lambda: c.Event(enable_timing=True),
                 c.Stream, lambda: c.set_device(0), ember.accelerator.current_device_index,
                 lambda: ember.accelerator.set_device_index(0)):
        with pytest.raises(RuntimeError, match="CUDA|accelerator"):
            call()
    with pytest.raises(RuntimeError):
        torch.accelerator.current_device_index()


def test_backends_flags_are_accepted():
    b = ember.backends
    for name in ("benchmark", "deterministic", "enabled"):
        old = getattr(b.cudnn, name)
        setattr(b.cudnn, name, not old)
        assert getattr(b.cudnn, name) is (not old)
        setattr(b.cudnn, name, old)
    with b.cudnn.flags(enabled=False, deterministic=True):
        assert b.cudnn.deterministic and not b.cudnn.enabled
    assert b.cudnn.deterministic is False and b.cudnn.enabled is True
    assert b.mps.is_available() is torch.backends.mps.is_available() is False
    assert b.mps.is_built() is False and b.cudnn.is_available() is False
    b.cuda.matmul.allow_tf32 = True
    assert b.cuda.matmul.allow_tf32 is True
    b.cuda.matmul.allow_tf32 = False
    assert isinstance(b.cpu.get_cpu_capability(), str)


def test_cpu_namespace():
    assert ember.cpu.is_available() and ember.cpu.synchronize() is None
    with ember.cpu.amp.autocast():
        assert (ember.ones(2, 2) @ ember.ones(2, 2)).dtype == ember.bfloat16
