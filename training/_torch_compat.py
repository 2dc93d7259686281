"""Make timm and transformers import next to the CPU-only torch.

PyPI's torchvision is a CUDA build; imported beside the CPU torch its C extension fails to
register `torchvision::nms`, and the Python side then dies with "operator torchvision::nms
does not exist", taking timm and every transformers model down with it. We only need
torchvision to import (timm imports it at load; nothing here runs detection ops), so when
that happens we declare the two missing operator schemas and import it again. Where
torchvision works (a matching CUDA torch), nothing is touched.
"""

from __future__ import annotations

import sys

_done = False


def install() -> None:
    global _done
    if _done:
        return
    _done = True
    import torch

    try:
        import torchvision  # noqa: F401
        return
    except ModuleNotFoundError:
        return  # not installed: timm will say so itself
    except RuntimeError as e:
        if "torchvision::nms" not in str(e):
            raise
    for name in [m for m in sys.modules if m == "torchvision" or m.startswith("torchvision.")]:
        del sys.modules[name]
    lib = torch.library.Library("torchvision", "FRAGMENT")  # noqa: F841 - kept alive by torch's registry
    lib.define("nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    lib.define("qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor")
    _LIBS.append(lib)
    import torchvision  # noqa: F401,F811


_LIBS: list = []
