"""The package installs quietly and whole (issue 15, part 3: about 340 lines of setuptools
"Package would be ignored" warnings buried the URL that `make run` prints)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).parents[1]


def test_the_wheel_builds_without_warnings_and_holds_the_data(tmp_path: Path) -> None:
    pip = [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet"]
    proc = subprocess.run(
        [*pip, "--wheel-dir", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    output = proc.stdout + proc.stderr
    assert "would be ignored" not in output
    assert "Warning" not in output, output
    (wheel,) = tmp_path.glob("trustline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for data in (
        "assistant/data/policy.json",
        "assistant/api/openapi.json",
        "assistant/templates/sidebar/page.html",
        "nlp/config.cfg",
    ):
        assert data in names, data
    assert any(n.startswith("nlp/models/en/complaints/") for n in names)
    assert not any("__pycache__" in n for n in names)
