"""The README's screenshots, made from runs at the default budget the way a teacher would
make them (the browser tests' runs are of one epoch, too short to show what a method learns).

    python -m bench.screenshots [--out assets/screenshots] [--home DIR] [--timeout 3600]

In a fresh SSRL_HOME (``--home`` reuses one, and the runs it already holds), serves the app
and drives headless Chromium through it: opens the ``four-families`` lesson from a
teacher's link (``?lesson=four-families&hide=controls,nav``), launches it (random,
supervised, inpainting, rotation, SimCLR and DeepCluster on digits, 10 epochs, seed 0; the
app's worker trains them: about 5 minutes on 2 CPU cores) and waits for its verdict. Then
it opens Compare and Evaluate on the lesson's four pretext tasks, Invariance on SimCLR and
rotation, and Explore on SimCLR with one image's neighbours, and saves a full-page
screenshot of each into ``--out``: ``lesson-four-families``, ``compare``, ``evaluate``,
``invariance`` and ``explore`` (``pretrain``, a run's live progress, comes from
``tests/test_browser.py`` with ``SSRL_SCREENSHOTS``). Prints one JSON line: the verdict,
each run's id, kNN and linear accuracy, the files written and the wall time.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import tempfile
import time
from pathlib import Path

from app.serve import CHROMIUM, CHROMIUM_ARGS, served_app, stop_workers

LESSON = "four-families"
FAMILIES = ("simclr", "rotation", "inpainting", "deepcluster")  # one per family, as Compare shows them


def _shot(page, out: Path, name: str) -> Path:
    """The page as one picture: Streamlit scrolls its main column inside the window, so a
    full-page screenshot is only the window; the window is made as tall as the column first."""
    width = page.viewport_size["width"]
    tall = page.evaluate("() => { const m = document.querySelector('[data-testid=\"stMain\"]'); "
                         "m.scrollTo(0, 0); return m.scrollHeight; }")  # from the top, however far it was scrolled
    page.set_viewport_size({"width": width, "height": min(tall, 8000)})
    time.sleep(2)  # Streamlit and Plotly lay out again for the new size
    page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
    path = out / f"{name}.png"
    page.screenshot(path=str(path))
    page.set_viewport_size({"width": width, "height": 1000})
    return path


def _lesson_runs() -> dict[str, dict]:
    """The newest finished run of each of the lesson's methods, with its settings (the
    lesson reused or trained them)."""
    from ssrl_core.lessons import load_by_name
    from ssrl_core.runs.store import RunStore

    lesson = load_by_name(LESSON)
    runs = {}
    for name, cfg in lesson.runs.items():
        for r in RunStore().list(limit=100_000):
            if r["status"] == "done" and r["method"] == cfg.method and r["dataset"] == cfg.dataset \
                    and r["epochs"] == cfg.epochs and r["config"].get("seed", 0) == cfg.seed:
                runs[name] = r
                break
    return runs


def telling_query(runs: dict[str, dict]) -> int:
    """Compare's and Explore's query image: the first whose 8 neighbours under SimCLR nearly
    all share its label while under some other pretext task at most half do, so the picture
    shows what the tasks learned differently (row 0 when none is)."""
    from ssrl_core.data import load_dataset
    from ssrl_core.runs.artifacts import RunArtifacts

    labels = load_dataset("digits").labels.numpy()
    arts = {m: RunArtifacts(runs[m]["run_dir"]) for m in FAMILIES}
    for row in range(len(labels)):
        share = {m: sum(int(labels[i]) == int(labels[row]) for i, _ in a.neighbours(row, k=8)) for m, a in arts.items()}
        if share["simclr"] >= 7 and min(share.values()) <= 4:
            return row
    return 0


def make(page, url: str, out: Path, timeout_s: float) -> dict:
    written = []
    page.goto(f"{url}/lessons?lesson={LESSON}&hide=controls,nav")
    launch = page.get_by_role("button", name=re.compile(r"Launch this lesson"))
    # its button, or the verdict of a lesson whose runs are all here: "Not run yet" can come before the button is
    # drawn, and a count taken then found no button and waited for a verdict that never came
    launch.or_(page.get_by_text(re.compile(r"^Verdict: "))).first.wait_for()
    if launch.count():
        launch.click()
        page.get_by_text(re.compile(r"Verdict: (pass|partial|fail)")).wait_for(timeout=timeout_s * 1000)
    verdict = page.get_by_text(re.compile(r"Verdict: ")).first.inner_text()
    page.get_by_text("Linear readout with few labels").wait_for()
    written.append(_shot(page, out, f"lesson-{LESSON}"))

    runs = _lesson_runs()
    missing = [m for m in FAMILIES if m not in runs]
    if missing:
        raise RuntimeError(f"the lesson ended without finished runs of {', '.join(missing)}")
    ids = [runs[m]["id"] for m in FAMILIES]
    query_row = telling_query(runs)

    page.goto(f"{url}/compare?runs={','.join(ids)}")
    page.get_by_role("heading", name="Compare runs").wait_for()
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 7")  # 3 curves + 4 maps
    query = page.get_by_role("spinbutton", name=re.compile(r"^Image #"))  # images' alt texts say "image #" too
    query.fill(str(query_row))
    query.press("Enter")
    page.get_by_text(re.compile(rf"^query #{query_row} · ")).wait_for()  # readouts.query_caption
    page.get_by_text(re.compile(r"share the query's label")).nth(len(ids) - 1).wait_for()
    written.append(_shot(page, out, "compare"))

    page.goto(f"{url}/evaluate?runs={','.join(ids)}")
    page.get_by_role("heading", name="Label efficiency").wait_for()
    page.get_by_text("random encoder, linear").first.wait_for()
    written.append(_shot(page, out, "evaluate"))

    pair = [runs["simclr"]["id"], runs["rotation"]["id"]]  # invariance bought by views vs by a transformation task
    page.goto(f"{url}/invariance?runs={','.join(pair)}")
    page.get_by_role("heading", name="Invariance per augmentation op").wait_for()
    page.get_by_role("heading", name="Can the rotation of an input be read off its features?").wait_for()
    page.get_by_text(re.compile(r"^Rotation predictable: ")).wait_for()  # its caption, under the runs' scores
    page.wait_for_selector(".js-plotly-plot .nsewdrag")  # the ops' bars
    time.sleep(1)  # plotly finishes its layout
    written.append(_shot(page, out, "invariance"))

    page.goto(f"{url}/explore?run={runs['simclr']['id']}&image={query_row}")
    page.get_by_text("and its 8 nearest neighbours").wait_for()
    page.get_by_text(re.compile(r"· sim\s-?\d\.\d{3}$")).nth(7).wait_for()
    written.append(_shot(page, out, "explore"))

    return {
        "verdict": verdict.strip(),
        "runs": {name: {"id": r["id"], "knn_accuracy": (r["summary"] or {}).get("knn_accuracy"),
                        "linear_accuracy": (r["summary"] or {}).get("linear_accuracy")} for name, r in runs.items()},
        "query_image": query_row,
        "files": [str(p) for p in written],
    }


def build_parser() -> argparse.ArgumentParser:
    """The command's flags (the docs' commands are checked against it, tests/test_docs.py)."""
    ap = argparse.ArgumentParser(prog="python -m bench.screenshots", description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="assets/screenshots", help="folder for the PNGs (default: assets/screenshots)")
    ap.add_argument("--home", help="SSRL_HOME to use (default: a fresh temporary one); its finished runs are reused")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the lesson's runs (default 3600)")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not Path(CHROMIUM).exists():
        print(f"error: needs Debian's chromium at {CHROMIUM} (apt-get install -y chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    home = Path(args.home) if args.home else Path(tempfile.mkdtemp(prefix="ssrl-shots-"))
    home.mkdir(parents=True, exist_ok=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    os.environ["SSRL_HOME"] = str(home)  # this process reads the store too
    env = {k: v for k, v in os.environ.items() if k != "SSRL_NO_AUTOSTART"}  # the app starts its worker
    t0 = time.perf_counter()
    try:
        with open(home / "streamlit.log", "ab") as log, served_app(env, log) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1300, "height": 1000})
            page.set_default_timeout(120_000)
            result = make(page, url, out, args.timeout)
            browser.close()
    finally:
        stop_workers(signal.SIGTERM)  # the worker the app started
    print(json.dumps({**result, "home": str(home), "wall_s": round(time.perf_counter() - t0, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
