# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Every backend reads each class of real-world file as a player shows it (issue 20).

`tests/video_files.py` builds the files (rotation metadata, B-frames in MPEG-TS, in AVI and in MPEG-4 Part 2, several
video streams, cover art, stream-copy cuts, a still picture, and the plain H.264 MP4 as the control) with index-coded
frames, and says what a player shows of each. The first tests check those views against the `ffmpeg` and `ffprobe`
commands; the others read every file with every installed backend through the public functions of
`viclip.video_decoding_viclip` (a whole video, a clip window, the reference's sampling) and compare the frames with the
view: which frames, in which order, in which orientation, from which stream. The last ones pin that training (through
`ClipDataset`) and evaluation (through the video processor) read the same frames, which decoder reads each class of
file (`metadata.video_backend`), the refusal of a file whose only video is cover art, and reads from bytes.

Where a backend differs from the player, the `*_TODAY` tables below hold what it returns as `xfail(strict=True)`
reasons: a fix shows up as an unexpected pass, which fails the suite until its entry is removed. They are empty: every
installed backend meets the definition on every class of file, by itself or by reading with PyAV where it cannot.
"""

import json
import logging
import re
import shutil
import subprocess

import av
import numpy as np
import pytest
import torch
from PIL import Image

from tests.video_files import (
    VIDEO_FILE_BUILDERS,
    PlayerView,
    VideoFile,
    build_cover_art_only,
    frame_index,
    marker_corner,
)
from viclip import ViCLIPVideoProcessor
from viclip.video_decoding_viclip import (
    VIDEO_BACKENDS,
    available_video_backends,
    load_video,
    resolve_video_backend,
    sample_frame_indices,
)
from viclip_train.data.clips import ClipDataset
from viclip_train.data.video_reading import read_video_frames


INSTALLED_BACKENDS = available_video_backends()
FILE_NAMES = list(VIDEO_FILE_BUILDERS)
SAMPLED_FRAMES = 4
needs_ffmpeg_commands = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="checking what a player shows needs the ffmpeg and ffprobe commands (Debian: `apt-get install ffmpeg`)",
)

# Where a backend still differs from the player, {(file, backend): what it returns}: each entry is a strict xfail, so
# that a fix shows up as an unexpected pass. Every backend reads every class of file as a player shows it with the
# versions installed here (PyAV 18.1 on FFmpeg 8.1, decord 0.6 on FFmpeg 4.1, torchcodec 0.17 on FFmpeg 5.1): decord
# and torchcodec by themselves where they can, PyAV where `probe_video` says they cannot (see the README).
WHOLE_VIDEO_TODAY: dict[tuple[str, str], str] = {}
CLIP_WINDOW_TODAY: dict[tuple[str, str], str] = {}
SAMPLED_TODAY: dict[tuple[str, str], str] = {}
# Where training and evaluation read different frames: {file: reason}.
TRAINING_DIFFERS_FROM_EVALUATION_TODAY: dict[str, str] = {}


def backend_cases(today: dict[tuple[str, str], str]) -> list:
    """`(backend, file name)` for every backend and file, skipped when the backend is not installed and expected to
    fail (strictly) where `today` says how it differs from the player."""
    cases = []
    for backend in VIDEO_BACKENDS:
        for name in FILE_NAMES:
            marks = [pytest.mark.skipif(backend not in INSTALLED_BACKENDS, reason=f"{backend} is not installed")]
            if (name, backend) in today:
                marks.append(pytest.mark.xfail(strict=True, reason=today[name, backend]))
            cases.append(pytest.param(backend, name, marks=marks, id=f"{backend}-{name}"))
    return cases


@pytest.fixture(scope="module")
def video_files(tmp_path_factory) -> dict[str, VideoFile]:
    folder = tmp_path_factory.mktemp("player_frames")
    return {name: build(folder) for name, build in VIDEO_FILE_BUILDERS.items()}


def seen(frames: np.ndarray) -> dict:
    """What a viewer sees in decoded frames `[T, H, W, 3]`: the indices, where the marker is, the frame size."""
    return {
        "indices": [frame_index(frame) for frame in frames],
        "markers": sorted({marker_corner(frame) for frame in frames}),
        "size": tuple(frames.shape[1:3]),
    }


def shown(view: PlayerView, indices: list[int]) -> dict:
    """What a viewer sees of the frames `indices` of a file played as `view`."""
    return {"indices": list(indices), "markers": [view.marker], "size": view.size}


def every_frame(metadata, **kwargs) -> np.ndarray:
    return np.arange(metadata.total_num_frames)


# --- the views are what FFmpeg shows ---------------------------------------------------------------------------------


def ffmpeg_shows(path, folder) -> tuple[list[np.ndarray], int]:
    """The frames `ffmpeg` outputs for `path` with its default stream choice and display transform, one per decoded
    frame (`-fps_mode passthrough`), and the index of the stream it chose."""
    command = ["ffmpeg", "-hide_banner", "-nostdin", "-threads", "1", "-i", str(path), "-fps_mode", "passthrough"]
    command += ["-threads", "1", str(folder / "%04d.png")]
    result = subprocess.run(command, capture_output=True, text=True, check=True)
    stream_index = int(re.search(r"Stream #0:(\d+) -> #0:0", result.stderr).group(1))  # from "Stream mapping:"
    frames = [np.asarray(Image.open(png).convert("RGB")) for png in sorted(folder.glob("*.png"))]
    return frames, stream_index


def ffprobe_timestamps(path, stream_index: int) -> tuple[list[float | None], float | None]:
    """FFmpeg's best-effort timestamp of each frame of a stream, in seconds from the stream's start time (None where
    FFmpeg has none), and the duration of the last frame."""
    command = ["ffprobe", "-v", "error", "-select_streams", str(stream_index), "-of", "json", "-show_entries"]
    command += ["stream=start_time:frame=best_effort_timestamp_time,duration_time", str(path)]
    probe = json.loads(subprocess.run(command, capture_output=True, text=True, check=True).stdout)
    start = float(probe["streams"][0]["start_time"])
    frames = probe["frames"]
    timestamps = [
        float(frame["best_effort_timestamp_time"]) - start if "best_effort_timestamp_time" in frame else None
        for frame in frames
    ]
    last_duration = frames[-1].get("duration_time")
    return timestamps, None if last_duration is None else float(last_duration)


@needs_ffmpeg_commands
@pytest.mark.parametrize("name", FILE_NAMES)
def test_player_view_is_what_ffmpeg_shows(video_files, name, tmp_path):
    video_file = video_files[name]
    view = video_file.view
    frames, stream_index = ffmpeg_shows(video_file.path, tmp_path)
    assert stream_index == view.stream_index
    assert seen(np.stack(frames)) == shown(view, view.indices)
    timestamps, last_duration = ffprobe_timestamps(video_file.path, view.stream_index)
    # a frame FFmpeg gives no timestamp (the last one of an AVI with B-frames) is shown one frame after the previous
    for position, timestamp in enumerate(timestamps):
        if timestamp is None:
            timestamps[position] = timestamps[position - 1] + (view.timestamps[1] - view.timestamps[0])
    assert np.allclose(timestamps, view.timestamps, atol=1e-3)
    if last_duration is not None:
        assert view.end == pytest.approx(timestamps[-1] + last_duration, abs=1e-3)


@pytest.mark.parametrize("name", FILE_NAMES)
def test_pyav_best_stream_is_the_played_stream(video_files, name):
    # `streams.best("video")` is FFmpeg's av_find_best_stream, which a player uses; it never picks the cover art
    with av.open(str(video_files[name].path)) as container:
        assert container.streams.best("video").index == video_files[name].view.stream_index


# --- every backend reads what the player shows -----------------------------------------------------------------------


@pytest.mark.parametrize(("backend", "name"), backend_cases(WHOLE_VIDEO_TODAY))
def test_whole_video_is_read_as_a_player_shows_it(video_files, backend, name):
    video_file = video_files[name]
    frames, _ = load_video(str(video_file.path), every_frame, backend=backend)
    assert seen(frames) == shown(video_file.view, video_file.view.indices)


@pytest.mark.parametrize(("backend", "name"), backend_cases(CLIP_WINDOW_TODAY))
def test_clip_window_is_read_as_a_player_shows_it(video_files, backend, name):
    video_file = video_files[name]
    frames, _ = load_video(str(video_file.path), every_frame, backend=backend, clip_window=video_file.window)
    assert seen(frames) == shown(video_file.view, video_file.view.frames_in_window(*video_file.window))


@pytest.mark.parametrize(("backend", "name"), backend_cases(SAMPLED_TODAY))
def test_sampled_frames_are_those_a_player_shows(video_files, backend, name):
    video_file = video_files[name]
    view = video_file.view
    frames = read_video_frames(str(video_file.path), num_frames=SAMPLED_FRAMES, backend=backend)
    picked = sample_frame_indices(len(view.indices), SAMPLED_FRAMES)
    assert seen(frames) == shown(view, [view.indices[position] for position in picked])


# --- training and evaluation read the same frames --------------------------------------------------------------------

# a training dataset reads clips with `ClipDataset.read_frames` (PyAV by default), the video processor with its own
# `video_backend` (None: decord by default); both sample at random positions drawn from the same generator here
TRAINING_BACKEND = resolve_video_backend(None, for_training=True) if INSTALLED_BACKENDS else None
EVALUATION_BACKEND = resolve_video_backend(ViCLIPVideoProcessor.video_backend) if INSTALLED_BACKENDS else None


def training_evaluation_cases() -> list:
    cases = []
    for name in FILE_NAMES:
        for windowed in (False, True):
            marks = [pytest.mark.skipif(not INSTALLED_BACKENDS, reason="no video backend is installed")]
            if name in TRAINING_DIFFERS_FROM_EVALUATION_TODAY:
                marks.append(pytest.mark.xfail(strict=True, reason=TRAINING_DIFFERS_FROM_EVALUATION_TODAY[name]))
            case_id = f"{name}-{'clip_window' if windowed else 'whole'}"
            cases.append(pytest.param(name, windowed, marks=marks, id=case_id))
    return cases


@pytest.mark.parametrize(("name", "windowed"), training_evaluation_cases())
def test_training_and_evaluation_read_the_same_frames(video_files, name, windowed):
    path, window = str(video_files[name].path), video_files[name].window if windowed else None
    processor = ViCLIPVideoProcessor(
        num_frames=SAMPLED_FRAMES, do_resize=False, do_rescale=False, do_normalize=False
    )  # the evaluation transform without resizing and normalising: the decoded frames as floats
    dataset = ClipDataset(processor, augment=True)  # what every training dataset of viclip_train decodes with
    assert dataset.video_backend == TRAINING_BACKEND
    training = dataset.read_frames(path, window, np.random.default_rng(0))
    outputs = processor(path, sampling="rand", rng=np.random.default_rng(0), clip_windows=window, return_tensors="pt")
    evaluation = outputs["pixel_values"][0].permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()
    assert seen(training) == seen(evaluation)


# --- who reads what, and what is refused -----------------------------------------------------------------------------

# The files decord and torchcodec do not read as a player shows them, which `load_video` reads with PyAV instead
READ_WITH_PYAV_INSTEAD = {
    "decord": {
        "h264_ts",
        "mpeg2_ts",
        "mpeg2_ps",
        "mpeg4_avi",
        "h264_avi",
        "mpeg4_mp4",
        "thumbnail_track_first",
        "two_streams_second_default",
        "two_streams_first_default",
        "edit_list_cut",
        "cut_without_key_frame",
    },
    "pyav": set(),
    "torchcodec": {"h264_ts", "mpeg2_ts", "mpeg2_ps", "mpeg4_avi", "h264_avi", "cut_without_key_frame"},
}


@pytest.mark.parametrize(("backend", "name"), backend_cases({}))
def test_metadata_names_the_decoder_that_read_each_file(video_files, backend, name):
    _, metadata = load_video(str(video_files[name].path), every_frame, backend=backend)
    assert metadata.video_backend == ("pyav" if name in READ_WITH_PYAV_INSTEAD[backend] else backend)


@pytest.mark.skipif("decord" not in INSTALLED_BACKENDS, reason="decord is not installed")
def test_reading_with_pyav_instead_is_a_warning_once_per_reason_and_names_each_file(video_files, caplog):
    logging.Logger.warning_once.cache_clear()  # transformers' once-only warnings
    names = ("h264_ts", "mpeg2_ts", "edit_list_cut", "h264_mp4")
    with caplog.at_level(logging.INFO):
        for name in names:
            load_video(str(video_files[name].path), every_frame, backend="decord")
    warnings = [record.getMessage() for record in caplog.records if record.levelno == logging.WARNING]
    assert len(warnings) == 2  # B-frames in MPEG-TS (two files), an edit list
    assert "mpegts files with B-frames" in warnings[0] and "edit list" in warnings[1]
    assert all("read with PyAV instead" in warning for warning in warnings)
    infos = [record.getMessage() for record in caplog.records if record.levelno == logging.INFO]
    assert [name for name in names if any(str(video_files[name].path) in info for info in infos)] == list(names[:3])


@pytest.mark.parametrize("backend", INSTALLED_BACKENDS)
def test_a_file_whose_only_video_is_cover_art_is_refused_naming_it(tmp_path, backend):
    path = build_cover_art_only(tmp_path)
    with pytest.raises(ValueError, match=r"cover_art_only\.mp4 has only an attached picture \(cover art\)"):
        load_video(str(path), every_frame, backend=backend)


@pytest.mark.parametrize("backend", INSTALLED_BACKENDS)
@pytest.mark.parametrize("name", ["rotated_90", "h264_ts", "edit_list_cut", "cover_art_first"])
def test_a_files_bytes_are_read_as_its_path(video_files, backend, name):
    path = video_files[name].path
    from_bytes, metadata = load_video(path.read_bytes(), every_frame, backend=backend)
    assert np.array_equal(from_bytes, load_video(str(path), every_frame, backend=backend)[0])
    assert metadata.video_backend == ("pyav" if name in READ_WITH_PYAV_INSTEAD[backend] else backend)


@pytest.mark.parametrize("backend", INSTALLED_BACKENDS)
@pytest.mark.parametrize("name", ["rotated_90", "rotated_180"])
def test_decode_size_is_the_displayed_size(video_files, backend, name):
    view = video_files[name].view
    size = (view.size[0] // 2, view.size[1] // 2)
    frames = read_video_frames(
        str(video_files[name].path), num_frames=SAMPLED_FRAMES, backend=backend, decode_size=size
    )
    picked = sample_frame_indices(len(view.indices), SAMPLED_FRAMES)
    assert seen(frames) == {"indices": [view.indices[p] for p in picked], "markers": [view.marker], "size": size}


@pytest.mark.skipif("pyav" not in INSTALLED_BACKENDS, reason="PyAV is not installed")
@pytest.mark.parametrize("windowed", [False, True], ids=["whole", "clip_window"])
@pytest.mark.parametrize("name", FILE_NAMES)
def test_training_reader_reads_a_files_bytes_as_a_player_shows_it(video_files, name, windowed):
    # shards hold clips as bytes: their layout comes from the container PyAV opened, not from a cached probe
    video_file = video_files[name]
    view, window = video_file.view, video_file.window if windowed else None
    frames = read_video_frames(
        video_file.path.read_bytes(), num_frames=SAMPLED_FRAMES, clip_window=window, backend="pyav"
    )
    shown_frames = view.frames_in_window(*window) if windowed else list(view.indices)
    picked = sample_frame_indices(len(shown_frames), SAMPLED_FRAMES)
    assert seen(frames) == shown(view, [shown_frames[position] for position in picked])
