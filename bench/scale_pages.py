"""Server-side render time of each page with runs on a large set (CIFAR-10's 60,000 images),
through Streamlit's AppTest (no browser): the first visit (dataset load included) and a
rerun, for Data, Pretrain, Explore (also a rerun after choosing an image, and after
"Prepare the export"), Evaluate, Invariance, Compare and Gallery.

    SSRL_HOME=HOME python -m bench.scale_pages [--dataset cifar10] [--skip-export]

Uses the finished runs already in HOME's store (make them with ``submit`` and ``worker``;
``python -m bench.fake_cifar10`` writes a CIFAR-10 where there is no network). Starts no
worker. Prints one JSON line per page, then a summary line.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MAIN = str(ROOT / "app" / "main.py")


def _timed(at, **kw) -> float:
    t0 = time.perf_counter()
    at.run(**kw)
    dt = time.perf_counter() - t0
    if at.exception:
        raise RuntimeError([e.value for e in at.exception])
    return round(dt, 2)


def _page(name: str, params: dict | None = None):
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(MAIN, default_timeout=900)
    for k, v in (params or {}).items():
        at.query_params[k] = v
    at.run()
    at.switch_page(f"../pages/{name}.py")
    return at


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))  # (its first sentence whole)
    ap.add_argument("--dataset", default="cifar10")
    ap.add_argument("--skip-export", action="store_true")
    return ap


def main() -> None:
    args = build_parser().parse_args()
    os.environ.setdefault("SSRL_NO_AUTOSTART", "1")
    from ssrl_core.runs.store import RunStore

    runs = [r for r in RunStore().list() if r["status"] == "done" and r["config"]["dataset"] == args.dataset]
    if not runs:
        raise SystemExit(f"no finished {args.dataset} run in {os.environ.get('SSRL_HOME')}: submit one and run a worker")
    ids = [r["id"] for r in runs]
    out = []

    def record(page: str, **numbers) -> None:
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        line = {"page": page, **numbers, "peak_rss_mb": rss}
        out.append(line)
        print(json.dumps(line), flush=True)

    at = _page("data", {"dataset": args.dataset})
    first = _timed(at)
    record("data", first_s=first, rerun_s=_timed(at))
    at = _page("pretrain", {"dataset": args.dataset})
    first = _timed(at)
    record("pretrain", first_s=first, rerun_s=_timed(at))

    at = _page("explore", {"run": ids[0]})
    first = _timed(at)
    rerun = _timed(at)
    at.session_state[f"explore_row_{ids[0]}"] = 123  # what a click on a point does
    click = _timed(at)
    numbers = {"first_s": first, "rerun_s": rerun, "choose_image_s": click}
    if not args.skip_export:
        at.button(key="explore_export").click()
        numbers["prepare_export_s"] = _timed(at)
        numbers["rerun_after_export_s"] = _timed(at)
    record("explore", **numbers)

    for name in ("evaluate", "invariance", "compare", "gallery"):
        at = _page(name, {"runs": ",".join(ids[:6])} if name != "gallery" else {})
        first = _timed(at)
        record(name, first_s=first, rerun_s=_timed(at))
    print(json.dumps({"bench": "scale_pages", "dataset": args.dataset, "runs": len(ids), "pages": out}), flush=True)


if __name__ == "__main__":
    main()
