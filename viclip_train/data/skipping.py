# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
What happens to samples whose video cannot be read: they are skipped, counted, recorded, and a run stops only when
too many of the recent ones failed.

- A dataset item that could not be read is a [`SkippedSample`] (row, path, reason), never another clip.
- [`SkippedSampleLog`] writes every skipped sample of one process to `skipped_samples.rank<N>.jsonl` in the output
  folder, keeps counts for periodic summaries, and measures the failure rate over a running window of the most recent
  samples read by all processes. When that rate exceeds `max_failed_fraction`, it raises
  [`TooManySkippedVideosError`] on every process at once, naming the commonest reason and a few example paths.
"""

import json
import os
from collections import Counter, deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from transformers.utils import logging

from ..distributed import all_processes


logger = logging.get_logger(__name__)

SKIPPED_FILE_PATTERN = "skipped_samples.rank{rank}.jsonl"
"""Name of the per-process record of skipped samples, in the output folder."""

MIN_JUDGED_SAMPLES = 100
"""The failure rate is judged once the window holds this many samples (or the whole window, if smaller), so that a
few unlucky first samples cannot stop a run."""


@dataclass(frozen=True)
class SkippedSample:
    """A sample whose video could not be read: the collator drops it, the trainer counts and records it."""

    index: int
    """Row of the annotation table."""
    video: str
    """The path that failed."""
    reason: str
    """The decoder's or the file system's message."""
    error: str = ""
    """The exception's class name (`FileNotFoundError`, `ValueError`, ...), which groups reasons in summaries."""
    replacement_failures: tuple["SkippedSample", ...] = field(default=(), compare=False)
    """Other rows tried in this one's place (training refills a failed sample from other rows) that failed too."""

    @classmethod
    def from_error(cls, index: int, video: str, error: Exception) -> "SkippedSample":
        """The skip of sample `index` whose `video` raised `error`, as every dataset of this package makes it (the
        message on one line, the exception's class as `error`), logged at debug level."""
        reason = " ".join(str(error).split())
        logger.debug(f"Skipping sample {index} ({video}): {reason}")
        return cls(index=index, video=video, reason=reason, error=type(error).__name__)

    def expanded(self) -> list["SkippedSample"]:
        """This sample and the replacements that failed with it."""
        return [self, *self.replacement_failures]


class TooManySkippedVideosError(RuntimeError):
    """More of the recent samples failed to load than `max_failed_fraction` allows."""


class SkippedSampleLog:
    """
    The record of skipped samples of one process, and the policy that stops a run when too many fail.

    Args:
        output_dir (`str`, *optional*): folder of the record file ([`SKIPPED_FILE_PATTERN`]); `None` keeps no file.
        process_index (`int`, defaults to 0): this process's rank, in the file name.
        max_failed_fraction (`float`, defaults to 0.5): largest share of failed samples allowed over the window, in
            [0, 1] (`--max_failed_fraction`, checked where the flag is read; 1 never stops).
        window (`int`, defaults to 1000): how many of the most recent samples (over all processes) the share is
            measured over, at least 1 (`--failed_fraction_window`). It is judged once the window holds
            [`MIN_JUDGED_SAMPLES`] samples (or `window`, if smaller), and when [`SkippedSampleLog.finish`] is called.
    """

    def __init__(
        self,
        output_dir: str | os.PathLike | None = None,
        *,
        process_index: int = 0,
        max_failed_fraction: float = 0.5,
        window: int = 1000,
    ):
        self.path = (
            None if output_dir is None else os.path.join(output_dir, SKIPPED_FILE_PATTERN.format(rank=process_index))
        )
        self.max_failed_fraction = max_failed_fraction
        self.window = window
        self.total_failed = 0
        """Failed samples of all processes since this log was made."""
        self.total_read = 0
        self._window_counts: deque[tuple[int, int]] = deque()  # (read, failed) per batch, all processes
        self._window_read = self._window_failed = 0
        self._recent: deque[SkippedSample] = deque(maxlen=window)  # this process's latest skipped samples
        self._since_summary: list[SkippedSample] = []

    def add(self, skipped: Sequence[SkippedSample], *, read: int, failed: int, **context: Any) -> None:
        """
        Records one batch.

        Args:
            skipped: this process's skipped samples of the batch (written to the file with `context`).
            read (`int`), failed (`int`): samples read and samples failed in the batch, summed over all processes (the
                same numbers on every process, so that every process takes the same decision).
            context: fields added to each record, e.g. `split="train", epoch=0, step=12`.

        Raises:
            [`TooManySkippedVideosError`]: on every process, when the failure rate over the window exceeds
            `max_failed_fraction`.
        """
        if skipped:
            self._write(skipped, context)
            self._recent.extend(skipped)
            self._since_summary.extend(skipped)
        self.total_read += read
        self.total_failed += failed
        self._window_counts.append((read, failed))
        self._window_read += read
        self._window_failed += failed
        while len(self._window_counts) > 1 and self._window_read - self._window_counts[0][0] >= self.window:
            oldest_read, oldest_failed = self._window_counts.popleft()
            self._window_read -= oldest_read
            self._window_failed -= oldest_failed
        if self._window_read >= min(self.window, MIN_JUDGED_SAMPLES):
            self._judge()

    def finish(self) -> None:
        """Judges the window whatever it holds (the end of a run shorter than [`MIN_JUDGED_SAMPLES`] samples)."""
        if self._window_read:
            self._judge()

    @property
    def failed_fraction(self) -> float:
        """Share of failed samples over the current window (all processes)."""
        return self._window_failed / self._window_read if self._window_read else 0.0

    def _judge(self) -> None:
        if self.failed_fraction <= self.max_failed_fraction:
            return
        reasons, examples = Counter(), []
        for recent in all_processes(list(self._recent)):
            reasons.update(sample.error or "error" for sample in recent)
            examples.extend(recent)
        commonest, count = reasons.most_common(1)[0] if reasons else ("unknown", 0)
        shown = [sample for sample in examples if (sample.error or "error") == commonest][:3]
        listed = "; ".join(f"{sample.video}: {sample.reason}" for sample in shown)
        where = f" Every skipped sample is listed in {self.path} (one file per process)." if self.path else ""
        raise TooManySkippedVideosError(
            f"{self._window_failed} of the last {self._window_read} samples could not be read (more than "
            f"--max_failed_fraction {self.max_failed_fraction:.0%}). Commonest reason: {commonest} ({count} of them), "
            f"e.g. {listed}. Missing files usually mean the videos are not where the annotations point: check "
            f"--video_root and the video column. Raise --max_failed_fraction to tolerate more broken files.{where}"
        )

    def summary(self) -> str | None:
        """A one-line summary of this process's skipped samples since the previous summary, or `None` if none."""
        if not self._since_summary:
            return None
        samples, self._since_summary = self._since_summary, []
        reasons = Counter(sample.error or "error" for sample in samples)
        commonest, count = reasons.most_common(1)[0]
        examples = ", ".join(sample.video for sample in samples[:3]) + (" ..." if len(samples) > 3 else "")
        where = f"; all listed in {self.path}" if self.path else ""
        return (
            f"Skipped {len(samples)} unreadable sample(s) since the last report ({self.total_failed} in all, "
            f"{self.failed_fraction:.1%} of the last {self._window_read} read); commonest reason {commonest} "
            f"({count}): {examples}{where}."
        )

    def _write(self, skipped: Sequence[SkippedSample], context: dict[str, Any]) -> None:
        if self.path is None:
            return
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as handle:
            for sample in skipped:
                record = {"row": sample.index, "video": sample.video, "error": sample.error, "reason": sample.reason}
                handle.write(json.dumps({**context, **record}) + "\n")


__all__ = [
    "MIN_JUDGED_SAMPLES",
    "SKIPPED_FILE_PATTERN",
    "SkippedSample",
    "SkippedSampleLog",
    "TooManySkippedVideosError",
]
