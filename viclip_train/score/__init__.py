# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Scoring and embedding at dataset scale (`python -m viclip_train.score`), and the benchmarks that use ViCLIP as
their judge (VBench's `overall_consistency` and `temporal_style`: `python -m viclip_train.score.vbench`)."""

from .job import JobSummary, finish_job, load_job_table, run_score_job
from .rows import (
    ScoreRowDataset,
    ScoreRows,
    load_annotation_rows,
    load_dataset_rows,
    load_shard_rows,
    load_video_folder_rows,
)


__all__ = [
    "JobSummary",
    "ScoreRowDataset",
    "ScoreRows",
    "finish_job",
    "load_annotation_rows",
    "load_dataset_rows",
    "load_job_table",
    "load_shard_rows",
    "load_video_folder_rows",
    "run_score_job",
]
