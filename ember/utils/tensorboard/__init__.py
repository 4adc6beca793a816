"""TensorBoard logging with PyTorch's ``SummaryWriter`` API (``torch.utils.tensorboard``), written with the
``tensorboard`` package's own event writer and protos: ``pip install "ember[tensorboard]"``.

Example:
    >>> import tempfile
    >>> from ember.utils.tensorboard import SummaryWriter
    >>> writer = SummaryWriter(tempfile.mkdtemp())
    >>> writer.add_scalar("loss", 0.25, global_step=1)
    >>> writer.close()
"""

try:
    import tensorboard  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError(
        "ember.utils.tensorboard needs the `tensorboard` package (its event writer and protos): "
        'pip install "ember[tensorboard]"'
    ) from exc

from .writer import FileWriter, SummaryWriter, default_log_dir  # noqa: E402

__all__ = ["SummaryWriter", "FileWriter", "default_log_dir"]
