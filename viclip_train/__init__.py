# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Everything that only training, evaluation and conversion need, kept apart from the model package `viclip`.

`viclip` holds the files that ship with every saved model as Hub remote code (configuration, modeling, losses,
tokenization, video processing, processing, pipeline). This package builds on it and nothing in `viclip` imports from
here:

- `data/`: where samples come from (annotation files and their Arrow cache, `datasets` folders and Hub ids, class
  folders, tar shards, streams, the synthetic corpus), one clip reader and one dataset construction for all of them,
  the collator, the skip policy and the shard writer;
- `eval/`: retrieval metrics and the public benchmarks, classification and zero-shot evaluation, label sets, WiSE-FT;
- `moments/`: moment search in long videos (sliding windows, their on-disk index, text search, the commands);
- the Trainer and the steps of a script's run (`trainer.py`), the scripts' shared arguments (`arguments.py`), the
  model configuration and processor a run loads (`loading.py`), checkpoints, collectives across processes, Hub
  publishing and model cards.
"""
