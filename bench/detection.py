"""Detection quality of the inspection engine on the generated evaluation corpus.

Generates the corpus (bench/eval_corpus.py) into a folder, runs `inspect_path` on every
file and prints, per category: files, caught (verdict != clean) for malicious ones or
false positives (verdict != clean) for benign ones, the quarantine/flag split, recall or
FP rate, and time per file. Then lists every miss and every false positive with its
findings, so each can be traced to the module that is wrong.

Targets (issue 2): recall >= 99 % on malicious files, false positives <= 0.5 % on benign.

Usage: .venv/bin/python bench/detection.py [--out DIR] [--seed N] [--scale F] [--json FILE]
Exit status: 0 when both targets are met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:
    sys.path.insert(0, str(REPO_ROOT))

from agent.inspect.engine import inspect_path  # noqa: E402
from agent.model import Report, Verdict  # noqa: E402
from agent.textsafe import safe_name  # noqa: E402
from bench.eval_corpus import DEFAULT_SEED, Item, generate, write_corpus  # noqa: E402

RECALL_TARGET = 0.99  # fraction of malicious files caught
FP_TARGET = 0.005  # fraction of benign files not clean


@dataclass
class Outcome:
    """One file's result."""

    path: Path
    item: Item
    report: Report
    seconds: float

    @property
    def caught(self) -> bool:
        """Verdict other than clean."""
        return self.report.verdict is not Verdict.CLEAN


@dataclass
class Tally:
    """Counts for one category."""

    files: int = 0
    not_clean: int = 0
    quarantine: int = 0
    flag: int = 0
    seconds: float = 0.0
    outcomes: list[Outcome] = field(default_factory=list)


def run(items: list[Item], folder: Path) -> list[Outcome]:
    """Write the items into `folder` and inspect every file."""
    outcomes = []
    for path, item in write_corpus(folder, items):
        started = time.perf_counter()
        report = inspect_path(path)
        outcomes.append(Outcome(path, item, report, time.perf_counter() - started))
    return outcomes


def summarise(outcomes: list[Outcome]) -> dict[str, Tally]:
    """Per-category tallies (category order as generated)."""
    tallies: dict[str, Tally] = {}
    for outcome in outcomes:
        tally = tallies.setdefault(outcome.item.category, Tally())
        tally.files += 1
        tally.seconds += outcome.seconds
        tally.outcomes.append(outcome)
        if outcome.report.verdict is Verdict.QUARANTINE:
            tally.quarantine += 1
        elif outcome.report.verdict is Verdict.FLAG:
            tally.flag += 1
        tally.not_clean += outcome.caught
    return tallies


def rates(outcomes: list[Outcome]) -> tuple[float, float, int, int]:
    """(recall, false-positive rate, malicious count, benign count)."""
    malicious = [o for o in outcomes if o.item.malicious]
    benign = [o for o in outcomes if not o.item.malicious]
    recall = sum(o.caught for o in malicious) / max(1, len(malicious))
    fp_rate = sum(o.caught for o in benign) / max(1, len(benign))
    return recall, fp_rate, len(malicious), len(benign)


def misses(outcomes: list[Outcome]) -> list[Outcome]:
    """Malicious files that came out clean."""
    return [o for o in outcomes if o.item.malicious and not o.caught]


def false_positives(outcomes: list[Outcome]) -> list[Outcome]:
    """Benign files that did not come out clean."""
    return [o for o in outcomes if not o.item.malicious and o.caught]


def describe(outcome: Outcome, root: Path | None = None) -> str:
    """One block of text: the file, what it is, and every finding the engine gave."""
    shown = outcome.path.relative_to(root) if root else outcome.path.name
    lines = [
        f"  {safe_name(str(shown))}  [{outcome.report.type}, {outcome.report.verdict.value}]"
        f"  -- {outcome.item.note}"
    ]
    for finding in outcome.report.findings:
        where = f" @{finding.offset}" if finding.offset is not None else ""
        lines.append(
            f"      {finding.severity.label:6} {finding.code}{where}"
            f" {finding.payload or ''} {finding.detail[:140]}"
        )
    if not outcome.report.findings:
        lines.append("      (no findings)")
    return "\n".join(lines)


def print_table(tallies: dict[str, Tally]) -> None:
    """The per-category table."""
    columns = ("files", "!clean", "quar", "flag", "rate", "ms/file")
    widths = (5, 6, 5, 5, 8, 8)
    header = f"{'category':34} " + " ".join(
        f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)
    )
    print(header)
    print("-" * len(header))
    for category, tally in tallies.items():
        malicious = category.startswith("malicious/")
        rate = tally.not_clean / tally.files
        label = f"{rate:7.1%}" + ("R" if malicious else "F")
        print(
            f"{category:34} {tally.files:5d} {tally.not_clean:6d} {tally.quarantine:5d} "
            f"{tally.flag:5d} {label:>8} {1000 * tally.seconds / tally.files:8.2f}"
        )
    print("(rate: R = recall on malicious files, F = false-positive rate on benign files)")


def main(argv: list[str] | None = None) -> int:
    """Generate, inspect, report; exit 0 only when both targets are met."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, help="corpus folder (default: a temporary folder)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--scale", type=float, default=1.0, help="fraction of the full corpus")
    parser.add_argument("--json", type=Path, help="also write every report as JSON lines here")
    args = parser.parse_args(argv)

    started = time.perf_counter()
    items = list(generate(args.seed, args.scale))
    generated = time.perf_counter() - started
    if args.out:
        if args.out.exists():
            shutil.rmtree(args.out)
        args.out.mkdir(parents=True)
        folder = args.out
        outcomes = run(items, folder)
    else:
        with tempfile.TemporaryDirectory(prefix="photogate-eval-") as temp:
            folder = Path(temp)
            outcomes = run(items, folder)

    tallies = summarise(outcomes)
    print(f"generated {len(items)} files in {generated:.1f} s", end=" ")
    print(f"(seed {args.seed}, scale {args.scale})\n")
    print_table(tallies)
    recall, fp_rate, n_malicious, n_benign = rates(outcomes)
    total_seconds = sum(o.seconds for o in outcomes)
    print(
        f"\nrecall {recall:.2%} on {n_malicious} malicious (target >= {RECALL_TARGET:.0%}); "
        f"false positives {fp_rate:.2%} on {n_benign} benign (target <= {FP_TARGET:.1%}); "
        f"{1000 * total_seconds / max(1, len(outcomes)):.2f} ms/file, "
        f"slowest {max(o.seconds for o in outcomes) * 1000:.0f} ms"
    )
    missed, false_alarms = misses(outcomes), false_positives(outcomes)
    print(f"\nMISSES ({len(missed)}):")
    for outcome in missed:
        print(describe(outcome, folder))
    print(f"\nFALSE POSITIVES ({len(false_alarms)}):")
    for outcome in false_alarms:
        print(describe(outcome, folder))
    if args.json:
        with args.json.open("w", encoding="utf-8") as handle:
            for outcome in outcomes:
                record = outcome.report.to_json()
                record["malicious"] = outcome.item.malicious
                record["category"] = outcome.item.category
                record["note"] = outcome.item.note
                record["seconds"] = round(outcome.seconds, 5)
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    return 0 if recall >= RECALL_TARGET and fp_rate <= FP_TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
