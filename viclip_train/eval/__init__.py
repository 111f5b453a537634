# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Evaluation: text-video retrieval metrics, the public retrieval benchmarks and their embeddings, classification and
zero-shot classification, the Kinetics label sets, and WiSE-FT (`python -m viclip_train.eval.wise_ft`)."""
