"""What watching a run costs: a digits SimCLR run trained while N browser tabs show it on
the Pretrain page (its live panel reruns every 2 s), against the same run with no tab
open. Measures how long the run takes and how much CPU the app's server, the headless
browser and the worker spend meanwhile.

    python -m bench.watching [--viewers 0,1,4] [--epochs 3] [--streamlit-gc]

Each case gets a fresh SSRL_HOME (one numba cache, compiled first), a served app (``app.serve.served_app``, the repository's
``.streamlit/config.toml``) and the worker the app starts. ``--streamlit-gc`` serves it with
Streamlit's default ``runner.postScriptGC = true`` instead of the repository's ``false``, to
show what that setting is for. CPU seconds come from /proc (Linux) for each group of
processes over the run's life, from its claim to its end. Prints one JSON line per case.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tempfile
import time

from app.serve import CHROMIUM, CHROMIUM_ARGS, served_app, stop_workers


def cpu_seconds() -> dict[str, float]:
    """CPU seconds (user + system) so far of the live processes, by kind: server, browser, worker."""
    tick = os.sysconf("SC_CLK_TCK")
    out: dict[str, float] = {}
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:  # ended meanwhile
            continue
        kind = ("worker" if "ssrl_core worker" in cmd else "server" if "streamlit run" in cmd else
                "browser" if "chrom" in cmd else None)
        if kind:
            out[kind] = out.get(kind, 0.0) + (int(fields[11]) + int(fields[12])) / tick
    return out


def one_case(viewers: int, epochs: int, streamlit_gc: bool) -> dict:
    from playwright.sync_api import sync_playwright

    from ssrl_core.config import RunConfig
    from ssrl_core.runs.store import RunStore

    env = {k: v for k, v in os.environ.items() if k != "SSRL_NO_AUTOSTART"}
    env["SSRL_HOME"] = os.environ["SSRL_HOME"] = tempfile.mkdtemp(prefix="ssrl-watching-")
    if streamlit_gc:
        env["STREAMLIT_RUNNER_POST_SCRIPT_GC"] = "true"
    try:
        with served_app(env) as url, sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            pages = []
            for _ in range(max(viewers, 1)):  # one page starts the app's worker even with no viewer
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                page.set_default_timeout(120_000)
                page.goto(url + "/pretrain")
                page.get_by_role("button", name="Launch").wait_for()
                pages.append(page)
            if not viewers:
                pages[0].goto("about:blank")
            store = RunStore()
            rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=epochs), nickname="bench")
            while store.get(rid)["status"] == "queued":
                time.sleep(0.1)
            t0, before = time.time(), cpu_seconds()
            if viewers:  # every tab shows the run (a page polls only while it has an active run to show)
                for page in pages:
                    page.reload()
                    page.get_by_text(re.compile(r"epoch \d+/\d+ · \d+%")).first.wait_for()
            while store.get(rid)["status"] == "running":
                time.sleep(0.2)
            seconds, after = time.time() - t0, cpu_seconds()
            run = store.get(rid)
            browser.close()
    finally:
        stop_workers()
    assert run["status"] == "done", run["error"]
    cpu = {k: round(after.get(k, 0.0) - before.get(k, 0.0), 1) for k in ("server", "browser", "worker")}
    return {"bench": "watching", "viewers": viewers, "epochs": epochs,
            "streamlit_post_script_gc": streamlit_gc, "run_seconds": round(seconds, 1),
            "train_seconds": round(run["summary"]["train_seconds"], 1), "cpu_seconds": cpu,
            "server_cpu_share": round(cpu["server"] / seconds, 3)}


def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--viewers", default="0,1,4",
                    help="comma-separated numbers of tabs watching the run, one case each (default 0,1,4)")
    ap.add_argument("--epochs", type=int, default=3, help="epochs of the digits SimCLR run (default 3)")
    ap.add_argument("--streamlit-gc", action="store_true",
                    help="serve with Streamlit's default runner.postScriptGC = true (a full garbage collection "
                         "after every rerun)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.path.exists(CHROMIUM):
        print(f"error: needs Debian's chromium at {CHROMIUM}", file=sys.stderr)
        return 2
    # one numba cache for every case, compiled before the first: a fresh home's worker would
    # otherwise compile UMAP's layout beside the first case's run
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="ssrl-watching-numba-"))
    os.environ["SSRL_HOME"] = tempfile.mkdtemp(prefix="ssrl-watching-")
    from ssrl_core.runs.worker import warm_caches

    if (proc := warm_caches()) is not None:
        proc.wait()
    for n in (int(v) for v in args.viewers.split(",")):
        print(json.dumps(one_case(n, args.epochs, args.streamlit_gc)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
