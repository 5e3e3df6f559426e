"""schemathesis against a running gateway: its CLI (``schemathesis run``) on the
committed OpenAPI document, and the counts read back from its NDJSON event log.

``make test`` runs a bounded pass (``test_fuzz.py``); ``make fuzz`` a long one
(``CARTSYNC_FUZZ_CASES``, several runs with successive seeds until that many cases).
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..support import ROOT

SCHEMA = ROOT / "openapi" / "cartsync.v1.json"
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "response_schema_conformance",
    "content_type_conformance",
)
SKIPPED_OPERATIONS = ("cartEvents",)  # a stream never ends; test_cart_api and the replicas test it
CASES_PER_SECOND_AT_LEAST = 10  # measured: 80 a second on 2 vCPUs; the subprocess's deadline


@dataclass
class FuzzReport:
    """What the runs sent and found."""

    cases: int = 0
    checked: Counter[str] = field(default_factory=Counter)  # responses each check looked at
    failures: Counter[str] = field(default_factory=Counter)  # per check
    statuses: Counter[int] = field(default_factory=Counter)
    by_operation: dict[str, Counter[int]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)  # the first failures, described
    errors: list[str] = field(default_factory=list)  # the runs' own errors (not findings)
    seeds: list[int] = field(default_factory=list)
    seconds: float = 0.0

    def read(self, ndjson: Path) -> None:
        for line in ndjson.read_text().splitlines():
            event = json.loads(line)
            if "ScenarioFinished" in event:
                self._scenario(event["ScenarioFinished"]["recorder"])
            elif "NonFatalError" in event or "FatalError" in event:
                error = event.get("NonFatalError") or event.get("FatalError")
                self.errors.append(json.dumps(error)[:500])

    def _scenario(self, recorder: dict[str, object]) -> None:
        label = str(recorder["label"])
        cases = recorder.get("cases") or {}
        assert isinstance(cases, dict)
        self.cases += len(cases)
        checks = recorder.get("checks") or {}
        assert isinstance(checks, dict)
        for results in checks.values():
            for check in results:
                self.checked[check["name"]] += 1
                if check["status"] != "success":
                    self.failures[check["name"]] += 1
                    if len(self.examples) < 20:
                        info = check.get("failure_info", {}).get("failure", {})
                        self.examples.append(
                            f"{check['name']}: {info.get('operation', label)}: "
                            f"{info.get('title', '')}: {info.get('message', '')}"[:600]
                        )
        interactions = recorder.get("interactions") or {}
        assert isinstance(interactions, dict)
        for interaction in interactions.values():
            response = interaction.get("response")
            if response:
                status = int(response["status_code"])
                self.statuses[status] += 1
                self.by_operation.setdefault(label, Counter())[status] += 1

    def summary(self) -> str:
        lines = [
            f"schemathesis: {self.cases} cases in {self.seconds:.0f} s "
            f"(seeds {', '.join(map(str, self.seeds))})",
            *(
                f"  {name}: {self.failures[name]} failures in {self.checked[name]} responses"
                for name in CHECKS
            ),
            "  statuses: " + ", ".join(f"{s}: {n}" for s, n in sorted(self.statuses.items())),
        ]
        for label, statuses in sorted(self.by_operation.items()):
            seen = ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items()))
            lines.append(f"    {label}: {seen}")
        lines += [f"  failure: {example}" for example in self.examples]
        lines += [f"  error: {error}" for error in self.errors]
        return "\n".join(lines)


def max_examples_for(cases: int) -> int:
    """Examples per operation and phase for a run of about ``cases`` cases (measured:
    5 gives about 1,100 cases, 30 about 1,800; the coverage phase adds a fixed set)."""
    return max(5, min(100, cases // 200))


def fuzz(base_url: str, token: str, workdir: Path, *, cases: int, seed: int) -> FuzzReport:
    """Runs of ``schemathesis run`` with seeds ``seed``, ``seed + 1``... until at least
    ``cases`` cases have run (one run when it reaches them)."""
    report = FuzzReport()
    started = time.monotonic()
    examples = max_examples_for(cases)
    while report.cases < cases:
        run_seed = seed + len(report.seeds)
        report.seeds.append(run_seed)
        out = workdir / f"run-{run_seed}"
        out.mkdir(parents=True, exist_ok=True)
        ndjson = out / "events.ndjson"
        command = [
            *(sys.executable, "-m", "schemathesis.cli", "run", str(SCHEMA)),
            *("--url", base_url, "--header", f"Authorization: Bearer {token}"),
            *("--checks", ",".join(CHECKS), "--continue-on-failure"),
            *(arg for op in SKIPPED_OPERATIONS for arg in ("--exclude-operation-id", op)),
            *("--max-examples", str(examples), "--seed", str(run_seed)),
            *("--generation-database", "none", "--request-timeout", "30"),
            *("--report", "ndjson", "--report-ndjson-path", str(ndjson), "--no-color"),
        ]
        deadline = 60 + cases // CASES_PER_SECOND_AT_LEAST
        finished = subprocess.run(
            command,
            cwd=workdir,
            capture_output=True,
            text=True,
            timeout=deadline,
            check=False,
        )
        (out / "output.txt").write_text(finished.stdout + finished.stderr)
        before = report.cases
        report.read(ndjson)
        if finished.returncode not in (0, 1) or report.cases == before:
            # 0: no failure, 1: failures (counted above); anything else: the run broke.
            report.errors.append(
                f"schemathesis exited {finished.returncode}: {finished.stdout[-2000:]}"
                f"{finished.stderr[-2000:]}"
            )
            break
    report.seconds = time.monotonic() - started
    return report
