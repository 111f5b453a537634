"""How fast JPEG frames decode, on the CPU and on the GPU: the measurement behind storing training clips as frames.

Writes `--frames` textured frames (multi-scale colour noise with a moving square, as `gpu_shards_check.py`'s synthetic
sources) at `--width`x`--height` as JPEG (`--quality`) in memory, then times, on the same bytes:

- CPU, one thread: `torchvision.io.decode_jpeg` (libjpeg-turbo) and Pillow, frames per second;
- GPU (when CUDA is there): `torchvision.io.decode_jpeg(..., device="cuda")` (nvJPEG) on batches of `--batch_sizes`
  frames, frames per second, and the CPU time the call costs per frame;
- GPU: the training augmentation of a batch of decoded clips done as batched tensor operations on the device (a random
  resized crop per clip with the reference's scales and ratios, as one `grid_sample`; a random flip; normalisation),
  clips per second.

    python bench/bench_frame_decoding.py                  # CPU rows; GPU rows too where CUDA is available
    python bench/bench_frame_decoding.py --frames 4096 --batch_sizes 256 1024 4096

Prints a Markdown table and the mean JPEG size per frame (a clip of 8 frames takes 8 times that in a shard).
"""

import argparse
import io
import math
import sys
import time

import numpy as np
import torch
from PIL import Image
from torchvision.io import decode_jpeg


def textured_frames(count: int, width: int, height: int, seed: int = 0) -> list[np.ndarray]:
    """`count` uint8 `[height, width, 3]` frames: a camera panning over smooth multi-scale colour noise."""
    rng = np.random.default_rng(seed)
    canvas = np.zeros((2 * height, 2 * width, 3), dtype=np.float32)
    for cell, weight in ((96, 0.45), (24, 0.3), (6, 0.17), (1, 0.08)):
        grid = rng.integers(0, 256, (2 * height // cell + 2, 2 * width // cell + 2, 3), dtype=np.uint8)
        scaled = Image.fromarray(grid).resize((2 * width, 2 * height), Image.Resampling.BILINEAR)
        canvas += weight * np.asarray(scaled, dtype=np.float32)
    canvas = canvas.clip(0, 255).astype(np.uint8)
    frames = []
    for index in range(count):
        x = int((width - 1) * (0.5 + 0.5 * math.sin(index / 13)))
        y = int((height - 1) * (0.5 + 0.5 * math.cos(index / 19)))
        frames.append(np.ascontiguousarray(canvas[y : y + height, x : x + width]))
    return frames


def encode_jpeg(frame: np.ndarray, quality: int) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(frame).save(buffer, format="JPEG", quality=quality)
    return buffer.getvalue()


def frames_per_second(work, count: int, repeats: int = 3) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    return count / best


def random_resized_crop_boxes(
    batch: int, height: int, width: int, scale: tuple[float, float], ratio: tuple[float, float], generator
) -> torch.Tensor:
    """One crop box `(top, left, crop_height, crop_width)` per clip, drawn as torchvision's RandomResizedCrop draws
    them (ten tries, then the central crop), as a `[batch, 4]` float tensor."""
    area = height * width
    boxes = torch.empty(batch, 4)
    log_ratio = torch.log(torch.tensor(ratio))
    for index in range(batch):
        for _ in range(10):
            target_area = area * torch.empty(1).uniform_(*scale, generator=generator).item()
            aspect = math.exp(torch.empty(1).uniform_(log_ratio[0], log_ratio[1], generator=generator).item())
            crop_width = int(round(math.sqrt(target_area * aspect)))
            crop_height = int(round(math.sqrt(target_area / aspect)))
            if 0 < crop_width <= width and 0 < crop_height <= height:
                top = torch.randint(0, height - crop_height + 1, (1,), generator=generator).item()
                left = torch.randint(0, width - crop_width + 1, (1,), generator=generator).item()
                boxes[index] = torch.tensor([top, left, crop_height, crop_width])
                break
        else:
            side = min(height, width)
            boxes[index] = torch.tensor([(height - side) // 2, (width - side) // 2, side, side])
    return boxes


def augment_on_device(clips: torch.Tensor, boxes: torch.Tensor, flips: torch.Tensor, size: int, mean, std):
    """uint8 clips `[batch, frames, 3, H, W]` on the device to normalised float crops `[batch, frames, 3, size, size]`:
    each clip's box resized bilinearly to `size` (one `grid_sample` for the batch), flipped where `flips`, normalised."""
    batch, num_frames, channels, height, width = clips.shape
    top, left, crop_height, crop_width = boxes.to(clips.device).unbind(1)
    # affine grid mapping the output square onto the box, in the [-1, 1] coordinates of the source (align_corners=False)
    theta = torch.zeros(batch, 2, 3, device=clips.device)
    theta[:, 0, 0] = crop_width / width * torch.where(flips.to(clips.device), -1.0, 1.0)
    theta[:, 0, 2] = (2 * left + crop_width) / width - 1
    theta[:, 1, 1] = crop_height / height
    theta[:, 1, 2] = (2 * top + crop_height) / height - 1
    grid = torch.nn.functional.affine_grid(theta, (batch, channels, size, size), align_corners=False)
    grid = grid.repeat_interleave(num_frames, dim=0)
    frames = clips.reshape(batch * num_frames, channels, height, width).float()
    resized = torch.nn.functional.grid_sample(frames, grid, mode="bilinear", align_corners=False)
    mean = torch.tensor(mean, device=clips.device).view(1, 3, 1, 1) * 255
    std = torch.tensor(std, device=clips.device).view(1, 3, 1, 1) * 255
    return ((resized - mean) / std).reshape(batch, num_frames, channels, size, size)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter, allow_abbrev=False
    )
    parser.add_argument("--frames", type=int, default=512, help="frames to encode and decode (default: 512)")
    parser.add_argument("--width", type=int, default=455, help="frame width (default: 455, 256p at 16:9)")
    parser.add_argument("--height", type=int, default=256, help="frame height (default: 256)")
    parser.add_argument("--quality", type=int, default=90, help="JPEG quality of the frames (default: 90)")
    parser.add_argument(
        "--batch_sizes",
        type=int,
        nargs="+",
        default=[64, 512, 4096],
        help="frames per nvJPEG batch; batches beyond --frames repeat the frames (default: 64 512 4096)",
    )
    parser.add_argument(
        "--augment_batch", type=int, default=512, help="clips of 8 frames per device augmentation batch (default: 512)"
    )
    parser.add_argument("--device", default="cuda", help="GPU device for the GPU rows (default: cuda)")
    return parser.parse_args(argv)


def main(argv=None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(1)
    frames = textured_frames(args.frames, args.width, args.height)
    encoded = [encode_jpeg(frame, args.quality) for frame in frames]
    data = [torch.frombuffer(bytearray(item), dtype=torch.uint8) for item in encoded]
    mean_bytes = sum(len(item) for item in encoded) / len(encoded)
    rows = []

    rows.append(
        (
            "CPU torchvision.io.decode_jpeg, 1 thread",
            frames_per_second(lambda: [decode_jpeg(d) for d in data], len(data)),
            "-",
        )
    )
    rows.append(
        (
            "CPU Pillow, 1 thread",
            frames_per_second(
                lambda: [np.asarray(Image.open(io.BytesIO(e)).convert("RGB")) for e in encoded], len(data)
            ),
            "-",
        )
    )
    device = torch.device(args.device)
    use_gpu = device.type == "cuda" and torch.cuda.is_available()
    if use_gpu:
        for batch_size in args.batch_sizes:
            batch = (data * math.ceil(batch_size / len(data)))[:batch_size]
            decode_jpeg(batch, device=device)  # warm-up: nvJPEG handles and buffers
            torch.cuda.synchronize(device)
            cpu_start = time.process_time()
            rate = frames_per_second(
                lambda b=batch: (decode_jpeg(b, device=device), torch.cuda.synchronize(device)), batch_size
            )
            cpu_per_frame_ms = (time.process_time() - cpu_start) / (3 * batch_size) * 1e3
            rows.append((f"GPU nvJPEG, batches of {batch_size}", rate, f"{cpu_per_frame_ms:.3f}"))
        clips = torch.randint(
            0, 256, (args.augment_batch, 8, 3, args.height, args.width), dtype=torch.uint8, device=device
        )
        generator = torch.Generator().manual_seed(0)

        def augment():
            boxes = random_resized_crop_boxes(
                args.augment_batch, args.height, args.width, (0.5, 1.0), (3 / 4, 4 / 3), generator
            )
            flips = torch.rand(args.augment_batch, generator=generator) < 0.5
            augment_on_device(clips, boxes, flips, 224, (0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
            torch.cuda.synchronize(device)

        augment()
        clip_rate = frames_per_second(augment, args.augment_batch)
        rows.append((f"GPU crop+flip+normalise, batches of {args.augment_batch} clips (clips/s)", clip_rate, "-"))

    print(
        f"\n{len(data)} frames of {args.width}x{args.height}, JPEG quality {args.quality}: {mean_bytes / 1e3:.1f} kB a frame "
        f"({8 * mean_bytes / 1e3:.0f} kB per 8-frame clip)"
    )
    if use_gpu:
        print(f"GPU: {torch.cuda.get_device_name(device)}, torch {torch.__version__}")
    print("\n| decoder | frames/s | CPU ms per frame |\n|---|---|---|")
    for name, rate, cpu_ms in rows:
        print(f"| {name} | {rate:,.0f} | {cpu_ms} |")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
