"""Export a trained checkpoint to a memory pack (installed as memo_edge.export).

`export_pack(ckpt_dir, out_dir, format="onnx", precision="int8")`. Heavy libraries (torch, transformers, the
onnxruntime-genai builder, gguf) are imported inside the functions that need them.
"""

from .api import export_pack
from .config import ExportConfig

__all__ = ["export_pack", "ExportConfig"]
