"""``torch.backends.mkldnn``: accepted flags (Ember's CPU math is NumPy/BLAS, not oneDNN)."""
enabled = True


def is_available() -> bool:
    return False
