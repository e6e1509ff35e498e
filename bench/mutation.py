"""Mutation testing: does the suite notice a small deliberate bug where a silent one costs most?

Runs mutmut (a maintained mutation tool from PyPI) over the modules named in TARGETS, each
with the test files that cover it, in a scratch copy of the repository (the work tree is
never touched), within a time bound per target, and prints per module:

    module                  mutants  killed  survived  equiv.  unchecked   score
    agent/policy/decide.py      170     161         6       3          0   96.4%

score = killed / (killed + survived), over the mutants not listed as equivalent (a
change no test can see because behaviour does not change; each is listed with the reason
in bench/mutation_equivalent.toml). "unchecked" counts mutants the time bound left out.
Every other survivor is printed (with its diff under --show) so it can become a test.
mutmut numbers a function's mutants in order, so editing the function renumbers them: a
listed mutant that a test kills, or that no longer exists, is printed as a stale entry
(and a killed one counts as killed) so its line gets a new look.

    .venv/bin/python bench/mutation.py                 # every target
    .venv/bin/python bench/mutation.py policy vault    # targets whose name contains a word
    .venv/bin/python bench/mutation.py pipeline        # a word that is a target's name: that one
    .venv/bin/python bench/mutation.py --seconds 300   # bound per target (default 600)
    nice -n 10 .venv/bin/python bench/mutation.py vault-restore --children 2 --work /tmp/mut
    .venv/bin/python bench/mutation.py vault-restore --work /tmp/mut --again  # survivors only

--work keeps each target's scratch copy; --again then reruns only that run's survivors
against the work tree's current tests (new tests need no new mutants; a changed mutated source
or a changed list of test files in TARGETS makes it run afresh). The score table of a rerun
covers every mutant of the kept run.

mutmut's own output goes to WORK/<target>/repo/mutmut.log. When mutmut stops on its own
with an error (its stats collection or clean run failed: a covering test that fails in the
scratch copy), the tail of that log is printed and the run fails; a module none of whose
mutants was checked scores "none", never 100 %. A covering test file must run in-process:
a test that starts the agent as another process neither runs the mutant nor tells mutmut's
stats which tests reach which function, so it only costs time (and the scratch copy has no
.venv for it to start).

Not part of CI (it runs the covering tests once per mutant); `pip install mutmut` first
(the dev extra has it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
EQUIVALENT_FILE = REPO_ROOT / "bench" / "mutation_equivalent.toml"
DEFAULT_SECONDS = 600  # seconds: the bound for one target's whole mutmut run
TARGET_SCORE = 0.90  # fraction of non-equivalent mutants the suite must kill
COPIED = (
    *("agent", "tests", "bench", "scripts", "docs", "installer"),
    *("config.toml", "pyproject.toml", "README.md"),
)


@dataclass(frozen=True)
class Target:
    """Modules to mutate and the test files that should catch their bugs."""

    name: str
    sources: tuple[str, ...]
    tests: tuple[str, ...]


TARGETS: tuple[Target, ...] = (
    Target(
        "names",
        ("agent/inspect/names.py", "agent/inspect/name_chars.py"),
        ("tests/test_names.py", "tests/test_names_edges.py"),
    ),
    Target(
        "classifier",
        (
            "agent/inspect/classify/blob.py",
            "agent/inspect/classify/kinds.py",
            "agent/inspect/classify/decoders.py",
            "agent/inspect/classify/markers.py",
            "agent/inspect/classify/byte_runs.py",  # the prefilters: a wrong skip hides a payload
        ),
        (
            "tests/test_classify.py",
            "tests/test_classify_blob.py",
            "tests/test_classify_markers.py",
            "tests/test_classify_kinds.py",
            "tests/test_classify_decoders.py",
            "tests/test_payload.py",
            "tests/test_leftover_judgement.py",
            "tests/test_byte_runs.py",
            "tests/test_redteam_decoders.py",
        ),
    ),
    Target(
        "leftover",
        ("agent/inspect/judge.py",),
        (
            "tests/test_judge.py",
            "tests/test_leftover_judgement.py",
            "tests/test_engine.py",
            "tests/test_hidden_regions.py",
            "tests/test_detection_properties.py",
        ),
    ),
    Target(
        "stray-code",
        ("agent/inspect/stray_code.py", "agent/inspect/jpeg/tables.py"),
        (
            "tests/test_jpeg_tables.py",
            "tests/test_jpeg_table_values.py",
            "tests/test_judge.py",
            "tests/test_engine.py",
            "tests/test_dicom_disguises.py",
            "tests/test_byte_runs.py",
            "tests/test_redteam_corpus.py",
        ),
    ),
    Target(
        "policy",
        ("agent/policy/decide.py", "agent/policy/layers.py", "agent/policy/keeper.py"),
        ("tests/test_policy.py", "tests/test_policy_keeper.py", "tests/test_config.py"),
    ),
    Target(
        "vault-restore",
        ("agent/vault/restore.py",),
        (
            "tests/test_vault_restore.py",
            "tests/test_vault_recovery.py",
            "tests/test_restore_names.py",
            "tests/test_vault.py",
            "tests/test_vault_crash.py",
        ),
    ),
    Target(
        "vault-journal",
        ("agent/vault/journal.py",),
        (
            "tests/test_vault_journal_unit.py",
            "tests/test_vault_journal.py",
            "tests/test_vault_recovery.py",
            "tests/test_vault.py",
        ),
    ),
    Target(
        "vault-recovery",
        ("agent/vault/recovery.py",),
        (
            "tests/test_vault_recovery.py",
            "tests/test_vault_journal.py",
            "tests/test_vault.py",
            "tests/test_vault_crash.py",
        ),
    ),
    Target(
        "vault-movein",
        ("agent/vault/movein.py",),
        (
            "tests/test_vault_batch.py",
            "tests/test_vault.py",
            "tests/test_vault_store.py",  # adopt: write_record durable, rename_in
            "tests/test_vault_sync.py",
            "tests/test_vault_journal.py",
            "tests/test_vault_recovery.py",
            "tests/test_vault_crash.py",
        ),
    ),
    Target(
        "vault-store",
        ("agent/vault/store.py",),
        (
            "tests/test_vault_store.py",
            "tests/test_vault.py",
            "tests/test_vault_restore.py",
            "tests/test_vault_recovery.py",
            "tests/test_vault_journal.py",
            "tests/test_vault_crash.py",
        ),
    ),
    Target(
        "pipeline",
        ("agent/service/pipeline.py", "agent/service/pipeline_parts.py"),
        (
            "tests/test_pipeline_guards.py",
            "tests/test_pipeline.py",
            "tests/test_pipeline_batch.py",
            # not tests/test_release.py: it starts real agent processes (see the docstring);
            # test_pipeline_guards.py covers releases in-process.
        ),
    ),
    Target(
        "pipeline-acting",
        ("agent/service/acting.py",),
        (
            "tests/test_pipeline_guards.py",
            "tests/test_pipeline_batch.py",
            "tests/test_pipeline.py",
        ),
    ),
)

_RESULT_LINE = re.compile(r"^\s*(?P<name>[\w.]+__mutmut_\d+): (?P<status>[\w ]+)$")
_FUNCTION = re.compile(r"\.x_{1,2}(?P<function>\w+?)__mutmut_\d+$")


def load_equivalent() -> dict[str, str]:
    """Mutant name -> why it is equivalent (the file's `[equivalent]` table)."""
    if not EQUIVALENT_FILE.exists():
        return {}
    data = tomllib.loads(EQUIVALENT_FILE.read_text(encoding="utf-8"))
    return {str(k): str(v) for k, v in data.get("equivalent", {}).items()}


def scratch_copy(into: Path) -> None:
    """Copy what the tests need into `into` (the shared corpus is linked beside it)."""
    for name in COPIED:
        source = REPO_ROOT / name
        if source.is_dir():
            shutil.copytree(source, into / name, ignore=shutil.ignore_patterns("__pycache__"))
        elif source.exists():
            shutil.copy2(source, into / name)
    corpus = REPO_ROOT.parent / "shared"
    if corpus.exists() and not (into.parent / "shared").exists():
        (into.parent / "shared").symlink_to(corpus)


def configure(work: Path, target: Target) -> None:
    """Append this target's [tool.mutmut] table to the scratch copy's pyproject.toml."""
    with open(work / "pyproject.toml", "a", encoding="utf-8") as config:
        config.write(_mutmut_table(target))


def _mutmut_table(target: Target) -> str:
    sources = ", ".join(f'"{s}"' for s in target.sources)
    tests = ", ".join(f'"{t}"' for t in target.tests)
    return (
        "\n[tool.mutmut]\n"
        f"source_paths = [{sources}]\n"
        f"pytest_add_cli_args_test_selection = [{tests}]\n"
        'pytest_add_cli_args = ["-q", "-x", "-p", "no:cacheprovider", "-p", "no:randomly"]\n'
        f"also_copy = [{', '.join(repr(n) for n in COPIED if n != 'pyproject.toml')}]\n"
    )


def run_target(target: Target, options: argparse.Namespace) -> dict[str, str]:
    """Run mutmut for one target; mutant name -> status (killed, survived, ...)."""
    if options.work is None:
        with tempfile.TemporaryDirectory(prefix=f"photogate-mutation-{target.name}-") as scratch:
            return _run_in(Path(scratch) / "repo", target, options, again=False)
    work = Path(options.work).resolve() / target.name / "repo"
    again = options.again and (work / "mutants").is_dir()
    if again and any(
        (REPO_ROOT / s).read_bytes() != (work / s).read_bytes() for s in target.sources
    ):
        print(f"  {target.name}: a mutated source changed since the kept run; running afresh")
        again = False
    if again and _mutmut_table(target) not in (work / "pyproject.toml").read_text("utf-8"):
        # mutmut would keep the old test selection and mark every other mutant unchecked
        print(f"  {target.name}: its test files changed since the kept run; running afresh")
        again = False
    if not again:
        shutil.rmtree(work.parent, ignore_errors=True)
    return _run_in(work, target, options, again=again)


def _run_in(
    work: Path, target: Target, options: argparse.Namespace, *, again: bool
) -> dict[str, str]:
    mutmut = shutil.which("mutmut", path=str(Path(sys.executable).parent)) or "mutmut"
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    corpus = REPO_ROOT.parent / "shared" / "corpus"
    if corpus.is_dir():  # the tests run in work/mutants, which has no ../shared beside it
        env.setdefault("PHOTOGATE_CORPUS", str(corpus))
    command = [mutmut, "run", "--max-children", str(options.children)]
    if again:
        # Only the previous run's survivors, against the work tree's current tests (mutmut
        # copies tests/ again and collects stats for new tests); the sources must be unchanged.
        for name in ("tests", "bench"):
            shutil.rmtree(work / name, ignore_errors=True)
            shutil.copytree(
                REPO_ROOT / name, work / name, ignore=shutil.ignore_patterns("__pycache__")
            )
        _refresh_unmutated(work, target)
        previous = parse_results(_results(mutmut, work, env))
        rerun = ("survived", "no tests", "not checked")
        command += [n for n, status in previous.items() if status in rerun]
        if len(command) == 4:
            return previous
    else:
        work.mkdir(parents=True)
        scratch_copy(work)
        configure(work, target)
    # Its own process group, so that a timeout stops mutmut's test workers too.
    with open(work / "mutmut.log", "wb") as output:
        runner = subprocess.Popen(
            command,
            cwd=work,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            runner.wait(timeout=options.seconds)
        except subprocess.TimeoutExpired:
            os.killpg(runner.pid, signal.SIGTERM)
            runner.wait()
            print(f"  {target.name}: stopped after {options.seconds:.0f} s (results are partial)")
        else:
            if runner.returncode != 0:
                FAILED_TARGETS.append(target.name)
                status = f"mutmut failed (exit {runner.returncode})"
                print(f"  {target.name}: {status}; its output ends:")
                print(_tail(work / "mutmut.log"), flush=True)
    statuses = parse_results(_results(mutmut, work, env))
    for name, status in statuses.items():
        if options.show and status in ("survived", "no tests"):
            shown = subprocess.run(
                [mutmut, "show", name], cwd=work, capture_output=True, text=True, check=False
            ).stdout
            SURVIVOR_DIFFS[name] = shown
    return statuses


def _tail(log: Path, lines: int = 30) -> str:
    """The last lines of mutmut's output (its progress spinner's carriage returns dropped)."""
    text = log.read_text(encoding="utf-8", errors="replace").replace("\r", "\n")
    kept = [line for line in text.splitlines() if line.strip()][-lines:]
    return "\n".join(f"    {line}" for line in kept)


def _refresh_unmutated(work: Path, target: Target) -> None:
    """Copy the work tree's other agent/ modules into the kept run (and its mutants/ copy)."""
    for source in (REPO_ROOT / "agent").rglob("*"):
        relative = source.relative_to(REPO_ROOT)
        if not source.is_file() or "__pycache__" in relative.parts:
            continue
        if relative.as_posix() in target.sources:
            continue
        for base in (work, work / "mutants"):
            (base / relative).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, base / relative)


def _results(mutmut: str, work: Path, env: dict[str, str]) -> str:
    return subprocess.run(
        [mutmut, "results", "--all", "true"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    ).stdout


SURVIVOR_DIFFS: dict[str, str] = {}
FAILED_TARGETS: list[str] = []  # targets whose mutmut run ended in an error of its own


def parse_results(listing: str) -> dict[str, str]:
    """`mutmut results` lines -> {mutant name: status}."""
    found = {}
    for line in listing.splitlines():
        match = _RESULT_LINE.match(line)
        if match:
            found[match["name"]] = match["status"].strip()
    return found


KILLED = ("killed", "timeout", "segfault")


def stale_entries(
    equivalent: dict[str, str], statuses: dict[str, str], target: Target
) -> list[str]:
    """Listed equivalents of the target's modules that a test killed or mutmut no longer makes.

    mutmut numbers a function's mutants in order, so an edit to the function renumbers them
    and an entry may then name a different mutant: a killed one cannot be equivalent (it is
    counted as killed), a missing one is left over. Either way the entry needs a new look.
    """
    if not statuses:
        return []  # the run made no mutants (stopped before it began): nothing to compare
    found = []
    for mutant in sorted(equivalent):
        if module_of(mutant) not in target.sources:
            continue
        status = statuses.get(mutant)
        if status is None:
            found.append(f"{mutant} (no such mutant)")
        elif status in KILLED:
            found.append(f"{mutant} (killed, so not equivalent)")
    return found


def module_of(mutant: str) -> str:
    """agent.policy.decide.x_decide__mutmut_3 -> agent/policy/decide.py."""
    dotted = _FUNCTION.sub("", mutant)
    dotted = re.sub(r"\.x[ǁ]\w+.*$", "", dotted)  # methods: Class.xǁClassǁmethod__mutmut_N
    return dotted.replace(".", "/") + ".py"


def print_table(rows: dict[str, list[int]]) -> float:
    """Print one line per module; returns the lowest score (killed / checked non-equivalent)."""
    header = ("module", "mutants", "killed", "survived", "equiv.", "unchecked", "score")
    print("{:40} {:>7} {:>7} {:>8} {:>6} {:>9} {:>7}".format(*header), flush=True)
    worst = 1.0
    for module, (total, killed, survived, equiv, unchecked) in sorted(rows.items()):
        checked = killed + survived
        if checked:
            score = killed / checked
            shown = f"{score:7.1%}"
        else:  # every mutant equivalent: nothing to kill; none checked: nothing is known
            score = 1.0 if unchecked == 0 else 0.0
            shown = f"{'-' if unchecked == 0 else 'none':>7}"
        worst = min(worst, score)
        print(
            f"{module:40} {total:7} {killed:7} {survived:8} {equiv:6} {unchecked:9} {shown}",
            flush=True,
        )
    return worst


def _selects(word: str, target: Target) -> bool:
    """A target's exact name selects that target alone; another word, every name holding it."""
    if any(word == t.name for t in TARGETS):
        return word == target.name
    return word in target.name


def main(argv: list[str] | None = None) -> int:
    """Run the chosen targets and print the score table; exit 1 below TARGET_SCORE."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("words", nargs="*", help="run only targets whose name contains a word")
    parser.add_argument("--seconds", type=float, default=DEFAULT_SECONDS)
    parser.add_argument("--show", action="store_true", help="print each survivor's diff")
    parser.add_argument(
        "--children", type=int, default=1, help="mutmut's parallel test workers (default 1)"
    )
    parser.add_argument(
        "--work", help="keep each target's scratch copy in WORK/<target> (default: a temp dir)"
    )
    parser.add_argument(
        "--again",
        action="store_true",
        help="with --work: rerun only the kept run's survivors against the current tests",
    )
    args = parser.parse_args(argv)
    chosen = [t for t in TARGETS if not args.words or any(_selects(w, t) for w in args.words)]
    equivalent = load_equivalent()
    rows: dict[str, list[int]] = {}
    survivors: list[str] = []
    stale: list[str] = []
    for target in chosen:
        print(f"mutating {target.name}: {', '.join(target.sources)}", flush=True)
        statuses = run_target(target, args)
        stale += stale_entries(equivalent, statuses, target)
        for mutant, status in statuses.items():
            row = rows.setdefault(module_of(mutant), [0, 0, 0, 0, 0])
            row[0] += 1
            if mutant in equivalent and status not in KILLED:
                row[3] += 1
            elif status in KILLED:
                row[1] += 1
            elif status in ("survived", "no tests"):
                row[2] += 1
                survivors.append(mutant)
            else:  # "not checked": the time bound stopped the run first
                row[4] += 1
        print_table({m: r for m, r in rows.items() if m in target.sources})
    print("\nall targets:")
    worst = print_table(rows)
    for line in stale:
        print(f"  stale entry in {EQUIVALENT_FILE.name}: {line}")
    print(f"\n{len(survivors)} survivors (not listed as equivalent in {EQUIVALENT_FILE.name})")
    for mutant in survivors:
        print(f"  {mutant}")
        if args.show:
            print(SURVIVOR_DIFFS.get(mutant, ""))
    if FAILED_TARGETS:
        print(f"mutmut failed for {', '.join(FAILED_TARGETS)} (see above)")
    return 0 if worst >= TARGET_SCORE and not FAILED_TARGETS else 1


if __name__ == "__main__":
    sys.exit(main())
