# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Under torchrun with two processes (gloo, CPU): the gathered contrastive loss equals one process's, retrieval over
unevenly sharded processes equals one process's, and a rank whose share of a batch is unreadable neither hangs nor
desynchronises the run."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from tests.conftest import tiny_config_kwargs
from viclip import ViCLIPConfig, ViCLIPModel
from viclip.losses import gather_features, viclip_contrastive_loss
from viclip_train.eval.retrieval import evaluate_retrieval


TESTS_DIR = Path(__file__).parent
sys.path.insert(0, str(TESTS_DIR))
import distributed_loss_worker  # noqa: E402


def test_single_process_loss_is_symmetric_infonce():
    torch.manual_seed(0)
    video = F.normalize(torch.randn(6, 16, dtype=torch.float64), dim=-1)
    text = F.normalize(torch.randn(6, 16, dtype=torch.float64), dim=-1)
    logits = 30.0 * video @ text.t()
    targets = torch.arange(6)
    expected = (F.cross_entropy(logits, targets) + F.cross_entropy(logits.t(), targets)) / 2
    torch.testing.assert_close(viclip_contrastive_loss(video, text, 30.0), expected)


def test_gather_features_is_identity_in_a_single_process():
    video, text = torch.randn(3, 4), torch.randn(3, 4)
    gathered = gather_features(video, text)
    assert gathered.video is video and gathered.text is text
    assert (gathered.offset, gathered.world_size) == (0, 1)


def test_gather_features_rejects_unpaired_features():
    with pytest.raises(ValueError, match=r"\[n, D\]"):
        gather_features(torch.randn(3, 4), torch.randn(2, 4))


@pytest.fixture(scope="module")
def torchrun_results(tmp_path_factory):
    """Runs `distributed_loss_worker.py` once under `torchrun --nproc_per_node 2` (gloo) and returns its folder."""
    out_dir = tmp_path_factory.mktemp("torchrun")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(TESTS_DIR.parent)}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
        str(TESTS_DIR / "distributed_loss_worker.py"), str(out_dir),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out_dir


def test_torchrun_two_processes_match_one_process_with_the_whole_batch(torchrun_results):
    for case in distributed_loss_worker.CASES:
        distributed = torch.load(torchrun_results / f"{case}.pt")
        single = distributed_loss_worker.single_process_result(case)
        torch.testing.assert_close(distributed["loss"], single["loss"], atol=1e-5, rtol=0, msg=f"{case}: loss")
        assert distributed["grads"].keys() == single["grads"].keys()
        for name, grad in single["grads"].items():
            where = f"{case}: grad of {name}"
            torch.testing.assert_close(
                distributed["grads"][name], grad, atol=1e-5, rtol=0, msg=lambda m, w=where: f"{w}: {m}"
            )


def test_retrieval_over_unevenly_sharded_processes_matches_one_process(torchrun_results):
    distributed = torch.load(torchrun_results / "retrieval.pt")
    every_batch = [batch for rank_batches in distributed_loss_worker.retrieval_batches() for batch in rank_batches]
    single = evaluate_retrieval(distributed_loss_worker.EmbeddingTowers(), every_batch)
    assert distributed["num_pairs"] == single["num_pairs"] == 10
    assert distributed == pytest.approx(single)


def _trainer_results(torchrun_results, case):
    return [torch.load(torchrun_results / f"{case}.rank{rank}.pt") for rank in range(2)]


def test_a_rank_whose_every_batch_is_unreadable_takes_zero_weight_steps_without_hanging(torchrun_results):
    initial = _trainer_results(torchrun_results, "every_step")
    for result in initial:
        assert result["step"] == 3 and "error" not in result
    torch.manual_seed(0)
    untouched = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs()))  # SGD with zero gradients changes nothing
    for name, parameter in untouched.named_parameters():
        for result in initial:
            torch.testing.assert_close(result["weights"][name], parameter.detach(), rtol=0, atol=0, msg=name)


def test_one_empty_share_keeps_the_ranks_in_step_and_in_sync(torchrun_results):
    rank0, rank1 = _trainer_results(torchrun_results, "one_step")
    assert rank0["step"] == rank1["step"] == 3
    for name, weight in rank0["weights"].items():
        torch.testing.assert_close(rank1["weights"][name], weight, rtol=0, atol=0, msg=name)


def test_too_many_unreadable_samples_stop_every_rank_at_the_same_step(torchrun_results):
    rank0, rank1 = _trainer_results(torchrun_results, "stops")
    assert rank0["step"] == rank1["step"] < 3
    for result in (rank0, rank1):  # both name the reason and an example, though only rank 1 read the failures
        assert "OSError" in result["error"] and "videos/missing_1.mp4" in result["error"]
