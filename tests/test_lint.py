"""The code stays ruff-clean and ruff-formatted: both run over the whole checkout, as CI would."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _ruff(*args: str) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).with_name("ruff")
    ruff = str(exe) if exe.exists() else shutil.which("ruff")
    assert ruff, "ruff is a test dependency (pip install -e '.[test]')"
    return subprocess.run([ruff, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("args", [("check", "."), ("format", "--check", ".")], ids=["check", "format"])
def test_ruff_finds_nothing(args):
    result = _ruff(*args)
    assert result.returncode == 0, result.stdout + result.stderr
