"""What running a run through Ray costs over the local worker, end to end.

The same run is submitted to a fresh SSRL_HOME and executed by ``python -m ssrl_core worker``
(local) and by ``python -m ssrl_core worker --backend ray`` (a local Ray instance on
127.0.0.1, or the cluster at RAY_ADDRESS). For each backend, a first run (cold: the worker
or dispatcher, Ray and the task's process all start) and a second one right after it
(warm), each measured from submit to done, next to the run's own ``total_seconds``; the
difference is the overhead. UMAP's numba cache is warmed once beforehand so that neither
side compiles it. Prints one JSON line per backend and run.

    python -m bench.ray_overhead [--dataset digits] [--method simclr] [--epochs 2] [--batch-size 256]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _until_ended(store, run_id: str, timeout: float = 900) -> dict:
    end = time.time() + timeout
    while time.time() < end:
        run = store.get(run_id)
        if run["status"] in ("done", "failed", "cancelled"):
            return run
        time.sleep(0.1)
    raise TimeoutError(f"run {run_id} did not end within {timeout} s")


def measure(backend: str, home: Path, cfg, env: dict) -> list[dict]:
    from ssrl_core.runs.store import RunStore

    os.environ["SSRL_HOME"] = str(home)
    store = RunStore()
    t_start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ssrl_core", "worker", "--backend", backend, "--idle-exit", "600"],
                            cwd=ROOT, env=dict(env, SSRL_HOME=str(home)), stdout=open(home / "bench.log", "ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)
    out = []
    try:
        for which in ("cold", "warm"):
            t0 = time.perf_counter() if which == "warm" else t_start
            run = _until_ended(store, store.submit(cfg))
            wall = time.perf_counter() - t0
            if run["status"] != "done":
                raise RuntimeError(f"{backend} run ended {run['status']}: {run['error']}")
            total = run["summary"]["total_seconds"]
            out.append({"bench": "ray_overhead", "backend": backend, "run": which, "submit_to_done_s": round(wall, 2),
                        "run_total_seconds": total, "overhead_s": round(wall - total, 2),
                        "train_seconds": run["summary"]["train_seconds"], "device": run["summary"]["device"]})
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(60)
    return out


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", default="digits")
    ap.add_argument("--method", default="simclr")
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    return ap


def main() -> None:
    args = build_parser().parse_args()
    from ssrl_core.config import RunConfig

    cfg = RunConfig(dataset=args.dataset, method=args.method, encoder="cnn-small", epochs=args.epochs,
                    batch_size=args.batch_size)
    with tempfile.TemporaryDirectory() as tmp:
        env = dict(os.environ, PYTHONPATH=str(ROOT), NUMBA_CACHE_DIR=str(Path(tmp) / "numba"))
        subprocess.run([sys.executable, "-m", "ssrl_core.evaluate.project", "--warm"], cwd=ROOT, env=env, check=True)
        os.environ["NUMBA_CACHE_DIR"] = env["NUMBA_CACHE_DIR"]
        for backend in ("local", "ray"):
            home = Path(tmp) / backend
            home.mkdir()
            for line in measure(backend, home, cfg, env):
                print(json.dumps({**line, "dataset": args.dataset, "method": args.method, "epochs": args.epochs}),
                      flush=True)


if __name__ == "__main__":
    main()
