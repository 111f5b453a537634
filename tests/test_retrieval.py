# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Retrieval recalls from embedding matrices."""

import pytest
import torch

from viclip_train.distributed import first_occurrences, gather_rows
from viclip_train.eval.retrieval import evaluate_retrieval, retrieval_metrics


def _one_hot_embeds(rows: list[int], dim: int = 8) -> torch.Tensor:
    return torch.nn.functional.one_hot(torch.tensor(rows), dim).float()


def test_perfect_embeddings_give_full_recall_both_ways():
    embeds = torch.eye(6)
    metrics = retrieval_metrics(embeds, embeds.clone())
    assert all(value == 100.0 for value in metrics.values())
    assert set(metrics) == {
        "t2v_r1", "t2v_r5", "t2v_r10", "t2v_mean_recall",
        "v2t_r1", "v2t_r5", "v2t_r10", "v2t_mean_recall", "mean_recall",
    }  # fmt: skip


def test_recall_at_k_counts_the_rank_of_the_true_video():
    # Caption i is closest to video (i + 1) % 12, its own video second: R@1 = 0, R@5 = 100.
    angles = torch.arange(12) * (2 * torch.pi / 12)
    videos = torch.stack([angles.cos(), angles.sin()], dim=1)
    texts = torch.stack([(angles + 2 * torch.pi / 12 * 0.6).cos(), (angles + 2 * torch.pi / 12 * 0.6).sin()], dim=1)
    metrics = retrieval_metrics(videos, texts)
    assert metrics["t2v_r1"] == 0.0 and metrics["t2v_r5"] == 100.0
    assert metrics["t2v_mean_recall"] == pytest.approx(200 / 3)


def test_ties_count_against_the_model():
    collapsed = torch.ones(5, 4)
    metrics = retrieval_metrics(collapsed, collapsed)
    assert metrics["t2v_r1"] == 0.0 and metrics["v2t_r1"] == 0.0


def test_duplicate_captions_accept_any_video_of_the_same_caption():
    # Videos 0 and 1 share the caption "a red ball" (up to case and spaces); both texts embed identically.
    videos = _one_hot_embeds([0, 1, 2])
    texts = _one_hot_embeds([1, 1, 2])
    captions = ["a red ball", "A  red ball", "a blue cube"]
    grouped = retrieval_metrics(videos, texts, captions=captions)
    assert grouped["t2v_r1"] == 100.0
    assert grouped["v2t_r1"] == pytest.approx(100 * 2 / 3)  # video 0 is far from every text; the others are found
    strict = retrieval_metrics(videos, texts)
    assert strict["t2v_r1"] == pytest.approx(100 * 2 / 3)  # text 0 (true video 0) retrieves video 1


def test_several_captions_per_video_use_text_to_video():
    videos = _one_hot_embeds([0, 1])
    texts = _one_hot_embeds([0, 0, 1, 1])
    metrics = retrieval_metrics(videos, texts, text_to_video=[0, 0, 1, 1])
    assert metrics["t2v_r1"] == 100.0 and metrics["v2t_r1"] == 100.0


def test_mismatched_counts_need_text_to_video():
    with pytest.raises(ValueError, match="text_to_video"):
        retrieval_metrics(torch.eye(4)[:3], torch.eye(4))


def test_token_ids_group_identical_captions():
    videos = _one_hot_embeds([0, 1])
    texts = _one_hot_embeds([1, 1])
    same_ids = torch.tensor([[49406, 320, 49407], [49406, 320, 49407]])
    assert retrieval_metrics(videos, texts, captions=same_ids)["t2v_r1"] == 100.0


def test_evaluate_retrieval_embeds_each_pair_once_and_restores_training_mode():
    from types import SimpleNamespace

    class Towers(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = torch.nn.Parameter(torch.ones(()))
            self.calls = 0

        def forward(self, input_ids, pixel_values, attention_mask):
            self.calls += pixel_values.shape[0]
            return SimpleNamespace(
                video_embeds=pixel_values.flatten(1) * self.scale,
                text_embeds=torch.nn.functional.one_hot(input_ids[:, 1], 6).float(),
            )

    model = Towers().train()
    input_ids = torch.stack([torch.zeros(6, dtype=torch.long), torch.arange(6)], dim=1)
    batches = [
        {
            "pixel_values": torch.eye(6)[rows],
            "input_ids": input_ids[rows],
            "attention_mask": torch.ones_like(input_ids[rows]),
        }
        for rows in (slice(0, 3), slice(3, 6))
    ]
    metrics = evaluate_retrieval(model, batches)
    assert metrics["t2v_r1"] == metrics["v2t_r1"] == 100.0 and metrics["num_pairs"] == 6
    assert model.calls == 6 and model.training


def test_evaluate_retrieval_counts_each_annotation_row_once():
    from types import SimpleNamespace

    class Identity(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.unused = torch.nn.Parameter(torch.zeros(()))

        def forward(self, input_ids, pixel_values, attention_mask):
            return SimpleNamespace(video_embeds=pixel_values, text_embeds=input_ids.float())

    rows = torch.tensor([0, 1, 2, 1, 0])  # a distributed sampler repeated rows 1 and 0 to even out the processes
    batch = {
        "pixel_values": torch.eye(3)[rows],
        "input_ids": torch.eye(3, dtype=torch.long)[rows],
        "attention_mask": torch.ones(5, 3),
        "index": rows,
    }
    assert evaluate_retrieval(Identity(), [batch])["num_pairs"] == 3


def test_gather_rows_in_one_process_returns_the_rows_as_they_are_and_first_occurrences_keep_row_order():
    tensors = {"a": torch.arange(3)}
    assert gather_rows(tensors) is tensors
    assert first_occurrences(torch.tensor([4, 2, 4, 0, 2])).tolist() == [3, 1, 0]
