# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Moment search: sliding windows over long videos, the resumable index folder, and text queries.

The known-answer tests embed with functions whose answer is known (a window's share of each colour, a query's colour
word), since a tiny random model knows no caption; the end-to-end tests run a real tiny ViCLIP folder and check the
shapes, times, resumption and agreement with exact search."""

import dataclasses
import importlib.util
import itertools
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import torch

from tests.processing_helpers import frame_indices_of, write_index_video
from viclip import ViCLIPVideoProcessor
from viclip_train.data.synthetic import COLORS, SHAPES, caption_for, render_clip, write_video
from viclip_train.data.video_reading import video_duration
from viclip_train.moments import demo as moments_demo
from viclip_train.moments import index_videos as index_videos_command
from viclip_train.moments import search_moments as search_moments_command
from viclip_train.moments.index import (
    INDEX_CONFIG_NAME,
    SHARDS_DIR,
    SKIPPED_VIDEOS_NAME,
    index_videos,
    load_window_table,
)
from viclip_train.moments.search import (
    Moment,
    MomentIndex,
    TextEmbedder,
    faiss_is_available,
    load_viclip,
    merge_overlapping_moments,
    search_moments,
)
from viclip_train.moments.windows import VideoEmbedder, embed_video_windows, list_videos, sliding_windows


BACKENDS = [backend for backend, module in (("decord", "decord"), ("pyav", "av")) if importlib.util.find_spec(module)]
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
SEARCH_PATHS = [pytest.param(False, id="exact")] + [
    pytest.param(True, id="faiss", marks=pytest.mark.skipif(not faiss_is_available(), reason="faiss-cpu missing"))
]
# The known-answer video: one clip per colour, 2 s each (8 frames at 4 fps), each followed by 1 s of background.
CLIP_FRAMES, GAP_FRAMES, FPS, FRAME_SIZE = 8, 4, 4, 32
EMBEDDING_DIM = len(COLORS) + 1  # of the known-answer embedders


# --------------------------------------------------------------------------------------------------------------------
# Embedding functions with a known answer, and videos
# --------------------------------------------------------------------------------------------------------------------


def _frames_uint8(pixel_values: torch.Tensor) -> torch.Tensor:
    """`[B, T, 3, H, W]` normalised pixel values back to 0-255 RGB."""
    mean = torch.tensor(IMAGENET_MEAN).view(1, 1, 3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(1, 1, 3, 1, 1)
    return ((pixel_values * std + mean) * 255).round().clamp(0, 255)


class ColourShareEmbedder:
    """A video 'model' whose embedding is the share of pixels of each synthetic colour in the window, then the share of
    the other pixels (so that the cosine with a colour grows with the amount of it); counts calls and can stop the
    process (`crash_on_call`: raise; `kill_on_call`: SIGKILL itself) to simulate an interruption."""

    def __init__(self, crash_on_call: int | None = None, kill_on_call: int | None = None):
        self.calls = 0
        self.windows = 0
        self.crash_on_call, self.kill_on_call = crash_on_call, kill_on_call

    def __call__(self, pixel_values: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.calls == self.kill_on_call:
            os.kill(os.getpid(), signal.SIGKILL)
        if self.calls == self.crash_on_call:
            raise RuntimeError("simulated crash")
        self.windows += len(pixel_values)
        frames = _frames_uint8(pixel_values)
        shares = []
        for rgb in COLORS.values():
            close = (frames - torch.tensor(rgb, dtype=frames.dtype).view(1, 1, 3, 1, 1)).abs().amax(dim=2) < 40
            shares.append(close.float().mean(dim=(1, 2, 3)))
        shares.append(1 - sum(shares))
        return torch.stack(shares, dim=1)


def colour_word_embedder(texts: list[str]) -> torch.Tensor:
    """A text 'model': one-hot of the first colour named in each text."""
    names = list(COLORS)
    rows = []
    for text in texts:
        colour = next(word for word in text.split() if word in names)
        rows.append(torch.nn.functional.one_hot(torch.tensor(names.index(colour)), EMBEDDING_DIM).float())
    return torch.stack(rows)


def write_stitched_video(path: Path, colours: list[str], seed: int = 0) -> list[dict]:
    """A long video of one clip per colour, each followed by background; returns each clip's caption and span."""
    rng = np.random.default_rng(seed)
    segments, clips = [], []
    for position, colour in enumerate(colours):
        shape, direction = SHAPES[position % len(SHAPES)], ["left", "right", "up", "down"][position % 4]
        segments.append(render_clip(colour, shape, direction, num_frames=CLIP_FRAMES, frame_size=FRAME_SIZE, rng=rng))
        segments.append(np.full((GAP_FRAMES, FRAME_SIZE, FRAME_SIZE, 3), 20, np.uint8))
        start = position * (CLIP_FRAMES + GAP_FRAMES) / FPS
        clips.append(
            {"caption": caption_for(colour, shape, direction), "start": start, "end": start + CLIP_FRAMES / FPS}
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    write_video(path, np.concatenate(segments), fps=FPS)
    return clips


def tiny_video_processor() -> ViCLIPVideoProcessor:
    return ViCLIPVideoProcessor(size={"height": FRAME_SIZE, "width": FRAME_SIZE}, num_frames=4)


@pytest.fixture(scope="module")
def video_folder(tmp_path_factory) -> tuple[Path, dict[str, list[dict]]]:
    """Three stitched videos (one in a sub-folder) and one broken file."""
    root = tmp_path_factory.mktemp("moment_videos")
    names = list(COLORS)
    clips = {
        "long.mp4": write_stitched_video(root / "long.mp4", names, seed=0),
        "more/second.mp4": write_stitched_video(root / "more" / "second.mp4", names[:2], seed=1),
        "third.mkv": write_stitched_video(root / "third.mkv", names[2:5], seed=2),
    }
    (root / "broken.mp4").write_bytes(b"this is not a video")
    (root / "notes.txt").write_text("not a video either")
    return root, clips


@pytest.fixture(scope="module")
def known_answer_folder(tmp_path_factory) -> tuple[Path, list[dict]]:
    """One long video with a clip of each colour, and a video of empty background."""
    root = tmp_path_factory.mktemp("known_answer")
    clips = write_stitched_video(root / "long.mp4", list(COLORS), seed=3)
    write_video(root / "empty.mp4", np.full((24, FRAME_SIZE, FRAME_SIZE, 3), 30, np.uint8), fps=FPS)
    return root, clips


@pytest.fixture(scope="module")
def known_answer_index(known_answer_folder, tmp_path_factory) -> tuple[Path, list[dict]]:
    """`known_answer_folder` indexed with the colour-share embedder, 2 s windows every 0.5 s: (index folder, clips)."""
    root, clips = known_answer_folder
    index_dir = tmp_path_factory.mktemp("known_answer_index") / "index"
    _index(root, index_dir, window_seconds=2.0, stride_seconds=0.5)
    return index_dir, clips


def _index(folder: Path, output: Path, embedder=None, **kwargs):
    settings = {"window_seconds": 2.0, "stride_seconds": 1.0, "batch_size": 4, "num_workers": 0, "progress": False}
    settings.update(kwargs)
    return index_videos(
        folder, output, embedder or ColourShareEmbedder(), tiny_video_processor(), model_id="colour-share", **settings
    )


@pytest.fixture(scope="module")
def indexed_folder(video_folder, tmp_path_factory):
    """`video_folder` indexed once with the colour-share embedder (2 s windows every second, 2 decoding workers):
    `(video root, index folder, summary, rows)`. Tests only read it."""
    root, _ = video_folder
    index_dir = tmp_path_factory.mktemp("indexed") / "index"
    summary = _index(root, index_dir, num_workers=2)
    return root, index_dir, summary, _rows(load_window_table(index_dir))


def _embeddings(table) -> torch.Tensor:
    return torch.from_numpy(np.asarray(table.with_format("numpy")[:]["embedding"]))


def _rows(table) -> list[tuple]:
    return [
        (video, start, end, tuple(np.round(embedding, 6)))
        for video, start, end, embedding in zip(
            table["video"], table["start"], table["end"], table["embedding"], strict=True
        )
    ]


# --------------------------------------------------------------------------------------------------------------------
# Windows
# --------------------------------------------------------------------------------------------------------------------


def test_windows_start_every_stride_and_last_with_the_video():
    assert sliding_windows(10.0, 4.0, 2.0) == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (6.0, 10.0)]


def test_last_partial_window_is_aligned_to_the_end_of_the_video():
    assert sliding_windows(9.0, 4.0, 2.0) == [(0.0, 4.0), (2.0, 6.0), (4.0, 8.0), (5.0, 9.0)]
    assert sliding_windows(10.5, 8.0, 8.0) == [(0.0, 8.0), (2.5, 10.5)]


def test_every_window_lasts_the_window_length_and_the_windows_cover_the_video():
    for duration in (8.0, 8.1, 13.37, 59.99, 61.0):
        windows = sliding_windows(duration, 8.0, 3.0)
        assert all(end - start == pytest.approx(8.0) for start, end in windows)
        assert windows[0][0] == 0.0 and windows[-1][1] == pytest.approx(duration)
        assert all(next_start <= end for (_, end), (next_start, _) in itertools.pairwise(windows))


def test_video_shorter_than_a_window_is_one_window():
    assert sliding_windows(3.25, 8.0, 4.0) == [(0.0, 3.25)]


def test_window_times_do_not_drift_with_fractional_strides():
    windows = sliding_windows(1.0, 0.3, 0.1)
    assert [start for start, _ in windows] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7]


@pytest.mark.parametrize(
    "arguments, message",
    [((10.0, 0.0, 1.0), "window_seconds"), ((10.0, 2.0, -1.0), "stride_seconds"), ((0.0, 2.0, 1.0), "duration")],
)
def test_bad_window_settings_raise_naming_the_setting(arguments, message):
    with pytest.raises(ValueError, match=message):
        sliding_windows(*arguments)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_duration_is_frame_count_over_frame_rate(tmp_path, backend):
    path = write_index_video(str(tmp_path / "index.mp4"), num_frames=45, fps=10)
    assert video_duration(path, backend) == pytest.approx(4.5)


@pytest.mark.parametrize("backend", BACKENDS)
def test_video_duration_of_a_broken_file_names_it(tmp_path, backend):
    path = tmp_path / "broken.mp4"
    path.write_bytes(b"nope")
    with pytest.raises(ValueError, match="broken.mp4"):
        video_duration(path, backend)


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_window_is_read_from_its_own_time_span(tmp_path, backend):
    """Frames encode their index: window (s, e) must read frames ceil(10 s) ... of a 10 fps video, the last window
    reaching the last frame."""
    path = write_index_video(str(tmp_path / "index.mp4"), num_frames=60, fps=10)
    seen = []

    def record(pixel_values):
        seen.extend(frame_indices_of(frames.permute(0, 2, 3, 1).numpy()) for frames in _frames_uint8(pixel_values))
        return torch.ones(len(pixel_values), 3)

    result = embed_video_windows(
        path, record, tiny_video_processor(), window_seconds=2.0, stride_seconds=1.5, video_backend=backend
    )
    assert list(zip(result.starts, result.ends, strict=True)) == [(0.0, 2.0), (1.5, 3.5), (3.0, 5.0), (4.0, 6.0)]
    # 20 frames per window, 4 segments of 5 frames, middles 2, 7, 12, 17 after the window's first frame
    assert seen == [[math.ceil(10 * start) + offset for offset in (2, 7, 12, 17)] for start in result.starts]
    assert result.embeddings.shape == (4, 3)
    assert torch.allclose(result.embeddings.norm(dim=-1), torch.ones(4))


# --------------------------------------------------------------------------------------------------------------------
# Known answer: the query for a clip's caption finds that clip first
# --------------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("use_faiss", SEARCH_PATHS)
def test_query_for_a_clip_caption_returns_a_window_overlapping_that_clip_first(known_answer_index, use_faiss):
    index_dir, clips = known_answer_index
    index = MomentIndex.load(index_dir, use_faiss=use_faiss)
    assert index.uses_faiss == use_faiss
    results = search_moments(index, [clip["caption"] for clip in clips], embed_texts=colour_word_embedder)
    for clip, moments in zip(clips, results, strict=True):
        best = moments[0]
        assert best.video == "long.mp4", clip["caption"]
        assert best.start < clip["end"] and clip["start"] < best.end, (clip, best)
        assert (best.start, best.end) == (clip["start"], clip["end"])  # the window that holds the clip exactly


def _random_window_table(num_windows: int = 300, dim: int = 12, seed: int = 0):
    """A window table of random unit embeddings (no ties), 10 windows of 2 s every second per video."""
    import datasets

    generator = torch.Generator().manual_seed(seed)
    embeddings = torch.nn.functional.normalize(torch.randn(num_windows, dim, generator=generator), dim=-1)
    return datasets.Dataset.from_dict(
        {
            "video": [f"video_{i // 10:03d}.mp4" for i in range(num_windows)],
            "start": [float(i % 10) for i in range(num_windows)],
            "end": [float(i % 10 + 2) for i in range(num_windows)],
            "embedding": embeddings.numpy(),
        }
    )  # float64 embeddings: MomentIndex casts them to float32


def test_exact_and_faiss_search_return_the_same_moments():
    if not faiss_is_available():
        pytest.skip("faiss-cpu missing")
    queries = torch.randn(6, 12, generator=torch.Generator().manual_seed(1))
    for merge in (False, True):
        exact = MomentIndex(_random_window_table(), use_faiss=False).search(queries, top_k=8, merge_overlapping=merge)
        with_faiss = MomentIndex(_random_window_table(), use_faiss=True).search(
            queries, top_k=8, merge_overlapping=merge
        )
        for exact_moments, faiss_moments in zip(exact, with_faiss, strict=True):
            assert len(exact_moments) == 8
            assert [(m.video, m.start, m.end) for m in exact_moments] == [
                (m.video, m.start, m.end) for m in faiss_moments
            ]
            assert [m.score for m in exact_moments] == pytest.approx([m.score for m in faiss_moments], abs=1e-5)


@pytest.mark.parametrize("use_faiss", SEARCH_PATHS)
def test_search_ranks_windows_by_cosine_similarity(use_faiss):
    table = _random_window_table()
    query = torch.randn(1, 12, generator=torch.Generator().manual_seed(2)) * 3  # not normalised: search does it
    scores = torch.nn.functional.normalize(query, dim=-1) @ _embeddings(table).float().T
    expected = scores[0].argsort(descending=True)[:4].tolist()
    moments = MomentIndex(table, use_faiss=use_faiss).search(query, top_k=4)[0]
    assert [(m.video, m.start, m.end) for m in moments] == [
        (table[i]["video"], table[i]["start"], table[i]["end"]) for i in expected
    ]
    assert [m.score for m in moments] == pytest.approx(scores[0, expected].tolist(), abs=1e-5)


def test_approximate_faiss_index_returns_moments_of_the_index_best_first():
    if not faiss_is_available():
        pytest.skip("faiss-cpu missing")
    table = _random_window_table()
    queries = torch.randn(4, 12, generator=torch.Generator().manual_seed(4))
    exact = MomentIndex(table, use_faiss=False).search(queries, top_k=5)
    approximate = MomentIndex(table, use_faiss=True, faiss_string_factory="IVF4,Flat").search(queries, top_k=5)
    windows = set(zip(table["video"], table["start"], table["end"], strict=True))
    for exact_moments, moments in zip(exact, approximate, strict=True):
        assert 1 <= len(moments) <= 5 and all((m.video, m.start, m.end) in windows for m in moments)
        assert [m.score for m in moments] == sorted((m.score for m in moments), reverse=True)
        assert moments[0].score <= exact_moments[0].score + 1e-5


def test_exact_search_scores_the_index_in_chunks_like_one_matrix(monkeypatch):
    from viclip_train.moments import search as moments

    table = _random_window_table()
    queries = torch.randn(3, 12, generator=torch.Generator().manual_seed(3))
    whole = MomentIndex(table, use_faiss=False).search(queries, top_k=6)
    monkeypatch.setattr(moments, "_EXACT_SEARCH_CHUNK", 7)
    assert MomentIndex(table, use_faiss=False).search(queries, top_k=6) == whole


def test_merged_search_joins_the_overlapping_windows_of_the_best_clip(known_answer_index):
    index_dir, clips = known_answer_index
    clip = clips[3]
    moments = search_moments(
        index_dir, clip["caption"], embed_texts=colour_word_embedder, top_k=2, merge_overlapping=True, use_faiss=False
    )
    # every 2 s window holding some of the clip joins: from 1.5 s before its start to 1.5 s after its end
    assert moments[0] == Moment("long.mp4", clip["start"] - 1.5, clip["end"] + 1.5, moments[0].score)
    assert moments[0].score == search_moments(index_dir, clip["caption"], embed_texts=colour_word_embedder)[0].score
    assert moments[1].video == "empty.mp4" or moments[1].score < moments[0].score


def test_merge_overlapping_moments_groups_windows_around_each_best_window_per_video():
    moments = [
        Moment("a.mp4", 0.0, 2.0, 0.5),  # overlaps the best window: joins it
        Moment("a.mp4", 1.0, 3.0, 0.9),  # the best window
        Moment("a.mp4", 2.5, 4.5, 0.2),  # overlaps the best window too: joins it
        Moment("a.mp4", 4.5, 6.5, 0.8),  # only touches: stays apart
        Moment("b.mp4", 1.0, 3.0, 0.7),  # another video: stays apart
    ]
    assert merge_overlapping_moments(moments) == [
        Moment("a.mp4", 0.0, 4.5, 0.9),
        Moment("a.mp4", 4.5, 6.5, 0.8),
        Moment("b.mp4", 1.0, 3.0, 0.7),
    ]


def test_merge_overlapping_moments_never_chains_sliding_windows_along_the_video():
    # 2 s windows every second over 20 s, each overlapping the next; the best at 9-11 s
    windows = [Moment("a.mp4", float(t), t + 2.0, 1.0 - abs(t - 9) / 20) for t in range(19)]
    merged = merge_overlapping_moments(windows)
    assert merged[0] == Moment("a.mp4", 8.0, 12.0, 1.0)  # its two neighbours only, not the whole video
    assert max(moment.end - moment.start for moment in merged) <= 4.0
    covered = sorted((moment.start, moment.end) for moment in merged)
    assert covered[0][0] == 0.0 and covered[-1][1] == 20.0  # every window still belongs to a moment


# --------------------------------------------------------------------------------------------------------------------
# The index folder
# --------------------------------------------------------------------------------------------------------------------


def test_index_holds_every_window_of_every_readable_video_with_its_times(indexed_folder):
    root, index_dir, summary, _ = indexed_folder
    table = load_window_table(index_dir)
    assert table.column_names == ["video", "start", "end", "embedding"]
    assert table.features["embedding"].length == EMBEDDING_DIM
    assert sorted(set(table["video"])) == ["long.mp4", "more/second.mp4", "third.mkv"]
    for video in set(table["video"]):
        times = [
            (start, end)
            for name, start, end in zip(table["video"], table["start"], table["end"], strict=True)
            if name == video
        ]
        assert times == sliding_windows(video_duration(root / video), 2.0, 1.0)
    assert summary.videos_found == 4 and summary.videos_indexed == 3 and summary.windows_indexed == len(table)


def test_unreadable_videos_are_skipped_counted_and_listed(video_folder, tmp_path, caplog):
    root, _ = video_folder
    summary = _index(root, tmp_path / "index", embedder=lambda pixel_values: torch.ones(len(pixel_values), 2))
    assert list(summary.skipped_videos) == ["broken.mp4"] and summary.videos_indexed == 3
    listed = json.loads((tmp_path / "index" / SKIPPED_VIDEOS_NAME).read_text())
    assert list(listed) == ["broken.mp4"] and "broken.mp4" in listed["broken.mp4"]
    assert "Skipping the video" in caplog.text and "broken.mp4" in caplog.text


class _ProcessorFailingOn:
    """The tiny video processor, except that windows of `video` starting at `start` seconds or later fail to decode."""

    def __init__(self, video: str, start: float):
        self.processor, self.video, self.start = tiny_video_processor(), video, start

    def __getattr__(self, name):
        return getattr(self.processor, name)

    def __call__(self, path, clip_windows, **kwargs):
        if path.endswith(self.video) and clip_windows[0] >= self.start:
            raise ValueError(f"{path}: corrupt packet")
        return self.processor(path, clip_windows=clip_windows, **kwargs)


def test_video_with_an_unreadable_window_is_skipped_whole(indexed_folder, tmp_path):
    root, _, _, reference = indexed_folder
    summary = index_videos(
        root, tmp_path / "index", ColourShareEmbedder(), _ProcessorFailingOn("second.mp4", 2.0),
        model_id="colour-share", window_seconds=2.0, stride_seconds=1.0, batch_size=4, num_workers=0, progress=False,
    )  # fmt: skip
    assert summary.skipped_videos.keys() == {"broken.mp4", "more/second.mp4"}
    assert "window 2.0-4.0 s" in summary.skipped_videos["more/second.mp4"]
    assert "corrupt packet" in summary.skipped_videos["more/second.mp4"]
    stored = _rows(load_window_table(tmp_path / "index"))
    assert stored == [row for row in reference if row[0] != "more/second.mp4"]


def test_list_videos_finds_videos_in_sub_folders_and_ignores_other_files(video_folder):
    root, _ = video_folder
    assert list_videos(root) == ["broken.mp4", "long.mp4", "more/second.mp4", "third.mkv"]


def test_empty_folder_raises_saying_what_was_looked_for(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No video file under .*empty.*mp4"):
        _index(tmp_path / "empty", tmp_path / "index")


def test_rerun_skips_the_videos_already_indexed(indexed_folder, tmp_path):
    root, index_dir, _, rows = indexed_folder
    shutil.copytree(index_dir, tmp_path / "index")
    embedder = ColourShareEmbedder()
    summary = _index(root, tmp_path / "index", embedder)
    assert embedder.windows == 0 and summary.videos_already_indexed == 3 and summary.videos_indexed == 0
    assert _rows(load_window_table(tmp_path / "index")) == rows


def _damage(index_dir: Path, damage: str) -> Path:
    """Damages one file of an index folder as a crash, a full disk or a bad copy would; returns that file."""
    if damage == "config cut in half":
        path = index_dir / "index_config.json"
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path = sorted((index_dir / "shards").glob("*.arrow"))[0]
        data = path.read_bytes()
        path.write_bytes(os.urandom(len(data)) if damage == "shard of random bytes" else data[: len(data) // 2])
    return path


_DAMAGES = ["shard of random bytes", "shard cut in half", "config cut in half"]


@pytest.mark.parametrize("damage", _DAMAGES)
def test_a_damaged_index_file_on_resume_is_an_error_naming_the_file_and_the_fix(indexed_folder, tmp_path, damage):
    root, index_dir, _, _ = indexed_folder
    shutil.copytree(index_dir, tmp_path / "index")
    damaged = _damage(tmp_path / "index", damage)
    fix = "write the file again with the settings" if "config" in damage else "Delete that file and rerun the indexing"
    with pytest.raises(ValueError, match=rf"{re.escape(str(damaged))} (are )?(is )?damaged.*{fix}"):
        _index(root, tmp_path / "index")


@pytest.mark.parametrize("damage", _DAMAGES)
def test_a_damaged_index_file_on_search_is_an_error_naming_the_file_and_the_fix(indexed_folder, tmp_path, damage):
    _, index_dir, _, _ = indexed_folder
    shutil.copytree(index_dir, tmp_path / "index")
    damaged = _damage(tmp_path / "index", damage)
    with pytest.raises(ValueError, match=rf"{re.escape(str(damaged))} (are )?(is )?damaged"):
        MomentIndex.load(tmp_path / "index")


def test_a_shard_deleted_after_damage_is_indexed_again_on_resume(indexed_folder, tmp_path):
    root, index_dir, _, rows = indexed_folder
    shutil.copytree(index_dir, tmp_path / "index")
    _damage(tmp_path / "index", "shard cut in half").unlink()
    _index(root, tmp_path / "index")
    assert sorted(_rows(load_window_table(tmp_path / "index"))) == sorted(rows)


def test_run_stopped_by_an_error_keeps_whole_videos_and_the_rerun_completes_without_duplicates(
    indexed_folder, tmp_path
):
    root, _, _, reference = indexed_folder
    # 4 windows per batch, a shard after every video; long.mp4 (17 windows) ends in batch 5, second.mp4 (5) in 6
    with pytest.raises(RuntimeError, match="simulated crash"):
        _index(root, tmp_path / "index", ColourShareEmbedder(crash_on_call=3), shard_size=1)
    assert not list((tmp_path / "index" / SHARDS_DIR).glob("*.arrow"))  # no half video stored
    with pytest.raises(RuntimeError, match="simulated crash"):
        _index(root, tmp_path / "index", ColourShareEmbedder(crash_on_call=6), shard_size=1)
    partial = load_window_table(tmp_path / "index")
    assert set(partial["video"]) == {"long.mp4"} and len(partial) == 17
    resumed = ColourShareEmbedder()
    summary = _index(root, tmp_path / "index", resumed, shard_size=1)
    assert summary.videos_already_indexed == 1 and summary.videos_indexed == 2
    assert resumed.windows == len(reference) - 17  # only the videos not stored yet were embedded again
    assert sorted(_rows(load_window_table(tmp_path / "index"))) == sorted(reference)


def _index_in_forked_process(folder: Path, output: Path, embedder: ColourShareEmbedder) -> None:
    torch.set_num_threads(1)  # OpenMP's thread pool does not survive a fork (DataLoader workers do the same)
    _index(folder, output, embedder, shard_size=1)


def test_killed_run_leaves_only_whole_videos_and_resumes_to_the_same_index(indexed_folder, tmp_path):
    root, _, _, reference = indexed_folder
    # a forked copy of this process indexes and is killed (SIGKILL: nothing runs after it) in the middle of the second
    # video, after the first was stored
    run = multiprocessing.get_context("fork").Process(
        target=_index_in_forked_process, args=(root, tmp_path / "index", ColourShareEmbedder(kill_on_call=6))
    )
    run.start()
    run.join(timeout=120)
    if run.exitcode is None:
        run.kill()
    assert run.exitcode == -signal.SIGKILL
    partial = load_window_table(tmp_path / "index")
    assert set(partial["video"]) == {"long.mp4"} and len(partial) == 17
    # a shard being written at the moment of a kill is left under a temporary name: it is ignored and removed
    leftover = tmp_path / "index" / SHARDS_DIR / ".00001.arrow.12345.tmp"
    leftover.write_bytes(b"half a shard")
    _index(root, tmp_path / "index", shard_size=1)
    assert not leftover.exists()
    assert sorted(_rows(load_window_table(tmp_path / "index"))) == sorted(reference)


def test_resuming_with_other_settings_raises_naming_the_setting(indexed_folder):
    root, index_dir, _, _ = indexed_folder
    with pytest.raises(ValueError, match="window_seconds=2.0.*4.0"):
        _index(root, index_dir, window_seconds=4.0)


def test_embedding_function_returning_the_wrong_shape_raises(video_folder, tmp_path):
    root, _ = video_folder
    with pytest.raises(ValueError, match="embed_videos must return a tensor"):
        _index(root, tmp_path / "index", lambda pixel_values: torch.ones(3))


def test_loading_a_folder_that_is_not_an_index_says_how_to_build_one(tmp_path):
    with pytest.raises(FileNotFoundError, match="viclip_train.moments.index_videos"):
        MomentIndex.load(tmp_path)


def test_queries_of_another_width_than_the_index_raise(indexed_folder):
    _, index_dir, _, _ = indexed_folder
    with pytest.raises(ValueError, match=r"\[num_queries, 7\].*colour-share"):
        MomentIndex.load(index_dir, use_faiss=False).search(torch.ones(1, 5))


# --------------------------------------------------------------------------------------------------------------------
# A real tiny ViCLIP folder, the commands and the demo
# --------------------------------------------------------------------------------------------------------------------


class _CrashingOnCall:
    """Wraps an embedding function; raises on its `call`-th call."""

    def __init__(self, embed, call: int):
        self.embed, self.call, self.calls = embed, call, 0

    def __call__(self, pixel_values):
        self.calls += 1
        if self.calls == self.call:
            raise RuntimeError("simulated crash")
        return self.embed(pixel_values)


def test_tiny_viclip_index_resumed_after_a_crash_matches_each_video_embedded_alone_and_exact_search(
    video_folder, tiny_viclip_folder, tmp_path
):
    root, clips = video_folder
    model, processor = load_viclip(str(tiny_viclip_folder), device="cpu")
    settings = {
        "model_id": str(tiny_viclip_folder), "window_seconds": 2.0, "stride_seconds": 1.0, "batch_size": 5,
        "num_workers": 2, "shard_size": 1, "progress": False,
    }  # fmt: skip
    # long.mp4 (17 windows) is complete after 4 batches of 5; the crash comes in the 5th, within more/second.mp4
    with pytest.raises(RuntimeError, match="simulated crash"):
        index_videos(root, tmp_path / "index", _CrashingOnCall(VideoEmbedder(model), 5), processor.video_processor,
                     **settings)  # fmt: skip
    summary = index_videos(root, tmp_path / "index", VideoEmbedder(model), processor.video_processor, **settings)
    assert summary.videos_already_indexed == 1 and summary.videos_indexed == 2
    assert list(summary.skipped_videos) == ["broken.mp4"]
    table = load_window_table(tmp_path / "index")
    assert table.features["embedding"].length == model.config.projection_dim
    for video in ("long.mp4", "more/second.mp4", "third.mkv"):
        alone = embed_video_windows(
            root / video, VideoEmbedder(model), processor.video_processor, window_seconds=2.0, stride_seconds=1.0
        )
        rows = [position for position, name in enumerate(table["video"]) if name == video]
        assert [(table[i]["start"], table[i]["end"]) for i in rows] == list(zip(alone.starts, alone.ends, strict=True))
        assert torch.allclose(_embeddings(table)[rows], alone.embeddings, atol=1e-5)

    caption = clips["long.mp4"][0]["caption"]
    query = TextEmbedder(model, processor)([caption])
    expected = (query @ _embeddings(table).T)[0].argsort(descending=True)[:5].tolist()
    for use_faiss in (False, True) if faiss_is_available() else (False,):
        moments = search_moments(tmp_path / "index", caption, top_k=5, use_faiss=use_faiss)  # the recorded model
        assert [(m.video, m.start, m.end) for m in moments] == [
            (table[i]["video"], table[i]["start"], table[i]["end"]) for i in expected
        ]
        assert all(a.score >= b.score for a, b in itertools.pairwise(moments))


def test_index_and_search_commands_write_and_print_moments(video_folder, tiny_viclip_folder, tmp_path, capsys):
    root, _ = video_folder
    index_videos_command.main(
        [
            "--model_name_or_path", str(tiny_viclip_folder), "--video_dir", str(root),
            "--output_dir", str(tmp_path / "index"), "--window_seconds", "3", "--stride_seconds", "1.5",
            "--num_workers", "1", "--device", "cpu",
        ]
    )  # fmt: skip
    assert "3 videos indexed" in capsys.readouterr().out
    config = json.loads((tmp_path / "index" / INDEX_CONFIG_NAME).read_text())
    assert config["model"] == os.path.abspath(tiny_viclip_folder) and config["window_seconds"] == 3.0
    search_moments_command.main(
        [
            "--index_dir", str(tmp_path / "index"), "--query", "a red square moving up", "a blue circle",
            "--top_k", "3", "--output_format", "jsonl", "--device", "cpu",
        ]
    )  # fmt: skip
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    assert [(line["query"], line["rank"]) for line in lines] == [
        (query, rank) for query in ("a red square moving up", "a blue circle") for rank in (1, 2, 3)
    ]
    assert all(set(line) == {"query", "rank", "video", "start", "end", "score"} for line in lines)
    assert all(line["end"] - line["start"] == pytest.approx(3.0) for line in lines)
    search_moments_command.main(["--index_dir", str(tmp_path / "index"), "--query", "a red square", "--exact"])
    table = capsys.readouterr().out
    assert "| rank | score | start | end | video |" in table and table.count("\n| ") == 6


@pytest.mark.parametrize(
    "module, arguments",
    [
        (index_videos_command, index_videos_command.IndexArguments),
        (search_moments_command, search_moments_command.SearchArguments),
        (moments_demo, moments_demo.DemoArguments),
    ],
)
def test_commands_explain_every_flag(module, arguments, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    help_text = capsys.readouterr().out
    for argument in dataclasses.fields(arguments):
        assert f"--{argument.name}" in help_text
        assert len(argument.metadata.get("help", "")) > 20, argument.name


def test_moment_demo_builds_a_long_video_indexes_it_and_reports_the_hit_rate(tiny_viclip_folder, tmp_path, capsys):
    moments_demo.main(
        ["--model_name_or_path", str(tiny_viclip_folder), "--output_dir", str(tmp_path / "demo"), "--num_clips", "4",
         "--num_workers", "0"]
    )  # fmt: skip
    out = capsys.readouterr().out
    clips = json.loads((tmp_path / "demo" / "clips.json").read_text())
    assert len(clips) == 4 and len({clip["caption"].split(" moving")[0] for clip in clips}) == 4
    assert video_duration(tmp_path / "demo" / "videos" / moments_demo.VIDEO_NAME) == pytest.approx(12.0)
    assert out.count("\n| a ") == 4 and "Hit rate at 1:" in out and "Chance at 1:" in out


def test_moment_demo_without_its_model_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="run_pretrain.py configs/demo.json"):
        moments_demo.main(["--model_name_or_path", str(tmp_path / "missing"), "--output_dir", str(tmp_path / "demo")])
