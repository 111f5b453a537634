"""transformers' own common test suites, fetched for the installed release.

`ModelTesterMixin`, `ConfigTester`, `VideoProcessingTestMixin`, `ProcessorTesterMixin` and friends ship in the
transformers source distribution (`tests/test_*_common.py`, `tests/test_*_mixin.py`) but not in the wheel. The first
test that needs them downloads the sdist of the installed version from the package index (`pip download`, which CI
reaches) and unpacks those files into `.transformers_tests/<version>/` at the repository root (ignored by git, never
committed), as the package `transformers_common_tests`.

Four modules they import live in folders the sdist does not ship; this module writes small stand-ins for them: the
export and generation mixins are empty (ViCLIP neither exports nor generates text), `config_common_kwargs` holds common
`PreTrainedConfig` fields with non-default values (what `ConfigTester.check_config_arguments_init` checks), and
`url_to_local_path` returns URLs unchanged (tests that fetch sample media from the Hub cannot run offline).

    from tests.common_suites import import_common_suite
    test_modeling_common = import_common_suite("test_modeling_common")
    ModelTesterMixin = test_modeling_common.ModelTesterMixin

Set `VICLIP_TRANSFORMERS_TESTS` to a folder holding an unpacked `tests/` of the same release to skip the download, and
`VICLIP_COMMON_SUITES_CACHE` to keep the unpacked suites elsewhere than `.transformers_tests/`. Where the sdist can be
neither found nor downloaded (offline, no package index), the test modules that need the suites are skipped with the
reason, and every other test still runs.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType

import pytest
import transformers


REPO_ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "transformers_common_tests"
CACHE_DIR = (
    Path(os.environ.get("VICLIP_COMMON_SUITES_CACHE", REPO_ROOT / ".transformers_tests")) / transformers.__version__
)
# seconds pip waits for the package index, and its retries: offline, the suites are skipped after about a minute at most
PIP_TIMEOUT, PIP_RETRIES = 15, 1


class CommonSuitesUnavailable(RuntimeError):
    """The transformers sdist holding the common test suites could not be found or downloaded."""


_STANDINS = {
    "exporters/__init__.py": "",
    "exporters/test_export.py": (
        '"""Stand-in: the sdist does not ship tests/exporters; ViCLIP is not tested for torch.export here."""\n\n\n'
        "class ExportTesterMixin:\n    pass\n"
    ),
    "generation/__init__.py": "",
    "generation/test_utils.py": (
        '"""Stand-in: the sdist does not ship tests/generation; ViCLIP generates no text."""\n\n\n'
        "class GenerationTesterMixin:\n    pass\n"
    ),
    "utils/__init__.py": "",
    "utils/test_configuration_utils.py": (
        '"""Stand-in: common PreTrainedConfig fields set to non-default values (the sdist does not ship tests/utils)."""\n'
        "\n"
        "config_common_kwargs = {\n"
        '    "return_dict": False,\n'
        '    "output_hidden_states": True,\n'
        '    "dtype": "float16",\n'
        '    "chunk_size_feed_forward": 5,\n'
        '    "architectures": ["BertModel"],\n'
        '    "id2label": {0: "label"},\n'
        '    "label2id": {"label": "0"},\n'
        '    "problem_type": "regression",\n'
        "}\n"
    ),
}


def _download_tests(destination: Path) -> None:
    """Unpacks the `tests/*.py` files of the installed transformers release's sdist into `destination`."""
    source = os.environ.get("VICLIP_TRANSFORMERS_TESTS")
    with tempfile.TemporaryDirectory() as scratch:
        if source:
            tests_dir = Path(source)
        else:
            command = [
                sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--no-binary", ":all:",
                f"transformers=={transformers.__version__}", "--dest", scratch,
                "--timeout", str(PIP_TIMEOUT), "--retries", str(PIP_RETRIES),
            ]  # fmt: skip
            result = subprocess.run(command, capture_output=True, text=True)
            archives = list(Path(scratch).glob("transformers-*.tar.gz"))
            if result.returncode != 0 or not archives:
                raise CommonSuitesUnavailable(
                    f"Could not download the transformers {transformers.__version__} sdist, whose tests/ holds the "
                    f"common test suites: {result.stderr.strip()[-600:]}. These tests need the package index; "
                    "set VICLIP_TRANSFORMERS_TESTS to an unpacked tests/ folder of that release to work offline."
                )
            with tarfile.open(archives[0]) as archive:
                members = [m for m in archive.getmembers() if m.name.count("/") == 2 and "/tests/" in m.name]
                archive.extractall(scratch, members=members, filter="data")
            tests_dir = next(Path(scratch).glob("transformers-*/tests"))
        staging = Path(scratch) / PACKAGE
        staging.mkdir()
        for path in tests_dir.glob("*.py"):
            shutil.copy2(path, staging / path.name)
        (staging / "__init__.py").write_text("")
        for relative, text in _STANDINS.items():
            (staging / relative).parent.mkdir(parents=True, exist_ok=True)
            (staging / relative).write_text(text)
        destination.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(staging, destination)  # atomic: a concurrent test run sees all of it or none
        except OSError:
            if not (destination / "__init__.py").is_file():
                raise


_URL_HELPER = (
    '"""Stand-in for transformers\' utils/fetch_hub_objects_for_ci.py (not in the sdist): URLs stay URLs; tests '
    'that fetch them need the Hub, which these tests never reach."""\n\n\n'
    "def url_to_local_path(url, return_url_if_not_found=True):\n    return url\n"
)


def common_suites_dir() -> Path:
    """The folder holding the package `transformers_common_tests`, downloaded on first use; put on `sys.path`."""
    package_dir = CACHE_DIR / PACKAGE
    if not (package_dir / "test_modeling_common.py").is_file():
        _download_tests(package_dir)
    # test_processing_common.py appends <its folder>/../utils to sys.path and imports this helper from there
    url_helper = CACHE_DIR / "utils" / "fetch_hub_objects_for_ci.py"
    if not url_helper.is_file():
        url_helper.parent.mkdir(exist_ok=True)
        url_helper.write_text(_URL_HELPER)
    if str(CACHE_DIR) not in sys.path:
        sys.path.insert(0, str(CACHE_DIR))
    return CACHE_DIR


def import_common_suite(name: str) -> ModuleType:
    """
    Imports `transformers_common_tests.<name>`, e.g. `"test_modeling_common"`. Called at the top of a test module:
    where the suites cannot be had, the whole module is skipped with the reason (the other modules still run).
    """
    try:
        common_suites_dir()
    except CommonSuitesUnavailable as error:
        pytest.skip(f"transformers' common test suites are unavailable: {error}", allow_module_level=True)
    return importlib.import_module(f"{PACKAGE}.{name}")
