"""Training of the MaxSim + MLM retrieval model (torch, timm, transformers).

Importing this package first makes timm/transformers importable beside the CPU torch (see
`_torch_compat`), so every entry point (`python training/train.py`, the exporter, tests) is safe.
"""

from . import _torch_compat

_torch_compat.install()
