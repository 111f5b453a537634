# Copyright 2026 The ViCLIP for transformers authors. Licensed under the Apache License, Version 2.0.
"""The outputs the README shows are what its commands print now. Each example whose output is deterministic is run
here and compared with the README's text: the published-results table that `run_retrieval.py` prints from (fast), and
the moment-search demo's hit rates and the `search_moments` example on the demo's index, which need the pretraining
demo's model (slow: `python -m pytest -m slow tests/test_readme_outputs.py`). When a command's output changes, rerun
it and paste what it prints into the README."""

import itertools
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
    rows = itertools.takewhile(lambda line: line.startswith("|"), text[text.index(header_start) :].splitlines())
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


# The demo model trained here matches the README's to float rounding only (thread counts and load change the order of
# CPU reductions over 288 steps), so the demo's results are compared within these margins; everything else exactly.
HIT_MARGIN = 2  # captions of 18
SCORE_MARGIN = 0.01  # cosine similarity


@pytest.mark.slow
def test_moments_demo_hit_rates_in_the_readme_are_what_the_demo_prints(moments_demo_output):
    printed, _ = moments_demo_output
    at_1, at_3 = (int(hits) for hits in re.search(r"Hit rate at 1: (\d+)/18 .*; at 3: (\d+)/18", printed).groups())
    stated = re.search(
        r"the best moment overlapped the\s+right clip for (\d+) of the 18 captions \((\d+) of 18 within the top 3\)",
        readme_text(),
    )
    assert stated is not None, "the README no longer states the demo's hit rates"
    assert abs(int(stated.group(1)) - at_1) <= HIT_MARGIN and abs(int(stated.group(2)) - at_3) <= HIT_MARGIN, printed
    assert "Chance at 1: 5.6 %." in printed and "where chance is 5.6 %" in readme_text()


@pytest.mark.slow
def test_search_moments_example_in_the_readme_is_what_the_command_prints(moments_demo_output):
    _, output_dir = moments_demo_output
    text = readme_text()
    command = " ".join(SEARCH_COMMAND.search(text).group(1).split())
    arguments = command.split(" ", 1)[1].replace("outputs/moments-demo", str(output_dir))
    printed = run_command(_split_quoted(arguments)).strip().splitlines()
    shown = re.search(r"--top_k 4` prints\n\n```text\n(.*?)```", text, re.DOTALL).group(1).strip().splitlines()
    assert printed[:4] == shown[:4]  # the query and the table's header
    assert len(printed) == len(shown)
    printed_rows, shown_rows = (markdown_table("\n".join(lines), "| rank |")[1:] for lines in (printed, shown))
    assert printed_rows[0][2:] == shown_rows[0][2:]  # the best moment: its window and video
    for printed_row, shown_row in zip(printed_rows, shown_rows, strict=True):
        assert abs(float(printed_row[1]) - float(shown_row[1])) <= SCORE_MARGIN, (printed_row, shown_row)


def _split_quoted(arguments: str) -> list[str]:
    """A command line's arguments, double-quoted ones kept whole (as a shell splits the README's commands)."""
    return [quoted or plain for quoted, plain in re.findall(r'"([^"]*)"|(\S+)', arguments)]
