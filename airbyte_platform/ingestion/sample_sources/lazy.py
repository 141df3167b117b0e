"""numpy, imported on first use: `spec`, `check` and `discover` never need it.

A sync runs `spec`, `check` and `discover` before `read`, each a new connector process, and
importing numpy costs ~0.4 s of CPU here: more than everything else those commands do. Real
connectors answer them from static files (a spec file, per-stream schema files); the sample sources
derive theirs from the same field declarations that render records, so numpy is loaded lazily
instead (stdlib `importlib.util.LazyLoader`): modules import it as
`from airbyte_platform.ingestion.sample_sources.lazy import numpy as np`, and it loads on the first
attribute access, i.e. when `read` computes its first values. So nothing in this package may use
numpy at import time (tables are built on first use with `functools.cache`), and nothing here may
run a plain `import numpy` statement at import time: in Python 3.11 the import system reads the
module's `__spec__`, which loads it.
"""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType
from typing import TYPE_CHECKING


def lazy_module(name: str) -> ModuleType:
    """`sys.modules[name]` if already imported, else a module that imports itself on first use."""
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.find_spec(name)
    if spec is None or spec.loader is None:
        raise ModuleNotFoundError(f"No module named {name!r}", name=name)
    loader = importlib.util.LazyLoader(spec.loader)
    spec.loader = loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    loader.exec_module(module)
    return module


if TYPE_CHECKING:
    import numpy
else:
    numpy = lazy_module("numpy")
