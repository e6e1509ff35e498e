"""kill -9 during bursts of quarantines, many times: nothing lost, nothing duplicated.

The e2e test (tests/test_agent_e2e.py) kills the agent once; this bench does it `--rounds`
times (issue 13: 500). Each round starts a real `photogate run --headless` on the same
home and folder, writes a burst of booby-trapped JPEGs, SIGKILLs the agent after a random
delay (seeded), and checks every file written so far: it is at its path or in the vault
with its SHA-256 (never both, never neither), and no path has two vault items. After the
last round one more agent must move every file still in place into the vault.

    .venv/bin/python bench/kill9.py [--rounds 500] [--burst 14] [--seed 13]

Exit 0 when no round lost or duplicated a file.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import shutil
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.vault.store import Vault
from tests.agent_harness import AgentProcess, make_jpeg_with_zip, wait_for, write_plain

MAX_KILL_DELAY_SECONDS = 0.6  # the kill lands at a random moment of the burst, up to this
FINAL_DRAIN_SECONDS = 300.0  # seconds the last agent may take to move what is left
POLICY = (
    '[policy]\nversion = "bench-kill9"\n\n[watch]\nuse_default_folders = false\n'
    "settle_seconds = 0.3\nsweep_interval_seconds = 3600.0\n\n[ui]\nnotifications = false\n"
)


def check(downloads: Path, vault: Vault, written: dict[str, str]) -> list[str]:
    """Problems with the files written so far (empty when every one is accounted for)."""
    items = vault.items()
    by_path = Counter(item.original_path for item in items)
    sha_of = {item.original_path: item.sha256 for item in items}
    problems = [f"two items for {path}" for path, n in by_path.items() if n > 1]
    for path, sha in written.items():
        here = Path(path).exists()
        stored = path in sha_of
        if here and stored:
            problems.append(f"both in place and in the vault: {path}")
        elif not here and not stored:
            problems.append(f"lost: {path}")
        elif stored and sha_of[path] != sha:
            problems.append(f"wrong content stored for {path}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=500)
    parser.add_argument("--burst", type=int, default=14, help="files per round")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="photogate-kill9-"))
    downloads, home = work / "Downloads", work / "home"
    downloads.mkdir()
    config = work / "config.toml"
    config.write_text(POLICY, encoding="utf-8")
    written: dict[str, str] = {}
    problems: list[str] = []
    interrupted = 0
    started = time.monotonic()
    try:
        for round_number in range(args.rounds):
            agent = AgentProcess(home, [downloads], config).start()
            for index in range(args.burst):
                path = downloads / f"dropper-{round_number:04d}-{index:02d}.jpg"
                data = make_jpeg_with_zip(round_number * 1000 + index)
                write_plain(path, data)
                written[str(path)] = hashlib.sha256(data).hexdigest()
            time.sleep(rng.uniform(0.0, MAX_KILL_DELAY_SECONDS))
            agent.kill()
            # Opening the vault recovers what the kill left half done, as the next agent's would.
            vault = Vault(home / "vault")
            left = sum(1 for path in written if Path(path).exists())
            interrupted += int(left > 0)
            found = check(downloads, vault, written)
            problems += [f"round {round_number}: {problem}" for problem in found]
            if (round_number + 1) % 50 == 0:
                print(
                    f"round {round_number + 1}: {len(written)} files, {left} still in place,"
                    f" {len(problems)} problems, {time.monotonic() - started:.0f} s",
                    flush=True,
                )
        agent = AgentProcess(home, [downloads], config).start()
        try:
            wait_for(lambda: not any(downloads.iterdir()), FINAL_DRAIN_SECONDS, "every file moved")
        finally:
            agent.stop()
        problems += [
            f"after the last start: {p}" for p in check(downloads, Vault(home / "vault"), written)
        ]
        stored = len(Vault(home / "vault").items())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(
        f"{args.rounds} kill -9 rounds, {len(written)} files, {interrupted} rounds killed with"
        f" files still waiting; vault at the end: {stored} items; problems: {len(problems)}"
    )
    for problem in problems[:20]:
        print("  " + problem)
    ok = not problems and stored == len(written)
    print("nothing lost, nothing duplicated" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
