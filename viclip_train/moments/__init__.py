# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Moment search in long videos: sliding-window embeddings (`windows.py`), their on-disk index (`index.py`), text
search over it (`search.py`), and the commands `python -m viclip_train.moments.index_videos`, `.search_moments` and
`.demo`."""
