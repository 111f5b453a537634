"""The README's test command with no package index: the modules that need transformers' common suites (fetched from
the transformers sdist) are skipped with the reason, and every other test still runs."""

import os
import re
import subprocess
import sys
from pathlib import Path


REPO_ROOT = Path(__file__).resolve().parent.parent


def test_without_a_package_index_the_common_suites_are_skipped_and_the_other_tests_run(tmp_path):
    environment = {
        **os.environ,
        "VICLIP_COMMON_SUITES_CACHE": str(tmp_path / "suites"),  # nothing downloaded yet
        "PIP_INDEX_URL": "http://127.0.0.1:9/simple",  # a port nothing listens on: offline
        "PIP_FIND_LINKS": "",
        "PIP_NO_CACHE_DIR": "1",
    }
    environment.pop("VICLIP_TRANSFORMERS_TESTS", None)
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"]
    command += ["tests/test_tokenization_common.py", "tests/test_label_sets.py"]
    result = subprocess.run(command, cwd=REPO_ROOT, env=environment, capture_output=True, text=True, timeout=600)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "transformers' common test suites are unavailable" in output and "Could not download" in output
    summary = output.strip().splitlines()[-1]
    assert re.fullmatch(r"\d+ passed, 1 skipped in .*", summary), summary
