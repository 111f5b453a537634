# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""`python -m viclip_train.convert`: the converter of the released checkpoints (see convert_viclip_original_to_hf.py)."""

from .convert_viclip_original_to_hf import main


main()
