"""The TypeScript client's generated types follow the committed OpenAPI document.

The chain is code → ``openapi/cartsync.v1.json`` (``python -m cartsync openapi``, checked in
``tests/integration/test_in_process.py``) → ``clients/typescript/src/schema.d.ts``
(openapi-typescript, checked here by ``npm run check-generated``'s script). When this fails:
``cd clients/typescript && npm run generate`` and commit the file. The client's own tests
(``npm test``: against a gateway and storesim it starts) run after pytest in ``make test``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CLIENT = ROOT / "clients" / "typescript"
DOCUMENT = ROOT / "openapi" / "cartsync.v1.json"


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed: run `make setup` (or .ci/run)")
    return found


@pytest.fixture(scope="module")
def node() -> str:
    """node, with the client's locked devDependencies installed (``npm ci`` when missing)."""
    node = _tool("node")
    if not (CLIENT / "node_modules" / "openapi-typescript" / "bin" / "cli.js").exists():
        subprocess.run(
            [_tool("npm"), "ci", "--no-audit", "--no-fund"],
            cwd=CLIENT,
            check=True,
            capture_output=True,
            timeout=300,
        )
    return node


def _check(node: str, *extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [node, "scripts/generate.mjs", "--check", *extra],
        cwd=CLIENT,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_generated_types_match_the_openapi_document(node: str) -> None:
    """Regenerate with ``npm run generate`` in clients/typescript when this fails."""
    run = _check(node)
    assert run.returncode == 0, run.stdout + run.stderr


def test_the_check_fails_when_the_document_moves_on(node: str, tmp_path: Path) -> None:
    """Whatever the document holds now, a change to it makes the committed types stale."""
    document = json.loads(DOCUMENT.read_text())
    cart = document["components"]["schemas"]["Cart"]
    cart["properties"]["gift_message"] = {"type": "string"}
    moved = tmp_path / "moved.json"
    moved.write_text(json.dumps(document))
    run = _check(node, "--document", str(moved))
    assert run.returncode == 1, run.stdout + run.stderr
    assert "is stale" in run.stderr
    assert "npm run generate" in run.stderr
    assert "gift_message" in run.stderr
