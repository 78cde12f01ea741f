"""How a probe job's fine-tuning and a training run share a CPU, by the job's torch threads.

A probe job (Evaluate's fine-tuning) often runs while the worker trains someone's run. Each
process takes every core by default; on 2 cores the two then wait on each other. This trains
a short SimCLR run on digits, then times one fine-tuning step of it (5 labels per class, 3
draws of 200 steps) alone, and beside a background training run: both with every core, the
job with 1 thread (as ``jobs.share_cores`` gives it beside one training run on 2 cores), and
both with 1 (what a worker that gave up a thread to the job would do), with the background
run's own training time in each case and alone. Prints JSON.

    python -m bench.probe_threads [--epochs 15] [--budget 5]

Measured on the 2-core development machine, 2026-12-04 (docs/performance.md, "A probe job
beside a training run"): the step alone 20.1 s; beside training, 50 to 165 s with 2 threads
each, 42 to 48 s with the job at 1, 30 to 31 s with both at 1, and the training 203.1, 97.0
and 48.1 s where it took 33.4 s alone (47.4 s at 1 thread): ``evaluate.jobs.share_cores`` and
the worker's ``_share_cores`` follow.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def time_step(run_dir: str, budget: int, threads: int) -> dict:
    """One fine-tuning curve point of ``run_dir`` in this process, with ``threads`` (0: torch's default)."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from ssrl_core.evaluate.suite import classifier_curve_point
    from ssrl_core.train import load_trained

    trained = load_trained(run_dir, "auto")
    t0 = time.perf_counter()
    point = classifier_curve_point(trained, budget, "label", 3, 200, pretrained=True)
    return {"threads": torch.get_num_threads(), "seconds": round(time.perf_counter() - t0, 1),
            "accuracy": round(point["mean"], 4)}


def _python(*args: str, out=None) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, *args], cwd=ROOT, env=env, stdout=out or subprocess.PIPE, text=True)


def _step(run_dir: str, budget: int, threads: int) -> dict:
    p = _python("-m", "bench.probe_threads", "--step", run_dir, "--budget", str(budget), "--threads", str(threads))
    return json.loads(p.communicate()[0].strip().splitlines()[-1])


def _train(out: Path, epochs: int, basic: bool = True, threads: int = 0) -> subprocess.Popen:
    """``train`` in a new process; ``threads``: its torch's (0: torch's default), as a worker sets them."""
    args = ["train", "--dataset", "digits", "--method", "simclr", "--epochs", str(epochs),
            *(["--evaluation", "basic"] if basic else []), "--out", str(out)]
    code = (f"import sys, torch; torch.set_num_threads({threads}) if {threads} else None; "
            f"from ssrl_core.cli import main; sys.exit(main({args!r}))")
    return _python("-c", code, out=subprocess.DEVNULL)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m bench.probe_threads", description=__doc__.split("\n\n")[0])
    p.add_argument("--epochs", type=int, default=15, help="epochs of the background training run (default 15)")
    p.add_argument("--budget", type=int, default=5, help="labels per class of the timed step (default 5)")
    p.add_argument("--step", help=argparse.SUPPRESS)
    p.add_argument("--threads", type=int, default=0, help=argparse.SUPPRESS)
    return p


def main() -> None:
    a = build_parser().parse_args()
    if a.step:
        print(json.dumps(time_step(a.step, a.budget, a.threads)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["SSRL_HOME"] = str(Path(tmp) / "home")
        run = Path(tmp) / "run"
        _train(run, 3).wait()
        out = {"cpu_count": os.cpu_count(), "budget": a.budget, "alone": _step(str(run), a.budget, 0)}
        # (the job's threads, the training's): 0 is torch's default, every core
        for job, train in ((0, 0), (1, 0), (1, 1)):
            name = f"job_{job or 'all'}_training_{train or 'all'}_threads"
            bg = _train(Path(tmp) / name, a.epochs, threads=train)
            time.sleep(10)  # past its start-up, into training
            steps = [_step(str(run), a.budget, job)]
            while bg.poll() is None:
                steps.append(_step(str(run), a.budget, job))
            summary = json.loads((Path(tmp) / name / "summary.json").read_text())
            out[name] = {"steps": steps, "training_seconds": round(summary["train_seconds"], 1)}
        for train in (0, 1):
            bg = _train(Path(tmp) / f"alone{train}", a.epochs, threads=train)
            bg.wait()
            out[f"training_alone_{train or 'all'}_threads_seconds"] = round(
                json.loads((Path(tmp) / f"alone{train}" / "summary.json").read_text())["train_seconds"], 1)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
