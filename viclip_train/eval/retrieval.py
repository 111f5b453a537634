# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Text-to-video and video-to-text retrieval metrics (R@1, R@5, R@10 and mean recall, in percent) from embeddings.

Every video and every caption is embedded once ([`evaluate_retrieval`] does it for a validation DataLoader);
[`retrieval_metrics`] only ranks. Two choices are worth knowing:

- Duplicate captions. When `captions` are given, identical captions form one group: a text query is answered by any
  video of its group, and a video query by any text of its group. Captions given as token ids are identical when
  their ids are; captions given as text when they are after lower-casing and collapsing whitespace. Without this, a
  corpus whose captions repeat (the synthetic corpus, or "a man is cooking" twice in MSR-VTT) would count as wrong a
  model that returns the video of an identical caption, which no model can avoid. Without `captions`, only the
  annotated pairs are positives, as in the usual MSR-VTT protocol.
- Ties count against the model: a query's rank is the number of *negatives* scoring at least as high as its best
  positive. A collapsed model that gives every item the same score therefore gets 0, not 100.

The public benchmarks (MSR-VTT, MSVD, DiDeMo, ActivityNet Captions, LSMDC; `run_retrieval.py`) are scored by
[`benchmark_retrieval_metrics`] from the video-by-text cosine similarity matrix, with the reference's rules: only the
annotated pairs are positives (no grouping of identical captions); a caption is answered by its own video; a video by
any of its captions (its best-ranked one counts); median and mean rank besides the recalls; and the dual-softmax
re-scoring ("DSL", [`dual_softmax_scores`]) reported beside the raw scores.
"""

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..data.collator import INDEX_KEY, record_skipped
from ..data.skipping import SkippedSampleLog
from ..distributed import first_occurrences, gather_rows, is_distributed


RECALL_AT = (1, 5, 10)


def _caption_keys(captions: Sequence[str] | torch.Tensor) -> list:
    if isinstance(captions, torch.Tensor):
        return [tuple(row) for row in captions.tolist()]
    return [" ".join(caption.split()).lower() for caption in captions]


def query_ranks(scores: torch.Tensor, positives: torch.Tensor) -> torch.Tensor:
    """
    The 0-based rank of each query's best-scoring relevant candidate.

    Args:
        scores (`torch.Tensor` of shape `[Q, C]`): higher is better; row `q` scores every candidate for query `q`.
        positives (`torch.Tensor` of shape `[Q, C]`, `bool`): the relevant candidates of each query (at least one).

    Returns:
        `torch.LongTensor` of shape `[Q]`: the number of *irrelevant* candidates scoring at least as high as the
        query's best relevant one (0 means it ranks first). Ties count against the model.
    """
    if scores.shape != positives.shape or scores.ndim != 2:
        raise ValueError(f"scores {tuple(scores.shape)} and positives {tuple(positives.shape)} must both be [Q, C].")
    if not positives.any(dim=1).all():
        raise ValueError("Every query needs at least one relevant candidate in `positives`.")
    best_positive = scores.masked_fill(~positives, float("-inf")).amax(dim=1, keepdim=True)
    return ((scores >= best_positive) & ~positives).sum(dim=1)


def rank_metrics(ranks: torch.Tensor, prefix: str) -> dict[str, float]:
    """
    Summaries of 0-based ranks ([`query_ranks`]): `{prefix}_r1`, `_r5`, `_r10` (percent of queries ranked within k),
    `{prefix}_mean_recall` (their mean), `{prefix}_median_rank` and `{prefix}_mean_rank` (1-based; the median is
    `np.median`'s, as the reference computes it: of an even count, the mean of the two middle ranks, e.g. 2.5).
    """
    ranks = ranks.long().flatten()
    if ranks.numel() == 0:
        raise ValueError("No query to summarise.")
    metrics = {f"{prefix}_r{k}": 100.0 * (ranks < k).double().mean().item() for k in RECALL_AT}
    metrics[f"{prefix}_mean_recall"] = sum(metrics[f"{prefix}_r{k}"] for k in RECALL_AT) / len(RECALL_AT)
    metrics[f"{prefix}_median_rank"] = float(np.median(ranks.numpy())) + 1.0
    metrics[f"{prefix}_mean_rank"] = ranks.double().mean().item() + 1.0
    return metrics


def _recalls(scores: torch.Tensor, positives: torch.Tensor, prefix: str) -> dict[str, float]:
    """Recall@k in percent for each row of `scores` `[Q, C]` whose relevant candidates are `positives` (bool)."""
    metrics = rank_metrics(query_ranks(scores, positives), prefix)
    kept = [f"{prefix}_r{k}" for k in RECALL_AT] + [f"{prefix}_mean_recall"]
    return {name: metrics[name] for name in kept}


def multi_caption_positives(text_to_video: torch.Tensor | Sequence[int], num_videos: int) -> torch.Tensor:
    """
    `positives[t, v]` (`bool`, `[T, V]`): caption `t` describes video `v`. Each caption has exactly one video; a video
    may have any number of captions (MSR-VTT full, MSVD) but needs at least one.
    """
    text_to_video = torch.as_tensor(text_to_video, dtype=torch.long).cpu().flatten()
    if text_to_video.numel() == 0:
        raise ValueError("`text_to_video` is empty: there is no caption to evaluate.")
    if text_to_video.min() < 0 or text_to_video.max() >= num_videos:
        raise ValueError(f"`text_to_video` holds indices outside [0, {num_videos}).")
    counts = torch.bincount(text_to_video, minlength=num_videos)
    if (counts == 0).any():
        uncaptioned = (counts == 0).nonzero().flatten().tolist()
        raise ValueError(f"Videos {uncaptioned[:10]} have no caption in `text_to_video`; remove uncaptioned videos.")
    return F.one_hot(text_to_video, num_videos).bool()


def dual_softmax_scores(similarity: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """
    Dual-softmax re-scoring ("DSL") of a video-by-text similarity matrix, as the reference reports it beside the raw
    scores: each score is multiplied by the softmax of its column over the *other* side.

    Args:
        similarity (`torch.Tensor` of shape `[V, T]`): `similarity[v, t]` scores video `v` against text `t` (the
            reference uses plain cosine similarities, no logit scale).

    Returns:
        `(video_to_text, text_to_video)`: `video_to_text = similarity * softmax(similarity, dim=0)` (`[V, T]`, rows are
        video queries: a text's score for a video is weighted by how much that text prefers this video over the other
        videos), and `text_to_video = similarity.T * softmax(similarity.T, dim=0)` (`[T, V]`, rows are text queries:
        weighted by how much the video prefers this text over the other texts).
    """
    if similarity.ndim != 2:
        raise ValueError(f"Expected a [videos, texts] similarity matrix, got shape {tuple(similarity.shape)}.")
    similarity = similarity.float()
    video_to_text = similarity * similarity.softmax(dim=0)
    transposed = similarity.t()
    text_to_video = transposed * transposed.softmax(dim=0)
    return video_to_text, text_to_video


def benchmark_retrieval_metrics(
    similarity: torch.Tensor, text_to_video: torch.Tensor | Sequence[int], dual_softmax: bool = True
) -> dict[str, float]:
    """
    Retrieval metrics of a public benchmark from its video-by-text similarity matrix, by the reference's rules.

    A caption is answered correctly at rank k when its own video is among its k best-scoring videos; a video when any
    of its captions is among its k best-scoring captions (its best-ranked caption counts). Only the annotated pairs are
    positives: identical captions of different videos are *not* grouped (unlike [`retrieval_metrics`] with
    `captions`), as in the published protocols. Ties count against the model.

    Args:
        similarity (`torch.Tensor` of shape `[V, T]`): cosine similarity of every video with every caption.
        text_to_video (`torch.Tensor` or sequence of `int`, length `T`): the video index of each caption.
        dual_softmax (`bool`, defaults to `True`): also report the metrics of the dual-softmax scores
            ([`dual_softmax_scores`]) under the prefix `dsl_`.

    Returns:
        `dict[str, float]`: for each direction `t2v` and `v2t`: `_r1`, `_r5`, `_r10`, `_mean_recall` (percent),
        `_median_rank`, `_mean_rank` (1-based); `mean_recall` (mean of both directions); with `dual_softmax`, the same
        keys prefixed with `dsl_`.
    """
    if similarity.ndim != 2:
        raise ValueError(f"Expected a [videos, texts] similarity matrix, got shape {tuple(similarity.shape)}.")
    num_videos, num_texts = similarity.shape
    text_to_video = torch.as_tensor(text_to_video, dtype=torch.long).cpu()
    if text_to_video.shape != (num_texts,):
        raise ValueError(
            f"`text_to_video` must hold one video index per caption ({num_texts}), got shape "
            f"{tuple(text_to_video.shape)}."
        )
    positives = multi_caption_positives(text_to_video, num_videos)  # [T, V]
    similarity = similarity.detach().float().cpu()
    scorings = {"": (similarity, similarity.t())}
    if dual_softmax:
        scorings["dsl_"] = dual_softmax_scores(similarity)
    metrics = {}
    for prefix, (video_to_text, text_to_video_scores) in scorings.items():
        metrics.update(rank_metrics(query_ranks(text_to_video_scores, positives), f"{prefix}t2v"))
        metrics.update(rank_metrics(query_ranks(video_to_text, positives.t()), f"{prefix}v2t"))
        both_ways = metrics[f"{prefix}t2v_mean_recall"] + metrics[f"{prefix}v2t_mean_recall"]
        metrics[f"{prefix}mean_recall"] = both_ways / 2
    return metrics


def retrieval_metrics(
    video_embeds: torch.Tensor,
    text_embeds: torch.Tensor,
    text_to_video: torch.Tensor | Sequence[int] | None = None,
    captions: Sequence[str] | torch.Tensor | None = None,
) -> dict[str, float]:
    """
    Computes retrieval recalls in both directions from cosine similarities.

    Args:
        video_embeds (`torch.Tensor` of shape `[V, D]`): one embedding per video (normalised here).
        text_embeds (`torch.Tensor` of shape `[T, D]`): one embedding per caption (normalised here).
        text_to_video (`torch.Tensor` or sequence of `int` of length `T`, *optional*): index of the video each caption
            describes. Defaults to `range(T)`, which requires `V == T` (one caption per video, in the same order).
        captions (sequence of `str`, or `torch.Tensor` of token ids of shape `[T, L]`, *optional*): the captions.
            When given, identical captions are interchangeable positives (see the module docstring).

    Returns:
        `dict[str, float]`: `t2v_r1`, `t2v_r5`, `t2v_r10`, `t2v_mean_recall`, the same four with `v2t_`, and
        `mean_recall` (the mean of the six recalls), all in percent. The Trainer's metric prefix turns them into
        `eval_t2v_r1` and so on.
    """
    if video_embeds.ndim != 2 or text_embeds.ndim != 2 or video_embeds.shape[1] != text_embeds.shape[1]:
        raise ValueError(
            f"Expected video embeddings [V, D] and text embeddings [T, D]; got {tuple(video_embeds.shape)} and "
            f"{tuple(text_embeds.shape)}."
        )
    num_videos, num_texts = video_embeds.shape[0], text_embeds.shape[0]
    if text_to_video is None:
        if num_videos != num_texts:
            raise ValueError(
                f"{num_texts} captions for {num_videos} videos: pass `text_to_video`, the video index of each caption."
            )
        text_to_video = torch.arange(num_texts)
    text_to_video = torch.as_tensor(text_to_video, dtype=torch.long).cpu()
    if text_to_video.shape != (num_texts,) or num_texts == 0:
        raise ValueError(f"`text_to_video` must hold one video index per caption ({num_texts}), got {text_to_video}.")
    if text_to_video.min() < 0 or text_to_video.max() >= num_videos:
        raise ValueError(f"`text_to_video` holds indices outside [0, {num_videos}).")
    if (torch.bincount(text_to_video, minlength=num_videos) == 0).any():
        raise ValueError("Every video needs at least one caption in `text_to_video`; remove uncaptioned videos.")

    # positives[t, v]: video v answers caption t.
    positives = F.one_hot(text_to_video, num_videos).bool()
    if captions is not None:
        if len(captions) != num_texts:
            raise ValueError(f"Got {len(captions)} captions for {num_texts} text embeddings.")
        groups = {}
        group_ids = torch.tensor([groups.setdefault(key, len(groups)) for key in _caption_keys(captions)])
        group_videos = torch.zeros(len(groups), num_videos, dtype=torch.bool)
        group_videos[group_ids, text_to_video] = True
        positives = group_videos[group_ids]

    scores = (
        F.normalize(text_embeds.detach().float().cpu(), dim=-1)
        @ F.normalize(video_embeds.detach().float().cpu(), dim=-1).t()
    )
    metrics = _recalls(scores, positives, "t2v")
    metrics.update(_recalls(scores.t(), positives.t(), "v2t"))
    metrics["mean_recall"] = (metrics["t2v_mean_recall"] + metrics["v2t_mean_recall"]) / 2
    return metrics


@torch.no_grad()
def evaluate_retrieval(
    model: torch.nn.Module,
    batches: Iterable[Mapping[str, Any]],
    across_processes: bool = False,
    skipped_log: SkippedSampleLog | None = None,
) -> dict[str, float]:
    """
    Embeds every video and caption of a validation set once and returns [`retrieval_metrics`] over them.

    Args:
        model ([`ViCLIPModel`]): the model; it is put in evaluation mode (and its mode restored). Embeddings are the
            normalised `video_embeds` and `text_embeds` of its forward pass.
        batches (iterable of batches): e.g. a DataLoader over a [`VideoDataset`] built with `train=False` and a
            [`VideoDataCollator`]: `pixel_values`, `input_ids`, `attention_mask`, and `index` (annotation rows, which
            drop the samples a distributed sampler repeats). Row `i` of a batch is one pair; skipped videos are
            already dropped with their captions. Identical token ids count as one caption.
        across_processes (`bool`, defaults to `False`): for a validation set sharded over processes, gather every
            process's embeddings ([`viclip_train.distributed.gather_rows`], which pads and trims the processes' uneven
            rows) and add up their skipped videos. Otherwise the metrics cover this process's batches.
        skipped_log ([`SkippedSampleLog`], *optional*): records the skipped videos (with the batches' `num_skipped`
            and `skipped_samples`) and stops when too many fail.

    Returns:
        `dict[str, float]`: the recalls in percent, `num_pairs` (the pairs evaluated) and `skipped_videos`.
    """
    was_training = model.training
    model.eval()
    parameter = next(model.parameters())
    sharded = across_processes and is_distributed()
    collected = {"video_embeds": [], "text_embeds": [], "input_ids": [], INDEX_KEY: []}
    skipped = 0
    try:
        for batch in batches:
            skipped += record_skipped(
                batch, skipped_log, device=parameter.device, across_processes=sharded, split="eval"
            )
            if "pixel_values" in batch:
                ids = batch["input_ids"].to(parameter.device)
                # the forward pass (not get_*_features), so that FSDP and DeepSpeed gather their shards
                model_outputs = model(
                    input_ids=ids,
                    pixel_values=batch["pixel_values"].to(device=parameter.device, dtype=parameter.dtype),
                    attention_mask=batch["attention_mask"].to(parameter.device),
                )
                outputs = {
                    "video_embeds": model_outputs.video_embeds.float(),
                    "text_embeds": model_outputs.text_embeds.float(),
                    "input_ids": ids,
                }
                if INDEX_KEY in batch:
                    outputs[INDEX_KEY] = batch[INDEX_KEY].to(parameter.device)
            elif sharded:  # nothing readable here, but the other processes gather
                outputs = _empty_outputs(model, parameter.device)
            else:
                continue
            outputs = gather_rows(outputs) if sharded else outputs
            for name, value in outputs.items():
                collected[name].append(value.cpu())
    finally:
        model.train(was_training)
    if skipped_log is not None:
        skipped_log.finish()
    tensors = {name: torch.cat(values) for name, values in collected.items() if values}
    if "video_embeds" not in tensors or len(tensors["video_embeds"]) == 0:
        raise ValueError("evaluate_retrieval got no readable pair: the validation set is empty.")
    rows = tensors.pop(INDEX_KEY, None)
    if rows is not None and len(rows) == len(tensors["video_embeds"]):  # every batch said which rows it holds
        keep = first_occurrences(rows)
        tensors = {name: value[keep] for name, value in tensors.items()}
    metrics = retrieval_metrics(tensors["video_embeds"], tensors["text_embeds"], captions=tensors["input_ids"])
    metrics["num_pairs"] = len(tensors["video_embeds"])
    metrics["skipped_videos"] = skipped
    return metrics


def _empty_outputs(model: torch.nn.Module, device: torch.device) -> dict[str, torch.Tensor]:
    """Zero rows of each output, shaped as the model's, for a process whose batch was entirely skipped."""
    config = model.config
    return {
        "video_embeds": torch.zeros(0, config.projection_dim, device=device),
        "text_embeds": torch.zeros(0, config.projection_dim, device=device),
        "input_ids": torch.zeros(0, config.text_config.max_position_embeddings, dtype=torch.long, device=device),
        INDEX_KEY: torch.zeros(0, dtype=torch.long, device=device),
    }


__all__ = [
    "RECALL_AT",
    "benchmark_retrieval_metrics",
    "dual_softmax_scores",
    "evaluate_retrieval",
    "multi_caption_positives",
    "query_ranks",
    "rank_metrics",
    "retrieval_metrics",
]
