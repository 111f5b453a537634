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
collective and trimmed after it, and `N` counts the real rows only.

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


def _is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _gather_with_grad(tensor: torch.Tensor, sizes: list[int]) -> torch.Tensor:
    """All-gathers `tensor` `[n_r, D]` from every rank into `[sum(sizes), D]`, differentiably."""
    max_rows = max(sizes)
    padded = F.pad(tensor, (0, 0, 0, max_rows - tensor.shape[0])) if tensor.shape[0] < max_rows else tensor
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
    if not _is_distributed():
        return GatheredFeatures(video_features, text_features, 0, 1)

    world_size = dist.get_world_size()
    local_rows = torch.tensor([video_features.shape[0]], dtype=torch.long, device=video_features.device)
    all_rows = [torch.zeros_like(local_rows) for _ in range(world_size)]
    dist.all_gather(all_rows, local_rows)
    sizes = [int(rows.item()) for rows in all_rows]
    offset = sum(sizes[: dist.get_rank()])
    return GatheredFeatures(
        video=_gather_with_grad(video_features, sizes),
        text=_gather_with_grad(text_features, sizes),
        offset=offset,
        world_size=world_size,
    )


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


__all__ = ["GatheredFeatures", "gather_features", "viclip_contrastive_loss"]
