# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Where training and evaluation samples come from and how they become batches: the sources of every split and the one
construction of their datasets (`sources.py`), the clip reader and the trainer's interface every dataset shares
(`clips.py`), the datasets of annotation tables, tar shards and streams, the collator, the skip policy, the annotation
files and their Arrow cache, the shard writer (`python -m viclip_train.data.shard_writer`) and the synthetic corpus."""
