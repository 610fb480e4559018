"""memo-edge: Memory as a Model (MeMo) on laptops and desktop GPUs.

Core package: config, corpus, records, the memory prompt, metrics, packs, the CLI.
Heavy libraries (torch, transformers, onnx) are imported lazily inside the stage that needs them.
"""

__version__ = "0.1.0"
