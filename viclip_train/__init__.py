# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Everything that only training, evaluation and conversion need, kept apart from the model package `viclip`.

`viclip` holds the files that ship with every saved model as Hub remote code (configuration, modeling, losses,
tokenization, video processing, processing, pipeline). This package builds on it: annotation loading and datasets,
the Trainer and its callbacks, retrieval and classification evaluation, the synthetic corpus, model cards, Hub
publishing and the converter of the released checkpoints. Nothing in `viclip` imports from here.
"""
