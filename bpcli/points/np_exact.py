"""NumPy, imported so that its vectorized functions round as the C library's do, as one point's do.

NumPy's own SIMD kernels for exp, log, tanh, pow, … (AVX2, AVX-512) differ from the C library's by an ulp
at a few percent of points, so `--batch` and one point would disagree in the last bit. When bpcli is the
first to import NumPy on x86-64, it asks NumPy to dispatch to none of its optional CPU features
(NPY_ENABLE_CPU_FEATURES naming only SSE2, which every x86-64 has); NumPy then computes these functions
through the C library, as Python's math module does. The price, measured on 10⁶ points: exp and pow
about 8 ns a point instead of 1, tanh 25 instead of 2; additions and the rest are memory-bound and
unchanged. Where NumPy was imported first (a notebook), it is used as it is, and the many-points path
may differ from one point by an ulp.
"""

from __future__ import annotations

import os
import platform
import sys
import warnings

_ONLY = "NPY_ENABLE_CPU_FEATURES"


def _import():
    if "numpy" in sys.modules or platform.machine().lower() not in ("x86_64", "amd64") or _ONLY in os.environ:
        import numpy
        return numpy
    os.environ[_ONLY] = "SSE2"   # baseline everywhere: NumPy warns that it dispatches nothing for it, and does not
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import numpy
    finally:
        del os.environ[_ONLY]     # not for the processes bpcli starts (dot)
    return numpy


np = _import()
