# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The outputs the README shows are what its commands print now. Each example whose output is deterministic is run
here and compared with the README's text: the published-results table that `run_retrieval.py` prints from (fast), and
the moment-search demo's hit rates and the `search_moments` example on the demo's index, which need the pretraining
demo's model (slow: `python -m pytest -m slow tests/test_readme_outputs.py`). When a command's output changes, rerun
it and paste what it prints into the README."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from viclip_train.eval.benchmarks import BENCHMARK_NAMES, PUBLISHED_ZERO_SHOT_R1


ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
SEARCH_COMMAND = re.compile(
    r"`(python -m viclip_train\.moments\.search_moments\s+--index_dir outputs/moments-demo/index[^`]*)`"
)


def readme_text() -> str:
    return README.read_text(encoding="utf-8")


def run_command(arguments: list[str]) -> str:
    """`python <arguments>` from the repository root, as the README runs it; its stdout."""
    result = subprocess.run(
        [sys.executable, *arguments], cwd=ROOT, capture_output=True, text=True, timeout=900, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def markdown_table(text: str, header_start: str) -> list[list[str]]:
    """The cells of the Markdown table of `text` whose header row starts with `header_start`, row by row."""
    lines = text[text.index(header_start) :].splitlines()
    rows = [line for line in lines[: next(i for i, line in enumerate(lines) if not line.startswith("|"))]]
    return [[cell.strip() for cell in row.strip("|").split("|")] for row in rows if not row.startswith("|---")]


def test_published_retrieval_table_of_the_readme_is_the_one_run_retrieval_prints_from():
    models = list(PUBLISHED_ZERO_SHOT_R1)
    benchmarks = dict.fromkeys(name for published in PUBLISHED_ZERO_SHOT_R1.values() for name in published)
    expected = [["Benchmark", *models]] + [
        [BENCHMARK_NAMES[benchmark]]
        + ["{} / {}".format(*PUBLISHED_ZERO_SHOT_R1[model].get(benchmark, ("", ""))).strip(" /") for model in models]
        for benchmark in benchmarks
    ]
    assert markdown_table(readme_text(), "| Benchmark | ") == expected


@pytest.fixture(scope="module")
def moments_demo_output(pretraining_demo_model, tmp_path_factory) -> tuple[str, Path]:
    """What the README's moment-search demo command prints, run on the pretraining demo's model, and its folder."""
    output_dir = tmp_path_factory.mktemp("moments-demo")
    printed = run_command(
        ["-m", "viclip_train.moments.demo", "--model_name_or_path", str(pretraining_demo_model), "--output_dir",
         str(output_dir)]
    )  # fmt: skip
    return printed, output_dir


@pytest.mark.slow
def test_moments_demo_hit_rates_in_the_readme_are_what_the_demo_prints(moments_demo_output):
    printed, _ = moments_demo_output
    at_1, at_3 = re.search(r"Hit rate at 1: (\d+)/18 .*; at 3: (\d+)/18", printed).groups()
    stated = re.search(
        r"the best moment overlapped the\s+right clip for (\d+) of the 18 captions \((\d+) of 18 within the top 3\)",
        readme_text(),
    )
    assert stated is not None, "the README no longer states the demo's hit rates"
    assert stated.groups() == (at_1, at_3), printed


@pytest.mark.slow
def test_search_moments_example_in_the_readme_is_what_the_command_prints(moments_demo_output):
    _, output_dir = moments_demo_output
    text = readme_text()
    command = " ".join(SEARCH_COMMAND.search(text).group(1).split())
    arguments = command.split(" ", 1)[1].replace("outputs/moments-demo", str(output_dir))
    printed = run_command(_split_quoted(arguments))
    shown = re.search(r"--top_k 4` prints\n\n```text\n(.*?)```", text, re.DOTALL).group(1)
    assert printed.strip() == shown.strip()


def _split_quoted(arguments: str) -> list[str]:
    """A command line's arguments, double-quoted ones kept whole (as a shell splits the README's commands)."""
    return [quoted or plain for quoted, plain in re.findall(r'"([^"]*)"|(\S+)', arguments)]
