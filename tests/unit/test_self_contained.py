"""The project stands alone: nothing it builds, tests or runs reads outside its checkout."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# A path that climbs out of the checkout to a sibling folder, in code (comments too:
# a newcomer's clone has nothing there to point at).
OUTSIDE = re.compile(r"\.\./shared|parents\[\d\]\.parent|ROOT\.parent|\.parent\.parent / \"")
CHECKED = ("service", "tests", "bench", "tools", "deploy", "scripts", ".ci", "Makefile", "clients")


def _tracked() -> list[Path]:
    listed = subprocess.run(
        ["git", "ls-files", "--", *CHECKED],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    return [ROOT / name for name in listed if not name.startswith("tests/fidelity/recordings/")]


def test_no_file_reaches_outside_the_checkout() -> None:
    """No tracked source, test, script or build file names a path beside the checkout."""
    offenders = []
    for path in _tracked():
        if path == Path(__file__) or path.suffix in (".png", ".json") or not path.exists():
            continue  # (a tracked file deleted in the work tree is not there to read)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            if OUTSIDE.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_the_recordings_the_suite_replays_are_in_the_repository() -> None:
    """Every recordings folder the fidelity suite reads is tracked by git."""
    listed = subprocess.run(
        ["git", "ls-files", "tests/fidelity/recordings"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    folders = {Path(name).parts[3] for name in listed if len(Path(name).parts) > 4}
    assert {"storeapi", "cocart", "cocart-extra"} <= folders
