"""Torch-free motion search runtime: motion import, joint-angle features, ONNX encoders, index and search.

Depends on numpy, onnxruntime and tokenizers only; Blender's add-on and the CLI use nothing else.
"""

__version__ = "0.1.0"
