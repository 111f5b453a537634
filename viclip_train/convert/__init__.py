# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Conversion into this library's layout, kept out of the remote-code files of `viclip`:

- `original_weights.py`: OpenGVLab's released weights (safe reading, checks, size from shapes, the key mapping);
- `original_layouts.py`: `from_pretrained` on their published layouts (the `.pth` release, the `-hf` ports), which
  `import viclip` hooks in;
- `clip_init.py`: ViCLIP initialised from a transformers CLIP, as the reference starts pretraining;
- `convert_viclip_original_to_hf.py`: the converter, `python -m viclip_train.convert`.
"""

from .clip_init import viclip_from_clip
from .original_weights import ConversionError, UnsafeCheckpointError


__all__ = ["ConversionError", "UnsafeCheckpointError", "viclip_from_clip"]
