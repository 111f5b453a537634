# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Every backend reads each class of real-world file as a player shows it (issue 20).

`tests/video_files.py` builds the files (rotation metadata, B-frames in MPEG-TS, in AVI and in MPEG-4 Part 2, several
video streams, cover art, stream-copy cuts, a still picture, and the plain H.264 MP4 as the control) with index-coded
frames, and says what a player shows of each. The first tests check those views against the `ffmpeg` and `ffprobe`
commands; the others read every file with every installed backend through the public functions of
`viclip.video_decoding_viclip` (a whole video, a clip window, the reference's sampling) and compare the frames with the
view: which frames, in which order, in which orientation, from which stream.

What the backends return today where it differs is written out in the `xfail(strict=True)` reasons below: a fix shows
up as an unexpected pass, which fails the suite until its entry is removed.
"""

import json
import re
import shutil
import subprocess

import av
import numpy as np
import pytest
import torch
from PIL import Image

from tests.video_files import VIDEO_FILE_BUILDERS, PlayerView, VideoFile, frame_index, marker_corner
from viclip import ViCLIPVideoProcessor
from viclip.video_decoding_viclip import (
    VIDEO_BACKENDS,
    available_video_backends,
    load_video,
    resolve_video_backend,
    sample_frame_indices,
)
from viclip_train.data.video_reading import read_video_frames


INSTALLED_BACKENDS = available_video_backends()
FILE_NAMES = list(VIDEO_FILE_BUILDERS)
SAMPLED_FRAMES = 4
needs_ffmpeg_commands = pytest.mark.skipif(
    shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
    reason="checking what a player shows needs the ffmpeg and ffprobe commands (Debian: `apt-get install ffmpeg`)",
)

_TS_SEEK = "FFmpeg's seeks in MPEG-TS land one key frame (1 s) late"
_ROTATION = "PyAV ignores the display matrix: frames come as stored, 96x128 landscape with the marker top-left"
_ROTATION_180 = "PyAV ignores the display matrix: frames come as stored, upside down (marker top-left)"
_EDIT_LIST = "the 5 packets the edit list hides are counted as frames"
_NO_KEY = "the 7 packets before the first key frame, which never decode, are counted as frames"
_NO_FRAMES_LEFT = "torchcodec raises 'Requested next frame while there are no more frames left to decode'"
_OTHER_FRAMES = "torchcodec raises 'torchcodec returned other frames ... than those of the clip window'"
_AVI_PTS = "it takes the AVI demuxer's packet times (decoding order) for presentation times"
_STILL = "raises 'starts after the end ... its last frame is at 0.000 s': the frame's 2 s display is ignored"

# What each backend returns today where it differs from the player: {(file, backend): reason}.
WHOLE_VIDEO_TODAY = {
    ("rotated_90", "pyav"): _ROTATION,
    ("rotated_180", "pyav"): _ROTATION_180,
    ("rotated_270", "pyav"): _ROTATION,
    ("h264_ts", "decord"): f"decord returns frames 10-39, then 39 ten more times: {_TS_SEEK}",
    ("h264_ts", "torchcodec"): f"{_NO_FRAMES_LEFT}: {_TS_SEEK}",
    ("mpeg2_ts", "decord"): f"decord returns frames 12-39, then 39 twelve more times: {_TS_SEEK}",
    ("mpeg2_ts", "torchcodec"): f"{_NO_FRAMES_LEFT}: {_TS_SEEK}",
    ("mpeg4_avi", "torchcodec"): f"{_NO_FRAMES_LEFT} at the last frame, which has no timestamp",
    ("h264_avi", "torchcodec"): f"{_NO_FRAMES_LEFT} at the last frames, which have no timestamp",
    ("thumbnail_track_first", "pyav"): "PyAV reads the first listed stream: the 64x48 thumbnail, one frame (250)",
    ("cover_art_first", "pyav"): "PyAV reads the first listed stream, the cover art: one frame (250)",
    ("cover_art_first", "torchcodec"): "torchcodec's exact scan raises 'Could not seek file to pts=0'",
    ("two_streams_second_default", "pyav"): "PyAV reads the first listed stream (frames 100-119), not the default",
    ("two_streams_first_default", "decord"): "decord's FFmpeg 4.1 picks the higher bit rate stream (frames 100-119)",
    ("edit_list_cut", "decord"): f"20 frames, 15-29 then 29 five more times: {_EDIT_LIST}",
    ("edit_list_cut", "pyav"): f"20 frames, 15-29 then 29 five more times: {_EDIT_LIST}",
    ("cut_without_key_frame", "decord"): f"17 frames, 20-29 then 29 seven more times: {_NO_KEY}",
    ("cut_without_key_frame", "pyav"): f"17 frames, 20-29 then 29 seven more times: {_NO_KEY}",
    ("cut_without_key_frame", "torchcodec"): f"{_NO_FRAMES_LEFT}: {_NO_KEY}",
}
CLIP_WINDOW_TODAY = {
    ("rotated_90", "pyav"): _ROTATION,
    ("rotated_180", "pyav"): _ROTATION_180,
    ("rotated_270", "pyav"): _ROTATION,
    ("h264_ts", "decord"): "decord returns frames 35-39, then 39 five more times, instead of 25-34 (times 1 s late)",
    ("h264_ts", "pyav"): "PyAV returns 30, 30, 30, 30, 31-34: its seek lands on a non-key packet (2.5 s), taken for "
    "the start; 2.6 s and 2.8 s are missed and the frames before the key frame at 3.0 s replaced by it",
    ("h264_ts", "torchcodec"): f"{_OTHER_FRAMES}: {_TS_SEEK}",
    ("mpeg2_ts", "decord"): "decord returns frames 36-39, then 39 six more times, instead of 25-34",
    ("mpeg2_ts", "pyav"): "PyAV returns 30 five times, then 31-34: its seek lands on a non-key packet, taken for the "
    "start; the frames before the key frame at 3.0 s are replaced by it",
    ("mpeg2_ts", "torchcodec"): f"{_OTHER_FRAMES}: {_TS_SEEK}",
    ("mpeg4_avi", "decord"): "decord returns 7 frames, 13-19, instead of 4-13: its AVI frame times are wrong",
    ("h264_avi", "decord"): "decord raises 'starts after the end ... its last frame is at -922337217429372928.000 s'",
    ("h264_avi", "pyav"): f"PyAV returns 7, 5, 4, 6, 9, 8, 10, 14, 12, 11 instead of 3-12: {_AVI_PTS}",
    ("thumbnail_track_first", "pyav"): "PyAV raises 'starts after the end': it times the one-frame thumbnail stream",
    ("thumbnail_track_first", "torchcodec"): "raises 'starts after the end': the window is located (with PyAV) in the "
    "thumbnail stream",
    ("cover_art_first", "pyav"): "PyAV raises 'its frames lack timestamps': it reads the cover art",
    ("cover_art_first", "torchcodec"): "torchcodec's exact scan raises 'Could not seek file to pts=0'",
    ("two_streams_second_default", "pyav"): "PyAV reads the first listed stream: frames 105-114",
    ("two_streams_first_default", "decord"): "decord's FFmpeg 4.1 picks the higher bit rate stream: frames 105-114",
    ("edit_list_cut", "decord"): f"decord returns frames 22-25 instead of 17-20 (times 0.5 s late): {_EDIT_LIST}",
    ("cut_without_key_frame", "decord"): "decord returns frames 23-29 instead of 20-22: its times count the "
    "undecodable packets",
    ("cut_without_key_frame", "pyav"): "PyAV returns 20 five times, then 21, 22: the undecodable frames at 0.5-0.8 s "
    "are replaced by the next decoded one",
    ("cut_without_key_frame", "torchcodec"): _OTHER_FRAMES,
    ("still_picture", "decord"): f"decord {_STILL}",
    ("still_picture", "pyav"): f"PyAV {_STILL}",
    ("still_picture", "torchcodec"): f"torchcodec {_STILL}",
}
SAMPLED_TODAY = {
    ("rotated_90", "pyav"): _ROTATION,
    ("rotated_180", "pyav"): _ROTATION_180,
    ("rotated_270", "pyav"): _ROTATION,
    ("h264_ts", "decord"): f"decord returns frames 14, 24, 34, 38 instead of 4, 14, 24, 34: {_TS_SEEK}",
    ("h264_ts", "torchcodec"): f"torchcodec returns frames 10, 14, 30, 34 instead of 4, 14, 24, 34: {_TS_SEEK}",
    ("mpeg2_ts", "decord"): f"decord returns frames 16, 25, 35, 35 instead of 4, 14, 24, 34: {_TS_SEEK}",
    ("mpeg2_ts", "torchcodec"): f"torchcodec returns frames 12, 14, 30, 34 instead of 4, 14, 24, 34: {_TS_SEEK}",
    ("mpeg4_avi", "decord"): "decord returns frames 2, 8, 16, 22 instead of 2, 8, 14, 20 (seeking with B-frames)",
    ("mpeg4_avi", "torchcodec"): "torchcodec returns frames 1, 7, 13, 21 instead of 2, 8, 14, 20",
    ("h264_avi", "decord"): "decord returns frames 2, 8, 4, 0 instead of 2, 8, 14, 20",
    ("h264_avi", "pyav"): f"PyAV returns frames 1, 9, 13, 20 instead of 2, 8, 14, 20: {_AVI_PTS}",
    ("h264_avi", "torchcodec"): "torchcodec returns frames 0, 6, 12, 20 instead of 2, 8, 14, 20",
    ("mpeg4_mp4", "decord"): "decord returns frames 2, 8, 14, 22 instead of 2, 8, 14, 20 (seeking with B-frames)",
    ("thumbnail_track_first", "pyav"): "PyAV returns the 64x48 thumbnail (250) four times",
    ("cover_art_first", "pyav"): "PyAV returns the cover art (250) four times",
    ("cover_art_first", "torchcodec"): "torchcodec's exact scan raises 'Could not seek file to pts=0'",
    ("two_streams_second_default", "pyav"): "PyAV reads the first listed stream: frames 102, 107, 112, 117",
    (
        "two_streams_first_default",
        "decord",
    ): "decord's FFmpeg 4.1 picks the higher bit rate stream: 102, 107, 112, 117",
    ("edit_list_cut", "decord"): f"decord returns frames 17, 22, 22, 27 instead of 16, 19, 23, 27: {_EDIT_LIST}",
    ("edit_list_cut", "pyav"): f"PyAV returns frames 17, 22, 27, 27 instead of 16, 19, 23, 27: {_EDIT_LIST}",
    ("cut_without_key_frame", "decord"): f"decord returns frames 21, 25, 22, 27 instead of 20, 23, 25, 28: {_NO_KEY}",
    ("cut_without_key_frame", "pyav"): f"PyAV returns frames 21, 25, 29, 29 instead of 20, 23, 25, 28: {_NO_KEY}",
    ("cut_without_key_frame", "torchcodec"): f"torchcodec returns 20, 20, 22, 27 instead of 20, 23, 25, 28: {_NO_KEY}",
}
# Where training (PyAV) and evaluation (decord) read different frames today: {file: reason}.
TRAINING_DIFFERS_FROM_EVALUATION_TODAY = {
    "rotated_90": "training reads the stored orientation, evaluation the displayed one",
    "rotated_180": "training reads the stored orientation, evaluation the displayed one",
    "rotated_270": "training reads the stored orientation, evaluation the displayed one",
    "h264_ts": "evaluation (decord) reads frames 14, 24, 34, 38, training (PyAV) 4, 14, 24, 34",
    "mpeg2_ts": "evaluation (decord) reads frames 16, 25, 35, 35, training (PyAV) 4, 14, 24, 34",
    "mpeg4_avi": "evaluation (decord) reads frames 2, 8, 16, 22, training (PyAV) 2, 8, 14, 20",
    "h264_avi": "evaluation (decord) reads frames 2, 8, 4, 0, training (PyAV) 1, 9, 13, 20",
    "mpeg4_mp4": "evaluation (decord) reads frames 2, 8, 14, 22, training (PyAV) 2, 8, 14, 20",
    "thumbnail_track_first": "training reads the thumbnail track, evaluation the video track",
    "cover_art_first": "training reads the cover art, evaluation the video track",
    "two_streams_second_default": "training reads the first stream, evaluation the second (default) one",
    "two_streams_first_default": "training reads the first (default) stream, evaluation the second one",
    "edit_list_cut": "evaluation reads frames 17, 22, 22, 27, training 17, 22, 27, 27",
    "cut_without_key_frame": "evaluation reads frames 21, 25, 22, 27, training 21, 25, 29, 29",
}


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

# viclip_train's datasets read with `resolve_video_backend(video_backend, for_training=train)`; the video processor
# with its own `video_backend` (None: the evaluation default)
TRAINING_BACKEND = resolve_video_backend(None, for_training=True) if INSTALLED_BACKENDS else None
EVALUATION_BACKEND = resolve_video_backend(ViCLIPVideoProcessor.video_backend) if INSTALLED_BACKENDS else None


def training_evaluation_cases() -> list:
    measured = (TRAINING_BACKEND, EVALUATION_BACKEND) == ("pyav", "decord")  # the pair the reasons describe
    cases = []
    for name in FILE_NAMES:
        marks = [pytest.mark.skipif(not INSTALLED_BACKENDS, reason="no video backend is installed")]
        if measured and name in TRAINING_DIFFERS_FROM_EVALUATION_TODAY:
            marks.append(pytest.mark.xfail(strict=True, reason=TRAINING_DIFFERS_FROM_EVALUATION_TODAY[name]))
        cases.append(pytest.param(name, marks=marks, id=name))
    return cases


@pytest.mark.parametrize("name", training_evaluation_cases())
def test_training_and_evaluation_read_the_same_frames(video_files, name):
    path = str(video_files[name].path)
    training = read_video_frames(path, num_frames=SAMPLED_FRAMES, sampling="middle", backend=TRAINING_BACKEND)
    processor = ViCLIPVideoProcessor(
        num_frames=SAMPLED_FRAMES, do_resize=False, do_rescale=False, do_normalize=False
    )  # the evaluation transform without resizing and normalising: the decoded frames as floats
    pixel_values = processor(path, return_tensors="pt")["pixel_values"][0]
    evaluation = pixel_values.permute(0, 2, 3, 1).round().clamp(0, 255).to(torch.uint8).numpy()
    assert seen(training) == seen(evaluation)
