# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The scoring and embedding job (`viclip_train.score`): every source type, skipped rows, resumption after a kill,
and the split over processes."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import datasets
import numpy as np
import pytest
import torch

from viclip import ViCLIPModel, ViCLIPProcessor
from viclip.pipeline_viclip import embed_texts, embed_videos
from viclip_train.data.synthetic import make_synthetic_corpus, write_corpus_shards
from viclip_train.moments.search import MomentIndex
from viclip_train.score import (
    finish_job,
    load_annotation_rows,
    load_dataset_rows,
    load_job_table,
    load_shard_rows,
    load_video_folder_rows,
    run_score_job,
)
from viclip_train.score.command import main
from viclip_train.score.vbench import main as vbench_main


TESTS_DIR = Path(__file__).parent


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    return make_synthetic_corpus(tmp_path_factory.mktemp("corpus"), num_train=10, num_val=2, num_frames=8)


@pytest.fixture(scope="module")
def tiny(tiny_viclip_folder):
    return ViCLIPModel.from_pretrained(tiny_viclip_folder).eval(), ViCLIPProcessor.from_pretrained(tiny_viclip_folder)


def expected_scores(model, processor, corpus, rows: list[int]) -> np.ndarray:
    """Each row's cosine similarity computed directly with the processor and the model."""
    annotations = json.loads(corpus.annotation_file("train").read_text())
    videos = [str(corpus.root / annotations[row]["video"]) for row in rows]
    with torch.inference_mode():
        video = embed_videos(model, processor.video_processor(videos, return_tensors="pt")["pixel_values"])
        text = embed_texts(model, processor, [annotations[row]["caption"] for row in rows])
    return (video * text).sum(-1).numpy()


def test_scores_of_an_annotation_file_are_the_cosine_of_each_clip_and_caption_with_its_columns_kept(
    corpus, tiny, tmp_path
):
    model, processor = tiny
    rows = load_annotation_rows(corpus.annotation_file("train"), video_root=str(corpus.root))
    summary = run_score_job(rows, model, processor, tmp_path / "out", batch_size=3, num_workers=0, chunk_rows=4)

    table = load_job_table(tmp_path / "out")
    assert list(table["row"]) == list(range(10))
    source_columns = json.loads(corpus.annotation_file("train").read_text())[0].keys()
    assert set(source_columns) <= set(table.column_names)
    np.testing.assert_allclose(table["score"], expected_scores(model, processor, corpus, list(range(10))), atol=1e-5)
    assert (summary.read, summary.skipped, summary.rows) == (10, 0, 10)
    written = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert written["score"]["mean"] == pytest.approx(float(np.mean(table["score"])), abs=1e-6)
    assert set(written["score"]) >= {"mean", "min", "max", "q05", "q50", "q95"}


def test_a_bad_video_is_skipped_counted_and_listed_with_the_reason(corpus, tiny, tmp_path):
    model, processor = tiny
    rows = json.loads(corpus.annotation_file("train").read_text())[:4]
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    rows[1]["video"] = str(tmp_path / "broken.mp4")
    rows[2]["video"] = "missing.mp4"
    (tmp_path / "rows.json").write_text(json.dumps(rows))
    table = load_annotation_rows(tmp_path / "rows.json", video_root=str(corpus.root))

    summary = run_score_job(table, model, processor, tmp_path / "out", batch_size=2, num_workers=0)

    assert (summary.read, summary.skipped) == (2, 2)
    assert list(load_job_table(tmp_path / "out")["row"]) == [0, 3]
    listed = [json.loads(line) for line in (tmp_path / "out" / "skipped_rows.jsonl").read_text().splitlines()]
    assert [entry["row"] for entry in listed] == [1, 2]
    assert "broken.mp4" in listed[0]["video"] and listed[0]["reason"]
    assert listed[1]["error"] == "FileNotFoundError"


def test_every_source_type_is_scored_or_embedded(corpus, tiny, tmp_path):
    model, processor = tiny
    annotations = json.loads(corpus.annotation_file("train").read_text())[:4]
    expected = expected_scores(model, processor, corpus, list(range(4)))
    # tar shards
    shards = write_corpus_shards(corpus, samples_per_shard=3)
    from_shards = load_shard_rows([str(shards["train"])])
    run_score_job(from_shards, model, processor, tmp_path / "shards", num_workers=0)
    table = load_job_table(tmp_path / "shards")
    assert list(table["row"]) == list(range(10)) and len(set(table["key"])) == 10
    np.testing.assert_allclose(table["score"][:4], expected, atol=1e-3)  # the shard writer re-encodes the clips
    # a datasets folder with a path column, and one with a Video() column
    paths = datasets.Dataset.from_list(annotations)
    paths.save_to_disk(tmp_path / "paths")
    run_score_job(load_dataset_rows(str(tmp_path / "paths"), video_root=str(corpus.root)), model, processor,
                  tmp_path / "paths_out", num_workers=0)  # fmt: skip
    np.testing.assert_allclose(load_job_table(tmp_path / "paths_out")["score"], expected, atol=1e-5)
    videos = paths.map(lambda row: {"video": str(corpus.root / row["video"])}).cast_column("video", datasets.Video())
    videos.save_to_disk(tmp_path / "videos")
    run_score_job(load_dataset_rows(str(tmp_path / "videos")), model, processor, tmp_path / "videos_out",
                  num_workers=0)  # fmt: skip
    table = load_job_table(tmp_path / "videos_out")
    np.testing.assert_allclose(table["score"], expected, atol=1e-5)
    assert table["video"][0] == Path(annotations[0]["video"]).name  # the Video() column kept as its path
    # a folder of videos, embedded; it loads as a moment index
    folder = tmp_path / "folder"
    folder.mkdir()
    for row in annotations:
        shutil.copy(corpus.root / row["video"], folder / Path(row["video"]).name)
    run_score_job(load_video_folder_rows(folder), model, processor, tmp_path / "embed", task="embed",
                  num_workers=0)  # fmt: skip
    index = MomentIndex.load(tmp_path / "embed", use_faiss=False)
    assert len(index) == 4 and index.windows["end"][0] > 0


def test_rerunning_with_other_settings_is_an_error_naming_the_setting(corpus, tiny, tmp_path):
    model, processor = tiny
    shutil.copy(corpus.annotation_file("train"), tmp_path / "rows.json")
    rows = load_annotation_rows(tmp_path / "rows.json", video_root=str(corpus.root))
    run_score_job(rows, model, processor, tmp_path / "out", num_workers=0, chunk_rows=4)
    with pytest.raises(ValueError, match="chunk_rows=4"):
        run_score_job(rows, model, processor, tmp_path / "out", num_workers=0, chunk_rows=5)
    summary = run_score_job(rows, model, processor, tmp_path / "out", num_workers=0, chunk_rows=4, batch_size=7)
    assert summary.rows_this_run == 0 and summary.read == 10  # done already: nothing scored twice
    changed = json.loads(corpus.annotation_file("train").read_text())
    changed[3]["caption"] = "another caption"
    (tmp_path / "rows.json").write_text(json.dumps(changed))
    changed_rows = load_annotation_rows(tmp_path / "rows.json", video_root=str(corpus.root))
    with pytest.raises(ValueError, match="source_fingerprint"):
        run_score_job(changed_rows, model, processor, tmp_path / "out", num_workers=0, chunk_rows=4)


def _command(corpus, output_dir: Path, model_folder: Path, *extra: str) -> list[str]:
    return [
        "--model_name_or_path", str(model_folder), "--annotation_file", str(corpus.annotation_file("train")),
        "--video_root", str(corpus.root), "--output_dir", str(output_dir), "--num_workers", "0",
        "--chunk_rows", "2", "--batch_size", "2", "--disable_tqdm", "--device", "cpu", *extra,
    ]  # fmt: skip


def test_kill_9_during_scoring_then_rerun_gives_exactly_the_rows_of_an_uninterrupted_run(
    corpus, tiny_viclip_folder, tmp_path
):
    main(_command(corpus, tmp_path / "whole", tiny_viclip_folder))
    environment = {**os.environ, "PYTHONPATH": str(TESTS_DIR.parent), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "viclip_train.score", *_command(corpus, tmp_path / "killed", tiny_viclip_folder)]
    job = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    shards = tmp_path / "killed" / "shards"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and len(list(shards.glob("*.arrow"))) < 2 and job.poll() is None:
        time.sleep(0.05)
    job.send_signal(signal.SIGKILL)
    job.wait()
    assert len(list(shards.glob("*.arrow"))) < 5, "the job finished before it was killed"

    main(_command(corpus, tmp_path / "killed", tiny_viclip_folder))

    whole, resumed = load_job_table(tmp_path / "whole"), load_job_table(tmp_path / "killed")
    assert list(resumed["row"]) == list(whole["row"]) == list(range(10))
    assert list(resumed["score"]) == list(whole["score"])
    assert finish_job(tmp_path / "killed").read == 10


@pytest.mark.slow  # three interpreters (the launcher and two workers) start torch on 2 cores: about 30 s
def test_two_gloo_processes_score_disjoint_chunks_and_give_the_rows_and_scores_of_one_process(
    corpus, tiny_viclip_folder, tmp_path
):
    main(_command(corpus, tmp_path / "one", tiny_viclip_folder))
    environment = {**os.environ, "PYTHONPATH": str(TESTS_DIR.parent), "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(_free_port()),
        "-m", "viclip_train.score", *_command(corpus, tmp_path / "two", tiny_viclip_folder),
    ]  # fmt: skip
    result = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]

    one, two = load_job_table(tmp_path / "one"), load_job_table(tmp_path / "two")
    assert list(two["row"]) == list(one["row"]) == list(range(10))
    np.testing.assert_allclose(two["score"], one["score"], rtol=0, atol=1e-6)
    assert "10 of 10 rows read, 0 skipped" in result.stdout


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_vbench_runner_finds_videos_as_vbench_does_and_writes_its_results_layout(
    corpus, tiny_viclip_folder, tmp_path, capsys
):
    annotations = json.loads(corpus.annotation_file("train").read_text())[:3]
    folder = tmp_path / "generated"
    folder.mkdir()
    for index, row in enumerate(annotations):
        shutil.copy(corpus.root / row["video"], folder / f"{row['caption']}-{index}.mp4")
    info = [
        {"prompt_en": annotations[0]["caption"], "dimension": ["overall_consistency"]},
        {"prompt_en": annotations[1]["caption"], "dimension": ["overall_consistency", "temporal_style"]},
        {"prompt_en": annotations[2]["caption"], "dimension": ["temporal_style"]},
    ]
    (tmp_path / "info.json").write_text(json.dumps(info))

    vbench_main([
        "--model_name_or_path", str(tiny_viclip_folder), "--videos_path", str(folder), "--output_dir",
        str(tmp_path / "out"), "--full_info_json", str(tmp_path / "info.json"), "--num_workers", "0",
        "--device", "cpu", "--disable_tqdm",
    ])  # fmt: skip

    results = json.loads((tmp_path / "out" / "results_eval_results.json").read_text())
    scores = {Path(v["video_path"]).name: v["video_results"] for d in results.values() for v in d[1]}
    names = [f"{row['caption']}-{index}.mp4" for index, row in enumerate(annotations)]
    assert [Path(v["video_path"]).name for v in results["overall_consistency"][1]] == names[:2]
    assert [Path(v["video_path"]).name for v in results["temporal_style"][1]] == names[1:]
    assert results["temporal_style"][0] == pytest.approx((scores[names[1]] + scores[names[2]]) / 2)
    assert f"overall_consistency: {results['overall_consistency'][0]:.6f} (2 videos)" in capsys.readouterr().out
