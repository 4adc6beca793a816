"""``torch.backends.cpu``."""


def get_cpu_capability() -> str:
    """The SIMD level NumPy was built to use (e.g. 'AVX2'), as torch names its own."""
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # NumPy moved it: say nothing rather than guess
        return "DEFAULT"
    found = [f for f in ("AVX512F", "AVX2", "AVX", "SSE42") if features.get(f)]
    return found[0] if found else "DEFAULT"
