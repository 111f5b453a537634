# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Video-text contrastive loss over the global batch of every data-parallel process.

Each process embeds its own samples. [`gather_features`] collects the embeddings of all processes *with* gradient,
and [`viclip_contrastive_loss`] scores the process's own rows against every gathered column. The returned value is
scaled so that, once data parallelism (DDP, FSDP, DeepSpeed) averages the gradients over the `W` processes, the
gradient equals that of a single process holding the whole global batch:

    global loss  L = (1 / 2N) * sum over the N global rows of [CE(video -> texts) + CE(text -> videos)]
    rank r gives L_r = (W / 2N) * sum over its own n_r rows of the same terms, so mean_r(L_r) = L.

The backward pass of the gathering sums the gradient that every rank's rows send to a feature, so rank `r` receives
`sum_s dL_s / d(features_r)`; averaging over ranks then gives `dL / dparams`. Processes may hold different numbers of
samples (a batch loses the videos that failed to decode): the features are padded to the largest batch for the
collective and trimmed after it ([`all_gather_rows`], which the training library's evaluation gathers also use), and
`N` counts the real rows only.

In a single process every function here is a no-op wrapper around the usual symmetric InfoNCE. In several processes
the functions are collectives: every process of the default group must call them in the same order.

Gradient accumulation does not add negatives: each micro-batch is contrasted only against the other samples of the same
micro-batch across processes, and the Trainer averages the micro-batch losses.
"""

from typing import NamedTuple

import torch
import torch.distributed as dist
import torch.distributed.nn.functional as dist_nn
import torch.nn.functional as F


class GatheredFeatures(NamedTuple):
    """Features of the global batch, in rank order, and where this process's rows sit in it."""

    video: torch.Tensor
    """`[N, D]` video features of every process."""
    text: torch.Tensor
    """`[N, D]` text features of every process."""
    offset: int
    """Index of this process's first row in the global batch."""
    world_size: int
    """Number of processes that contributed."""


def is_distributed() -> bool:
    """Whether this process is one of several in the default process group (the gathers here are then
    collectives)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def process_row_counts(rows: int, device: torch.device | str) -> list[int]:
    """The row count of every process, in rank order (`[rows]` in a single process). A collective."""
    if not is_distributed():
        return [rows]
    local_rows = torch.tensor([rows], dtype=torch.long, device=device)
    all_rows = [torch.zeros_like(local_rows) for _ in range(dist.get_world_size())]
    dist.all_gather(all_rows, local_rows)
    return [int(count.item()) for count in all_rows]


def all_gather_rows(tensor: torch.Tensor, sizes: list[int] | None = None) -> torch.Tensor:
    """
    The rows of `tensor` (`[n_r, ...]`) from every process, concatenated in rank order, with gradient: processes may
    hold different numbers of rows (zero included), so each pads its rows to the largest count for the collective and
    the padding is trimmed after it. The backward pass sums, for each process's rows, the gradients every process
    sends them. A collective; `tensor` itself in a single process.

    Args:
        tensor (`torch.Tensor` of shape `[n_r, ...]`): this process's rows.
        sizes (`list[int]`, *optional*): the row count of every process ([`process_row_counts`]), when known.
    """
    if not is_distributed():
        return tensor
    sizes = sizes if sizes is not None else process_row_counts(tensor.shape[0], tensor.device)
    missing = max(sizes) - tensor.shape[0]
    padded = torch.cat([tensor, tensor.new_zeros((missing, *tensor.shape[1:]))]) if missing else tensor
    parts = dist_nn.all_gather(padded)
    return torch.cat([part[:rows] for part, rows in zip(parts, sizes, strict=True)], dim=0)


def gather_features(video_features: torch.Tensor, text_features: torch.Tensor) -> GatheredFeatures:
    """
    Gathers the paired video and text features of every data-parallel process, keeping the autograd graph.

    Args:
        video_features (`torch.Tensor` of shape `[n, D]`): this process's video features.
        text_features (`torch.Tensor` of shape `[n, D]`): this process's text features, row `i` paired with video `i`.

    Returns:
        [`GatheredFeatures`]: `video` and `text` of shape `[N, D]` (all processes, in rank order), the `offset` of this
        process's rows and the `world_size`. In a single process the inputs are returned as they are, with offset 0.

    The gradient that flows back into the local features is the sum of the gradients sent by every process's loss (the
    backward of `torch.distributed.nn.functional.all_gather`). Processes may contribute different numbers of rows.
    """
    if video_features.ndim != 2 or text_features.ndim != 2 or video_features.shape[0] != text_features.shape[0]:
        raise ValueError(
            "gather_features expects paired features of shapes [n, D] and [n, D]; got video "
            f"{tuple(video_features.shape)} and text {tuple(text_features.shape)}."
        )
    if not is_distributed():
        return GatheredFeatures(video_features, text_features, 0, 1)

    sizes = process_row_counts(video_features.shape[0], video_features.device)
    # one collective for both towers: each pair's features side by side, [n, D_video + D_text], split after it
    pairs = all_gather_rows(torch.cat([video_features, text_features], dim=1), sizes)
    video, text = pairs.split([video_features.shape[1], text_features.shape[1]], dim=1)
    return GatheredFeatures(video=video, text=text, offset=sum(sizes[: dist.get_rank()]), world_size=len(sizes))


def viclip_contrastive_loss(
    video_embeds: torch.Tensor, text_embeds: torch.Tensor, logit_scale: torch.Tensor | float
) -> torch.Tensor:
    """
    Symmetric InfoNCE between paired videos and captions, over the global batch of all data-parallel processes.

    Args:
        video_embeds (`torch.Tensor` of shape `[n, D]`): L2-normalised video embeddings of this process.
        text_embeds (`torch.Tensor` of shape `[n, D]`): L2-normalised text embeddings; row `i` describes video `i`.
        logit_scale (`torch.Tensor` or `float`): the multiplier of the cosine similarities, already exponentiated and
            clamped (`exp(logit_scale)`, at most 100 for ViCLIP). Its gradient flows when it is a tensor that needs
            one.

    Raises:
        ValueError: the global batch holds no pair. (A process may hold none while others hold some.)

    Returns:
        `torch.Tensor`: a scalar. In one process, the mean over the batch of
        `(CE(video -> texts) + CE(text -> videos)) / 2`. In `W` processes, this process's share scaled so that the mean
        over processes is the global-batch loss and the averaged gradients equal the single-process gradient of the
        concatenated batch (see the module docstring). Positives are the diagonal pairs: identical captions elsewhere
        in the batch count as negatives (the reference also treats a repeated annotation row as a positive, which only
        happens when a sampler repeats a sample inside one global batch).
    """
    gathered = gather_features(video_embeds, text_embeds)
    local_rows = video_embeds.shape[0]
    global_rows = gathered.video.shape[0]
    if global_rows == 0:
        raise ValueError(
            "The contrastive loss needs at least one video-caption pair in the batch (over all processes), got 0."
        )
    targets = torch.arange(local_rows, device=video_embeds.device) + gathered.offset
    logits_video_to_text = logit_scale * video_embeds @ gathered.text.t()
    logits_text_to_video = logit_scale * text_embeds @ gathered.video.t()
    summed = F.cross_entropy(logits_video_to_text, targets, reduction="sum") + F.cross_entropy(
        logits_text_to_video, targets, reduction="sum"
    )
    return summed * (gathered.world_size / (2 * global_rows))


__all__ = [
    "GatheredFeatures",
    "all_gather_rows",
    "gather_features",
    "is_distributed",
    "process_row_counts",
    "viclip_contrastive_loss",
]
