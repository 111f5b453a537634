"""The benchmark scripts stay runnable: each imports and builds its argument parser (they are not timed here)."""

import importlib.util
import sys
from pathlib import Path

import pytest


BENCH = Path(__file__).resolve().parents[1] / "bench"


@pytest.mark.parametrize("script", sorted(path.name for path in BENCH.glob("*.py")))
def test_benchmark_script_imports_and_explains_its_flags(script, monkeypatch, capsys):
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location(f"bench_{script[:-3]}", BENCH / script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not hasattr(module, "main"):
        return  # a helper module of the scripts
    monkeypatch.setattr(sys, "argv", [script, "--help"])
    with pytest.raises(SystemExit) as exit_info:
        module.main()
    assert exit_info.value.code == 0
    assert "--" in capsys.readouterr().out


def test_gpu_check_smoke_runs_on_a_cpu_and_fails_on_a_parity_miss(monkeypatch, capsys):
    """`bench/gpu_check.py --tiny --device cpu` runs the whole script on a tiny model; a cosine threshold no model can
    meet makes it print the table with the failed row and exit with status 1."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_gpu_check_smoke", BENCH / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    arguments = ["--tiny", "--device", "cpu", "--train_batch_size", "2", "--inference_batch_size", "2"]
    arguments += ["--repeats", "1", "--num_check_videos", "2", "--compile", "off"]
    with pytest.raises(SystemExit) as exit_info:
        module.main([*arguments, "--threshold", "1.01"])
    assert exit_info.value.code == 1
    table = capsys.readouterr().out
    assert (
        "| model | attention | compiled | min cosine to fp32 eager | inference batch | inference videos/s |" in table
    )
    assert "| tiny | sdpa | no | " in table and " FAIL |" in table


def test_frame_decoding_bench_prints_the_cpu_rows_without_a_gpu(monkeypatch, capsys):
    """`bench/bench_frame_decoding.py --device cpu` encodes frames as JPEG and times the CPU decoders alone."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_frame_decoding_smoke", BENCH / "bench_frame_decoding.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    module.main(["--frames", "8", "--width", "64", "--height", "48", "--device", "cpu"])
    output = capsys.readouterr().out
    assert "| CPU torchvision.io.decode_jpeg, 1 thread |" in output and "GPU" not in output


def test_gpu_shards_check_smoke_runs_on_a_cpu_without_scikit_video(monkeypatch, capsys, tmp_path):
    """`bench/gpu_shards_check.py --tiny --device cpu --source synthetic` runs the whole script as on a machine without
    scikit-video: textured sources written with PyAV alone, shards of H.264 clips and of JPEG frames written by the
    package's writer, steps fed by two DataLoader workers for each read (H.264 and frames decoded in the workers,
    frames decoded by the training process), the model alone on a batch in memory; it prints a row per read and says
    which content it used."""
    monkeypatch.syspath_prepend(str(BENCH))
    spec = importlib.util.spec_from_file_location("bench_gpu_shards_check_smoke", BENCH / "gpu_shards_check.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # its worker processes find its functions by module name
    spec.loader.exec_module(module)
    module.main(["--tiny", "--device", "cpu", "--source", "synthetic", "--work_dir", str(tmp_path)])
    output = capsys.readouterr().out
    assert "| model | read | KiB per clip | batch | mask ratio | workers | whole steps clips/s |" in output
    for read in ("h264", "frames", "frames_on_device"):
        assert f"| tiny | {read} | " in output
    assert "content: synthetic;" in output and "h264: 8 unique 1.5 s clips at 64p" in output
    assert (tmp_path / "synthetic-8x1.5s-of-4s-64p-gop8" / "shards" / "manifest.json").is_file()
    assert (tmp_path / "synthetic-8x1.5s-of-4s-64p-frames2" / "shards" / "manifest.json").is_file()
