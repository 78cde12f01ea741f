"""How long the command line takes to answer, a new process each time: the commands a teacher
watching a class's queue runs again and again (`runs`, `cancel`, ...), which import no PyTorch,
beside one that needs the methods' registry (`list methods`) and a typo refused by `submit`.
In a fresh SSRL_HOME (a temporary folder, removed after) with one queued run in its store; each
command run ``--repeats`` times, the median kept. Prints one JSON line: seconds per command.

    python -m bench.cli_start [--repeats 3]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def timed(argv: list[str], env: dict) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ssrl_core", *argv], cwd=ROOT, env=env, capture_output=True,
                         text=True)
    return time.perf_counter() - t0, res


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--repeats", type=int, default=3, help="runs of each command, the median kept (default 3)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    home = tempfile.mkdtemp(prefix="ssrl-cli-start-")
    env = {**os.environ, "SSRL_HOME": home, "SSRL_NO_AUTOSTART": "1", "PYTHONPATH": str(ROOT)}
    try:
        _, res = timed(["submit", "--dataset", "digits", "--method", "random"], env)
        rid = res.stdout.strip().splitlines()[0]
        commands = {"--help": ["--help"], "runs": ["runs"], "runs --json": ["runs", "--json"],
                    "cancel ID": ["cancel", rid], "resume ID": ["resume", rid],
                    "list methods": ["list", "methods"],
                    "submit --method simclear (refused)": ["submit", "--dataset", "digits", "--method", "simclear"]}
        # each cancel of the queued run is undone by a resume, and each resume timed by a cancel, untimed
        undo = {"cancel ID": ["resume", rid], "resume ID": ["cancel", rid]}
        out, failed = {}, {}
        for name, command in commands.items():
            if name == "resume ID":
                timed(["cancel", rid], env)
            times = []
            for _ in range(args.repeats):
                t, res = timed(command, env)
                if res.returncode != (2 if "refused" in name else 0):
                    failed[name] = res.stderr.strip()[-300:]
                if name in undo:
                    timed(undo[name], env)
                times.append(t)
            out[name] = round(statistics.median(times), 3)
        t, res = timed(["delete", rid], env)  # once: the run (cancelled by the last resume's undo) goes
        out["delete ID"] = round(t, 3)
        if res.returncode:
            failed["delete ID"] = res.stderr.strip()[-300:]
    finally:
        shutil.rmtree(home, ignore_errors=True)
    print(json.dumps({"seconds": out, "repeats": args.repeats, "cpus": os.cpu_count(), "failed": failed}))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
