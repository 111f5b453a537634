# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""Every Python block of the README runs as printed on a tiny converted folder: the README's placeholders are
replaced by that folder and by a real video file, nothing else is changed. Each block runs in its own namespace, in a
fresh interpreter shared only with blocks of its kind: those that `import viclip`, and those that do not, which must
then run without the package (as remote code) and never stop at transformers' remote-code prompt."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from .project_folders import project_folders


ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
# The README's placeholders, and what the test puts in their place.
MODEL_PLACEHOLDER = '"path/to/converted-viclip"'
VIDEO_PLACEHOLDER = '"video.mp4"'
LONG_VIDEO_PLACEHOLDER = '"long.mp4"'
INDEX_PLACEHOLDER = '"moment-index"'  # a moment-search index folder (`python -m viclip_train.moments.index_videos`)
NO_VICLIP_CHECK = (
    "\nimport sys\nassert not any(name.split('.')[0] == 'viclip' for name in sys.modules), 'viclip was imported'\n"
)


def readme_python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", README.read_text(), re.DOTALL | re.MULTILINE)


def test_readme_has_python_blocks_that_use_only_the_known_placeholders():
    blocks = readme_python_blocks()
    assert len(blocks) >= 2
    for block in blocks:
        models = re.findall(r'(?:from_pretrained\(|model=)("[^"]+")', block)
        assert set(models) <= {MODEL_PLACEHOLDER}, block
        files = re.findall(r'"[^"\s]+\.(?:mp4|avi|mkv|webm|pth)"', block)
        assert set(files) <= {VIDEO_PLACEHOLDER, LONG_VIDEO_PLACEHOLDER}, block


# Runs blocks in order, each in a fresh namespace; names the block that fails.
RUNNER = """
import sys, traceback
for number, code in BLOCKS:
    try:
        exec(compile(code, f"README Python block {number}", "exec"), {"__name__": "__main__"})
    except BaseException:
        traceback.print_exc()
        sys.exit(f"README Python block {number} failed")
"""


def moment_index(folders, tmp_path: Path) -> Path:
    """An index of a folder holding the test video, made with the tiny converted model by the indexing command."""
    from viclip_train.moments.index_videos import main as index_videos

    video_dir = tmp_path / "videos"
    video_dir.mkdir()
    os.symlink(folders.video, video_dir / Path(folders.video).name)
    index_dir = tmp_path / "moment-index"
    index_videos(
        ["--model_name_or_path", str(folders.converted), "--video_dir", str(video_dir), "--output_dir", str(index_dir)]
        + ["--window_seconds", "1", "--stride_seconds", "0.5", "--num_workers", "0"]
    )
    return index_dir


def test_every_readme_python_block_runs_as_printed(tmp_path_factory, tmp_path):
    folders = project_folders(tmp_path_factory)
    index_dir = moment_index(folders, tmp_path)
    environment = {
        **os.environ,
        "PYTHONPATH": str(ROOT),  # `import viclip` finds this checkout
        "HF_HOME": str(tmp_path / "hf_home"),
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    groups = {"with viclip": [], "without viclip": []}
    for number, block in enumerate(readme_python_blocks(), start=1):
        script = block.replace(MODEL_PLACEHOLDER, repr(str(folders.converted)))
        script = script.replace(VIDEO_PLACEHOLDER, repr(str(folders.video)))
        script = script.replace(LONG_VIDEO_PLACEHOLDER, repr(str(folders.video)))
        script = script.replace(INDEX_PLACEHOLDER, repr(str(index_dir)))
        if re.search(r"^(import viclip\b|from viclip(_train)?[. ])", block, re.MULTILINE):
            groups["with viclip"].append((number, script))
        else:
            groups["without viclip"].append((number, script + NO_VICLIP_CHECK))
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", f"BLOCKS = {blocks!r}\n{RUNNER}"],
            cwd=tmp_path,
            env=environment,
            stdin=subprocess.DEVNULL,  # a remote-code prompt fails at once instead of waiting
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for blocks in groups.values()
        if blocks
    ]
    failures = []
    for process in runs:
        try:
            output, _ = process.communicate(timeout=300)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
        if process.returncode != 0:
            failures.append(output[-4000:])
    if failures:
        pytest.fail("\n\n".join(failures))


def test_ci_runs_exactly_the_readme_test_command():
    test_command = re.search(r"^\. \.venv/bin/activate && (.*pytest.*)$", README.read_text(), re.MULTILINE).group(1)
    ci_commands = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci_commands[-1] == test_command
