"""End to end in headless Chromium: the real app, the real worker it starts, real clicks.

Skipped when Debian's chromium (/usr/bin/chromium) or Playwright is missing; `.ci/run`
installs both. With ``SSRL_SCREENSHOTS=DIR`` the launch test also saves the README's
Pretrain screenshot (``SSRL_SCREENSHOTS=assets/screenshots python -m pytest
tests/test_browser.py -k launch``); the others show what runs learned, so they come from
runs at the default budget: ``python -m bench.screenshots``.
"""
from __future__ import annotations

import os
import re
import signal
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from app.serve import CHROMIUM, served_app, stop_workers
from app.screen import LIVE_CLASS
from app.widgets import RUN_ACTIONS
from ssrl_core.runs.store import RunStore
from ssrl_core.runs.worker import worker_pids

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]


def _served(ssrl_home, base_path: str = "", worker: bool = True):
    """The served app's URL (under ``base_path``), starting its own worker unless ``worker`` is false."""
    env = {k: v for k, v in os.environ.items() if k != "SSRL_NO_AUTOSTART"}  # the app starts its worker
    env["SSRL_HOME"] = str(ssrl_home)
    if not worker:
        env["SSRL_NO_AUTOSTART"] = "1"
    log_path = ssrl_home.parent / "streamlit.log"
    try:
        with open(log_path, "wb") as log:
            try:  # (SIGKILL: the test's store is thrown away)
                with served_app(env, log, stop=signal.SIGKILL, base_path=base_path) as url:
                    yield url
            except RuntimeError as e:
                raise AssertionError(f"{e}: " + log_path.read_text()[-2000:]) from None
    finally:
        stop_workers()  # the workers the app started


@pytest.fixture
def app_url(ssrl_home):
    yield from _served(ssrl_home)


@pytest.fixture
def app_url_under_a_path(ssrl_home):
    """The app as a proxy serves it under a path of a shared host (JupyterHub's /user/NAME/proxy/PORT/)."""
    yield from _served(ssrl_home, "user/ada/proxy/8501")


@pytest.fixture
def page(_chromium):
    """A headless Chromium tab, offline but for this machine: the app must work in a classroom without the
    internet, so every test using it also fails when a page asked for anything from elsewhere (a font, an icon,
    a script from a CDN), naming what."""
    elsewhere = []

    def only_here(route):
        if urlsplit(route.request.url).hostname in ("127.0.0.1", "localhost") or \
                not route.request.url.startswith("http"):
            route.continue_()
        else:
            elsewhere.append(route.request.url)
            route.abort()

    context = _chromium.new_context(viewport={"width": 1400, "height": 1000})  # a context: room for more tabs
    context.route("**/*", only_here)
    pg = context.new_page()
    pg.set_default_timeout(60_000)
    yield pg
    for other in _chromium.contexts:  # its own and any it opened (a phone's)
        other.close()
    assert not elsewhere, f"the app asked for something off this machine: {sorted(set(elsewhere))}"


# resolves once the boxes of the page's blocks, widgets and charts have stayed the same for 15 frames in a row
_SETTLED = """() => new Promise(done => {
    let last = '', same = 0;
    const look = () => {
        const now = JSON.stringify([...document.querySelectorAll(
            '[data-testid="stMain"] [data-testid], .js-plotly-plot .main-svg')].map(e => {
                const r = e.getBoundingClientRect(); return [r.x, r.y, r.width, r.height]; }));
        same = now === last ? same + 1 : 0;
        last = now;
        if (same >= 15) done(true); else requestAnimationFrame(look);
    };
    requestAnimationFrame(look);
})"""


def _settled(page) -> None:
    """Wait until the app's script run has ended and the page's layout has stopped moving (Streamlit's columns
    after a resize, plotly's layout after a chart is drawn): what a fixed second of sleep waited for, in the
    0.2 to 0.3 s it takes, and for as long as it takes on a loaded machine."""
    page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', state="attached")
    page.evaluate(_SETTLED)


def _shot(page, name: str) -> None:
    folder = os.environ.get("SSRL_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.wait_for_function("Array.from(document.images).every(i => i.complete && i.naturalWidth > 0)")
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def _click_map_point(page, i: int) -> int:
    """Click a point of the map's first trace, from index ``i`` on, that no other point covers.

    Points can sit on top of each other in a UMAP layout, and a click picks the topmost, so
    the first point at least 8 px from every other one is clicked (which one depends on the
    layout, never on timing). Returns the dataset row it stands for.
    """
    page.wait_for_selector(".js-plotly-plot .scatterlayer, .js-plotly-plot canvas")
    _settled(page)  # plotly finishes its first layout
    xy = page.evaluate(
        """(i) => {
          const gd = document.querySelector('.js-plotly-plot');
          const fl = gd._fullLayout, r = gd.getBoundingClientRect();
          const px = (x, y) => [r.left + fl._size.l + fl.xaxis.l2p(x), r.top + fl._size.t + fl.yaxis.l2p(y)];
          const all = gd._fullData.flatMap(t => Array.from(t.x || [], (x, k) => px(x, t.y[k])));
          const tr = gd._fullData[0];
          for (let j = i; j < tr.x.length; j++) {
            const [x, y] = px(tr.x[j], tr.y[j]);
            const near = all.filter(([a, b]) => Math.hypot(a - x, b - y) < 8).length;
            if (near === 1) return {x, y, row: tr.customdata[j]};  // only itself
          }
          throw new Error('no uncovered point in the first trace from index ' + i);
        }""", i)
    page.mouse.click(xy["x"], xy["y"])
    return int(xy["row"])


def test_launch_watch_and_explore_in_a_real_browser(app_url, page, ssrl_home):
    store = RunStore()
    page.goto(app_url + "/pretrain")
    page.get_by_role("button", name="Launch").wait_for()
    # Launch on a projector's first screen: the form was one column beside the live panel, and Launch 834 px down a
    # 1280x720 page (the panel's column empty while nothing trained)
    for size in PROJECTORS:
        page.set_viewport_size(size)
        _settled(page)  # Streamlit lays the columns out again
        launch = page.get_by_role("button", name="Launch").bounding_box()
        assert launch["y"] + launch["height"] <= size["height"], (size, launch)
    # the live panel's region for screen readers, there before anything trains: a screen reader tells the changes of a
    # region it has, not one put on the page with its text (``st.html`` replaced its node at each change)
    assert page.evaluate(_LIVE_KEPT) == "Nothing is training right now."
    epochs = page.get_by_label("Epochs")
    # a bounded box kept its last valid value when one outside was typed (with a red note the server never
    # heard of), and Launch trained 10 epochs while the box showed 100000
    epochs.fill("100000")
    epochs.press("Enter")
    page.get_by_text("Can't launch: Epochs must be from 0 to 1000; the box says 100000").wait_for()
    assert page.get_by_role("button", name="Launch").is_disabled() and store.list() == []
    epochs.fill("3")
    epochs.press("Enter")
    page.get_by_text("Can't launch").wait_for(state="detached")
    page.get_by_role("button", name="Launch").click()
    page.get_by_text(re.compile(r"Queued run \d{8}-")).wait_for()
    [run] = store.list()
    assert run["epochs"] == 3 and run["method"] == "simclr"
    # and the run it queued right under it, on that first screen too: its Cancel in the live panel
    cancel = page.get_by_role("button", name="Cancel")
    cancel.wait_for()
    assert cancel.bounding_box()["y"] + cancel.bounding_box()["height"] <= PROJECTORS[-1]["height"]
    page.set_viewport_size({"width": 1400, "height": 1000})  # the README's picture of the page, below

    # live progress reaches the page while the worker trains, without a reload; and a worker killed after the first
    # epoch is replaced from the open page (it waited for a reload, the run frozen at "training" meanwhile)
    saw_progress = shot = killed = saw_replacing = False
    deadline = time.time() + 300
    while time.time() < deadline:
        row = store.get(run["id"])
        status = row["status"]
        if not killed and status == "running" and row["epoch"] >= 1 and (pids := worker_pids()):
            os.kill(pids[0], signal.SIGKILL)
            killed = pids[0]
        saw_replacing = saw_replacing or bool(killed and page.get_by_text(re.compile(
            "The worker stopped; a new one is starting .* if none does, " + re.escape(str(ssrl_home / "worker-0.log")))
                                                                          ).count())
        if not saw_progress and page.get_by_text(re.compile(r"in epoch \d of 3 · [1-9]\d*% of the training done|"
                                                            r"training done \(epoch 3/3\), evaluating now")).count():
            saw_progress = True
        if saw_progress and not shot and (page.locator(".js-plotly-plot .scatterlayer .trace").count()
                                          or status not in ("queued", "running")):
            shot = True  # the README's picture, with the loss curve drawn (its box was blank at the first progress)
            _shot(page, "pretrain")
            # the card's numbers in the panel beside the form, labels whole on a projector (four equal columns cut
            # "effective rank" to "effective r…" at 1280 px)
            for size in PROJECTORS:
                page.set_viewport_size(size)
                _settled(page)
                labels = page.locator('[data-testid="stMain"] [data-testid="stMetricLabel"]').all_inner_texts()
                assert len(labels) == 4 and page.evaluate(_CUT) == [], (size, labels, page.evaluate(_CUT))
            page.set_viewport_size({"width": 1400, "height": 1000})
        if status not in ("queued", "running"):
            break
        time.sleep(0.3)
    done = store.get(run["id"])
    assert done["status"] == "done", done["error"]
    assert saw_progress, "the live panel never showed the run's progress"
    assert killed and saw_replacing and killed not in worker_pids()
    # once, from an epoch's checkpoint: the first's, or the second's where it was written while this loop took the
    # page's picture (an epoch takes under 2 s; a CI run killed the worker after it), not from the start
    [resumed] = [e["epoch"] for e in store.events(run["id"], "resumed")]
    assert resumed in (1, 2), resumed
    page.get_by_role("paragraph").filter(has_text="Nothing is training right now.").wait_for()  # (noticed by itself)
    # the same region, told each change in place (queued, each epoch, evaluating, the end), through the reruns
    assert page.evaluate(_LIVE_SAME) == "Nothing is training right now."

    page.goto(app_url + "/explore")
    page.wait_for_selector(".js-plotly-plot .legend")
    assert page.evaluate(_LIVE_KEPT) == ""  # nothing chosen: nothing to tell yet, but the region is there
    plot_box = "() => document.querySelector('.js-plotly-plot .nsewdrag').getBoundingClientRect().toJSON()"
    before = page.evaluate(plot_box)
    row = _click_map_point(page, 100)
    page.get_by_text(f"Image #{row}").wait_for()
    # the marks had legend entries: the first click added a row to the legend and shrank the map under the pointer
    _settled(page)  # plotly's layout after the rerun
    after = page.evaluate(plot_box)
    assert (after["width"], after["height"]) == (before["width"], before["height"]), (before, after)
    page.get_by_text("and its 8 nearest neighbours").wait_for()
    sims = page.get_by_text(re.compile(r"· sim\s-?\d\.\d{3}$"))
    sims.nth(7).wait_for()
    assert sims.count() == 8

    # a second click on another point moves the selection
    row2 = _click_map_point(page, 1000)
    page.get_by_text(f"Image #{row2}").wait_for()
    # an image chosen by its number, then the point clicked last clicked again: that point's image (the click was
    # ignored, the map's selection unchanged, and the typed image stayed with no word)
    typed = 7 if row2 != 7 else 8
    box = page.get_by_label(re.compile(r"^Image # \(0 to"))
    box.fill(str(typed))
    box.press("Enter")
    page.get_by_text(re.compile(rf"Image #{typed}\b")).first.wait_for()
    assert _click_map_point(page, 1000) == row2
    page.get_by_text(re.compile(rf"Image #{row2}\b")).first.wait_for(timeout=15_000)
    page.wait_for_function(f"() => document.querySelector('.{LIVE_CLASS}').textContent.startsWith("
                           f"'Showing image {row2} (')")
    assert page.evaluate(_LIVE_SAME).startswith(f"Showing image {row2} (")  # each image told in the region it had


# the page's one live region (``widgets.live_region``): kept, its text returned; then whether it is still the node kept
_LIVE_KEPT = f"() => {{ const [r, ...more] = document.querySelectorAll('.{LIVE_CLASS}'); " \
             "window.__live = more.length ? null : r; return r.textContent; }"
_LIVE_SAME = f"() => window.__live && window.__live === document.querySelector('.{LIVE_CLASS}') " \
             "&& window.__live.isConnected ? window.__live.textContent : 'another node'"


def _outline_is_sound(page, title: str) -> None:
    """The tab names the page, and its headings make an outline a screen reader can walk:
    one h1, then no level skipped on the way down (h1 straight to h3 was every page's)."""
    page.wait_for_function(f"document.title === {title + ' · SSRL Playground'!r}")
    levels = page.evaluate("() => [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')].map(h => +h.tagName[1])")
    assert levels.count(1) == 1 and levels[0] == 1, levels
    assert all(b <= a + 1 for a, b in zip(levels, levels[1:])), levels


def test_compare_four_pretext_tasks_in_a_real_browser(app_url, page, finished_run):
    """A new user's path: open Compare, see four families side by side, ask one query."""
    # without the untrained encoder's references (shared by the four): the Evaluate page below computes them
    ids = {m: finished_run(m, references=False) for m in ("simclr", "rotation", "inpainting", "deepcluster")}
    page.goto(app_url + "/compare")
    page.get_by_role("heading", name="Compare runs").wait_for()
    page.get_by_text("Maps").wait_for()
    for method, rid in ids.items():
        page.get_by_text(f"{method} ({rid[-4:]}) · umap").first.wait_for()  # its map's title
    page.wait_for_function("document.querySelectorAll('.js-plotly-plot').length >= 7")  # 3 curves + 4 maps
    assert page.get_by_text(re.compile(r"differ in")).count() == 0  # same dataset, seed and budget
    page.get_by_text(re.compile(r"share the query's label")).nth(3).wait_for()
    _outline_is_sound(page, "Compare")
    # on a 1280 px projector every column of both tables is in view: one table of 15 columns was 1,454 px
    # wide there, its right columns behind a scrollbar the browser shows only under the mouse
    page.set_viewport_size({"width": 1280, "height": 720})
    _settled(page)
    spill = page.evaluate("""() => [...document.querySelectorAll('[data-testid="stDataFrame"] .dvn-scroller')]
        .map(s => s.scrollWidth - s.clientWidth)""")
    assert len(spill) == 2 and max(spill) <= 0, spill
    curves = """() => [...document.querySelectorAll('[class*="st-key-cmp_curves"] [data-testid="stColumn"]')]
        .map(c => c.getBoundingClientRect().width)"""
    assert len(set(round(w) for w in page.evaluate(curves))) == 1  # three of a width, side by side
    # at 150% zoom (853 CSS pixels) the three were 183 px wide, "5" and "10" on the label axis overlapping as "510":
    # the row wraps where they would be narrower than 18rem
    page.set_viewport_size({"width": 853, "height": 480})
    _settled(page)
    assert min(page.evaluate(curves)) >= 18 * 16 - 1, page.evaluate(curves)
    page.set_viewport_size({"width": 1400, "height": 2200})  # the page's top half in one picture
    page.get_by_role("heading", name="Compare runs").scroll_into_view_if_needed()
    query = page.get_by_role("spinbutton", name=re.compile(r"^Image #"))  # the images' alt texts say "image #" too
    query.fill("5")
    query.press("Enter")
    page.get_by_text(re.compile(r"query #5 · ")).wait_for()
    page.get_by_text(re.compile(r"share the query's label")).nth(3).wait_for()
    # each run's 8 neighbours on one row (a list of images wrapped 7 + 1 wherever captions ran long)
    tops = [round(page.get_by_text(re.compile(r"· sim\s-?\d\.\d{3}$")).nth(i).bounding_box()["y"]) for i in range(16)]
    assert len(set(tops[:8])) == 1 and len(set(tops[8:])) == 1 and tops[8] > tops[0], tops
    # in each chart the legend lies below the x-axis title (in the short curves it sat on it)
    gaps = page.evaluate("""() => [...document.querySelectorAll('.js-plotly-plot')].flatMap(p => {
        const t = p.querySelector('.xtitle'), l = p.querySelector('.legend');
        return t && l ? [l.getBoundingClientRect().top - t.getBoundingClientRect().bottom] : [];
    })""")
    assert len(gaps) >= 3 and min(gaps) >= 0, gaps

    # the same runs' label-efficiency and invariance charts
    page.goto(app_url + "/evaluate")
    page.get_by_role("heading", name="Label efficiency").wait_for()
    page.get_by_text("labelled images per class (log scale)").first.wait_for()
    # the prepared runs came without the shared random reference: one click computes it, and the
    # page draws it when the background jobs end, without a reload
    page.get_by_role("button", name="Compute their probes (seconds per run)").click()
    page.get_by_text("random encoder, linear").first.wait_for(timeout=240_000)  # the label-efficiency chart's dashed line
    # the untrained encoder's name where it is drawn to be read: the accuracy bars' tick is wrapped onto lines now,
    # and the first of its other matches may be the table's cell, which the grid's canvas draws (hidden in the DOM)
    page.locator('text="random encoder (seed 0)" >> visible=true').first.wait_for()
    assert page.get_by_text(re.compile(r"lacks? probes this page draws")).count() == 0
    _outline_is_sound(page, "Evaluate")
    page.goto(app_url + "/invariance")
    page.get_by_role("heading", name="Invariance per augmentation op").wait_for()
    page.get_by_text("What each op does").wait_for()
    page.get_by_role("heading", name="Can the rotation of an input be read off its features?").wait_for()
    # the two runs picked by default, and the untrained encoder of their seed (Evaluate's click computed it), a line each
    lines = page.locator("li").filter(has_text=re.compile(r"^\d\.\d\d\d "))
    assert lines.count() == 3, lines.all_inner_texts()
    assert lines.filter(has_text="random encoder (seed 0) · untrained").count() == 1
    assert page.get_by_text(re.compile(r"finished before invariance")).count() == 0
    _outline_is_sound(page, "Invariance")



@pytest.fixture
def tiny_lessons(monkeypatch):
    """The test-only lessons folder (tests/lessons); ask for it before ``app_url``."""
    monkeypatch.setenv("SSRL_LESSONS_DIR", str(Path(__file__).parent / "lessons"))


def test_a_teachers_lesson_link_with_hidden_controls(tiny_lessons, app_url, page, finished_run):
    """A student opens the teacher's link: no navigation, no knobs; one click trains the one
    run the store lacks (the prepared ones are reused), and the verdict appears by itself,
    though a classmate's long run is still training (the page used to wait for an idle
    server before redrawing). The panel lists the lesson's runs only."""
    from ssrl_core.config import RunConfig

    finished_run("random"), finished_run("simclr")
    page.goto(app_url + "/lessons?lesson=tiny&hide=controls,nav")
    page.get_by_role("heading", name="A tiny lesson for the tests").wait_for()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0
    assert page.get_by_text("Lesson", exact=True).count() == 0  # no lesson picker
    page.get_by_test_id("stAlertContentInfo").get_by_text(
        re.compile(r"Verdict: not yet \(1 of 2 checks judged so far, 1 passed\)")).wait_for()
    page.wait_for_selector(f".{LIVE_CLASS}", state="attached")
    assert page.evaluate(_LIVE_KEPT).startswith("Nothing is training right now. Verdict: not yet")
    page.get_by_role("button", name=re.compile(r"Launch this lesson: evaluate 1 untrained encoder")).click()
    store = RunStore()
    deadline = time.time() + 60
    while len(store.list()) < 3 and time.time() < deadline:  # the lesson's run queued first: the worker takes it
        time.sleep(0.1)
    assert len(store.list()) == 3, "the lesson's run was not queued within a minute of the click"
    long_run = store.submit(RunConfig(dataset="digits", method="simclr", epochs=200), nickname="dave")
    try:
        page.get_by_text("Verdict: pass", exact=True).wait_for(timeout=180_000)  # (not the live region's words)
        page.get_by_text(re.compile(r"far above chance.*passed")).wait_for()
        # one live region from before the click to the verdict, which it tells (it had left the page with the panel)
        assert page.evaluate(_LIVE_SAME).endswith("queued or training. Verdict: pass (2 of 2 checks passed).")
        assert store.get(long_run)["status"] in ("queued", "running")  # still active when the verdict came
        assert len(store.list()) == 4
        assert page.get_by_text(re.compile(r"by dave")).count() == 0  # not the lesson's: counted, not listed
    finally:
        store.request_cancel(long_run)


def test_a_classmates_run_asks_before_cancel_and_a_reload_keeps_the_nickname(app_url_under_a_path, page):
    """Ada's page lists Dave's run: its Cancel opens a small confirmation first; a reload
    keeps Ada's nickname (it lives in the address), and so does a new tab (a cookie); Dave's settings then fill Ada's form, over
    the boxes she had changed (which the browser would keep under their old keys). Served under a path of a
    shared host, as behind a proxy: the links stay under it, and the nickname's cookie is the app's own."""
    from ssrl_core.config import RunConfig

    app_url = app_url_under_a_path
    # an earlier version's cookie for the whole host, and another app's on it
    page.context.add_cookies([{"name": "ssrl_who", "value": "olduser", "url": app_url.split("/user/")[0] + "/"},
                              {"name": "other", "value": "1", "url": app_url.split("/user/")[0] + "/"}])
    store = RunStore()
    rid = store.submit(RunConfig(dataset="digits", method="simclr", epochs=200), nickname="dave")
    page.goto(app_url + "/pretrain?who=ada")
    nickname = page.get_by_role("textbox", name="Your nickname")
    nickname.wait_for()
    assert nickname.input_value() == "ada"
    page.get_by_text(re.compile(r"by dave")).wait_for()
    page.get_by_role("button", name="Cancel…").click()
    page.get_by_text(re.compile(r"This is dave's run, not yours \(ada\)")).wait_for()
    assert store.get(rid)["status"] in ("queued", "running")  # one click did not stop it
    page.get_by_role("button", name="Cancel dave's run").click()
    deadline = time.time() + 30
    while store.get(rid)["status"] not in ("cancelled", "done", "failed") and time.time() < deadline:
        time.sleep(0.5)
    assert store.get(rid)["status"] == "cancelled"
    page.reload()
    page.get_by_role("textbox", name="Your nickname").wait_for()
    # the reload keeps it by the browser's cookie: the address no longer carries it (a teacher pasting theirs to the
    # class gave every student the teacher's nickname)
    assert page.get_by_role("textbox", name="Your nickname").input_value() == "ada" and "who=" not in page.url
    cookies = {(c["name"], c["path"]): c["value"] for c in page.context.cookies() if c["name"] != "_streamlit_xsrf"}
    assert cookies == {("ssrl_who", "/user/ada/proxy/8501/"): "ada", ("other", "/"): "1"}, cookies
    tab = page.context.new_page()  # a new tab, no who= in its address: the same student, by the browser's cookie
    tab.goto(app_url + "/gallery")
    tab.get_by_role("textbox", name="Your nickname").wait_for()
    assert tab.get_by_role("textbox", name="Your nickname").input_value() == "ada"
    # a nickname typed on a page the cookie was written from already is kept too (the script, run a second time
    # on the page, failed on its own declaration, and a reload brought the old nickname back)
    box = tab.get_by_role("textbox", name="Your nickname")
    box.fill("ada2")
    box.press("Enter")
    tab.wait_for_function("document.cookie.includes('ssrl_who=ada2')")
    tab.reload()
    tab.get_by_role("textbox", name="Your nickname").wait_for()
    assert tab.get_by_role("textbox", name="Your nickname").input_value() == "ada2"
    box = tab.get_by_role("textbox", name="Your nickname")
    box.fill("ada")  # (the rest of the test is Ada's)
    box.press("Enter")
    tab.wait_for_function("document.cookie.includes('ssrl_who=ada') && !document.cookie.includes('ada2')")
    tab.close()
    epochs = page.get_by_label("Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    page.wait_for_url(re.compile(r"epochs=3"))
    page.get_by_text(RUN_ACTIONS).click()
    page.get_by_text("Only dave can resume it").wait_for()  # Ada's session cannot resume Dave's run
    page.get_by_role("button", name="Set the form to its settings").click()
    page.get_by_text(re.compile(f"set to run {rid}'s settings")).wait_for()
    page.wait_for_url(re.compile(r"epochs=200"))
    assert page.get_by_label("Epochs").input_value() == "200"


# -- the screens a class uses -------------------------------------------------------------
# a projector at 1024x768 or 1280x720 (1920x1080 at 150% zoom is the same 1280x720 CSS pixels)
PROJECTORS = ({"width": 1024, "height": 768}, {"width": 1280, "height": 720})
_CUT = """() => [...document.querySelectorAll('[data-testid="stMain"] [data-testid="stMetricLabel"] *, '
                 + '[data-testid="stMain"] button *')]
    .filter(e => e.clientWidth > 0 && e.scrollWidth > e.clientWidth + 1 && e.textContent.trim())
    .map(e => e.textContent.trim() + ': ' + e.scrollWidth + ' > ' + e.clientWidth)"""
_FRAME = """() => {
    const b = document.querySelector('[data-testid="stMainBlockContainer"]'), cs = getComputedStyle(b);
    return {content: b.clientWidth - parseFloat(cs.paddingLeft) - parseFloat(cs.paddingRight),
            title: document.querySelector('h1').getBoundingClientRect().top};
}"""


def test_the_pages_fit_a_classroom_projector_and_a_phone(app_url, page, finished_run):
    """On a 1024x768 projector Streamlit's 300 px sidebar and 80 px paddings left the page
    562 px (55% of the screen): Explore's metric labels and buttons were cut ("kNN ac…",
    "Show nei…") and its map squeezed. Chart text was Streamlit's theme's 12 px. Images had an
    empty alt and charts no accessible name."""
    rid = finished_run("simclr")
    for size in PROJECTORS:
        page.set_viewport_size(size)
        page.goto(f"{app_url}/explore?run={rid}&image=5")
        page.get_by_text("and its 8 nearest neighbours").wait_for()
        page.wait_for_selector(".js-plotly-plot")
        frame = page.evaluate(_FRAME)
        # the neighbours on the first screen, beside the map: the query drawn at the column's width above them put
        # the first 726 px down a 1280x720 page, under the screen, where a student who clicked a point saw none
        page.wait_for_function(_LOADED, arg=9)
        query, first = page.evaluate(_IMAGES)[:2]
        assert first["y"] < size["height"] and query["width"] == first["width"], (size, query, first)
        # and at 1280x720 with its caption (its number, label and similarity): the "Names on the map" toggle on a row
        # of its own put it 15 px below the screen's edge
        said = page.get_by_text(re.compile(r"· sim\s-?\d\.\d{3}$")).first.bounding_box()
        assert size["width"] < 1280 or said["y"] + said["height"] <= size["height"], (size, said)
        assert frame["content"] >= 0.7 * size["width"] and frame["title"] <= 0.1 * size["height"], (size, frame)
        assert page.evaluate(_CUT) == [], size  # every metric's label and every button's text whole
        # the map's legend at the charts' projector size (Streamlit's theme drew chart text at 12 px)
        sizes = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot .legendtext')]"
                              ".map(t => parseFloat(t.style.fontSize))")
        assert sizes and min(sizes) >= 14, sizes
    # for screen readers: every image says what it shows, every chart has a name (neither had any)
    alts = page.evaluate("() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')].map(i => i.alt)")
    assert len(alts) == 9 and alts[0] == "digits image #5, labelled 5" and all(alts), alts
    names = page.evaluate("() => [...document.querySelectorAll('.js-plotly-plot')]"
                          ".map(p => p.closest('[aria-label]')?.getAttribute('aria-label'))")
    assert names and all(n and "map of " in n for n in names), names

    # a student follows the teacher's link on a phone: the map's legend beside it took a fifth of
    # its width and left the height empty (the points spanned 242 px of a 358 px chart)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{app_url}/explore?run={rid}&hide=nav")
    page.wait_for_selector(".js-plotly-plot .legend")
    _settled(page)  # plotly finishes its first layout
    m = page.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot'), fl = gd._fullLayout, t = gd._fullData[0];
        const xs = Array.from(t.x, x => fl.xaxis.l2p(x));
        return {page: [document.documentElement.scrollWidth, document.documentElement.clientWidth], width: fl.width,
                span: Math.max(...xs) - Math.min(...xs),
                legend: gd.querySelector('.legend').getBoundingClientRect().top,
                plot: gd.querySelector('.nsewdrag').getBoundingClientRect().bottom};
    }""")
    assert m["page"][0] <= m["page"][1], m  # nothing wider than the phone
    assert m["legend"] >= m["plot"] and m["span"] >= 0.75 * m["width"], m

    # Streamlit stacked the neighbours' columns on a phone: each of the 8 filled the width (368 px)
    # one under another, the query beside them 149 px, the page 6,455 px long; now 4 to a row
    page.set_viewport_size({"width": 400, "height": 800})
    page.goto(f"{app_url}/explore?run={rid}&image=551")
    page.get_by_text("and its 8 nearest neighbours").wait_for()
    page.wait_for_function(_LOADED, arg=9)
    query, *nbrs = page.evaluate(_IMAGES)
    rows = sorted({n["y"] for n in nbrs})
    assert len(nbrs) == 8 and len(rows) == 2 and all(sum(n["y"] == y for n in nbrs) == 4 for y in rows), nbrs
    # the query as large as a neighbour, in the row just above theirs (drawn at 149 px above them, it stood
    # between the map and the neighbours)
    assert {n["width"] for n in nbrs} == {query["width"]} and query["y"] < rows[0] <= query["y"] + 3 * query["width"], \
        (query, nbrs)
    assert page.evaluate("document.documentElement.scrollWidth <= document.documentElement.clientWidth")


PHONE_AGENT = ("Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 "
               "Mobile Safari/537.36")
# the page's scroll position: Streamlit scrolls its main section, not the window
_SCROLLED = "() => Math.max(window.scrollY, ...[...document.querySelectorAll('*')].map(e => e.scrollTop))"


def test_on_a_phone_a_swipe_over_a_chart_scrolls_the_page(app_url_no_worker, page, finished_run):
    """A phone review: a swipe that began on a chart (41% of Compare's height, a third of
    Evaluate's) never scrolled the page: it panned the map until no point was in view, or zoomed
    a curve. A tap on the map chose the point tapped before (Plotly on touch screens): there the
    map picks no point, and says to type the number a tap shows. A mouse still pans the map on a
    computer."""
    rid = finished_run("simclr")
    page.goto(f"{app_url_no_worker}/explore?run={rid}")
    page.wait_for_selector(".js-plotly-plot")
    assert page.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.dragmode") == "pan"
    assert page.get_by_text("a tap does not choose a point").count() == 0
    phone = page.context.browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=3,
                                             is_mobile=True, has_touch=True, user_agent=PHONE_AGENT)
    tab = phone.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(f"{app_url_no_worker}/explore?run={rid}&hide=nav")
    tab.wait_for_selector(".js-plotly-plot .nsewdrag")
    _settled(tab)  # plotly finishes its first layout
    tab.get_by_text("Tap a point for its row number; type it in Image #").wait_for()
    assert tab.evaluate("() => document.querySelector('.js-plotly-plot')._fullLayout.dragmode") is False
    box = tab.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    tab.evaluate("() => document.querySelector('.js-plotly-plot').scrollIntoView({block: 'start'})")
    box = tab.locator(".js-plotly-plot .nsewdrag").first.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] * 0.8
    before = tab.evaluate(_SCROLLED)
    cdp = phone.new_cdp_session(tab)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    for step in range(1, 11):  # a swipe up of 250 px
        cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y - 25 * step}]})
        time.sleep(0.02)
    cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
    time.sleep(0.5)
    assert tab.evaluate(_SCROLLED) > before + 100  # the page moved under the finger
    tab.evaluate("() => document.querySelector('.js-plotly-plot').scrollIntoView({block: 'start'})")
    time.sleep(0.5)
    xy = tab.evaluate("""() => {
        const gd = document.querySelector('.js-plotly-plot'), fl = gd._fullLayout, r = gd.getBoundingClientRect();
        const t = gd._fullData[0];
        return {x: r.left + fl._size.l + fl.xaxis.l2p(t.x[0]), y: r.top + fl._size.t + fl.yaxis.l2p(t.y[0])};
    }""")
    tab.touchscreen.tap(xy["x"], xy["y"])
    tab.wait_for_function("() => /row \\d+/.test(document.querySelector('.js-plotly-plot .hoverlayer').textContent)")
    phone.close()


# each chart's toolbar (Plotly's modebar: there even when hidden until hovered) against its title, its legend and its plot
_TOOLBAR = """() => [...document.querySelectorAll('.js-plotly-plot')].map(gd => {
    const box = e => { if (!e) return null; const r = e.getBoundingClientRect();
                       return r.width > 0 && r.height > 0 ? {left: r.left, right: r.right, top: r.top, bottom: r.bottom} : null; };
    return {toolbar: box(gd.querySelector('.modebar')), title: box(gd.querySelector('.gtitle')),
            legend: box(gd.querySelector('.legend')), plot: box(gd.querySelector('.nsewdrag')),
            name: (gd.querySelector('.gtitle') || {}).textContent || ''};
})"""


# each chart's width, its plot's, and how far the plot's right edge is from the chart's (argument: the charts' selector)
_PLOT_WIDTH = """sel => [...document.querySelectorAll(sel)].map(gd => {
    const c = gd.querySelector('.main-svg').getBoundingClientRect(), p = gd.querySelector('.nsewdrag').getBoundingClientRect();
    return {chart: c.width, plot: p.width, right: c.right - p.right};
})"""


def _apart(a, b) -> bool:
    return a is None or b is None or a["right"] <= b["left"] or b["right"] <= a["left"] or \
        a["bottom"] <= b["top"] or b["bottom"] <= a["top"]


def test_charts_keep_their_titles_and_values_readable_on_a_phone_and_a_projector(app_url_no_worker, page,
                                                                                  finished_run):
    """A browser review at 390x844: Plotly's toolbar, always shown on a touch screen, covered
    Compare's map titles and "kNN over epochs", and Invariance's factor probes read
    "0.210.210.20" (each level label wider than its bar). On a phone and on a 1280x720
    projector, no chart's toolbar lies on its title, its legend or its plot; no two bar labels
    overlap, none is under 14 px nor on a whisker; and the projector keeps every value Invariance
    opens on: two runs and their untrained network, 27 upright labels and 15 level ones. Bar charts'
    category labels never reach past the plot's right edge: slanted rightwards, Evaluate's "random
    encoder (seed 0)" left its bars 165 px of a phone's 358 px chart."""
    from app.charts import VALUE_ROOM_PX

    from .test_app_review_pages import LABEL_BOXES, readable_labels

    a, b = finished_run("shapes-simclr"), finished_run("shapes-simclr")
    for size in ({"width": 390, "height": 844}, {"width": 1280, "height": 720}):
        page.set_viewport_size(size)
        page.goto(f"{app_url_no_worker}/compare")
        for rid in (a, b):
            page.get_by_text(f"simclr ({rid[-4:]}) · umap").first.wait_for()  # a map's title
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .modebar').length >= 3")
        _settled(page)  # plotly finishes its layouts
        charts = page.evaluate(_TOOLBAR)
        assert sum(bool(c["name"]) for c in charts) >= 3, charts  # the maps' titles and a curve's
        for c in charts:
            assert c["toolbar"] and all(_apart(c["toolbar"], c[k]) for k in ("title", "legend", "plot")), (size, c)

        page.goto(f"{app_url_no_worker}/invariance")
        page.get_by_role("heading", name="What the features keep: one probe per ground-truth factor").wait_for()
        page.wait_for_function("document.querySelectorAll('.js-plotly-plot .bartext').length >= 27 + 15")
        _settled(page)
        assert all(_apart(c["toolbar"], c["plot"]) for c in page.evaluate(_TOOLBAR))
        ops = readable_labels(page.evaluate(LABEL_BOXES, 0), 27)
        factors = readable_labels(page.evaluate(LABEL_BOXES, 1))
        if size["width"] == 1280:
            assert len(ops) == 27 and len(factors) == 15, (ops, factors)
        bars = page.evaluate(_PLOT_WIDTH, ".js-plotly-plot")
        assert len(bars) == 2 and all(c["right"] <= 20 for c in bars), (size, bars)  # (the margin's 10 px)

        page.goto(f"{app_url_no_worker}/evaluate")
        page.wait_for_selector(".st-key-eval_bars .js-plotly-plot .nsewdrag")
        _settled(page)
        [bars] = page.evaluate(_PLOT_WIDTH, ".st-key-eval_bars .js-plotly-plot")
        # lying down: the runs' names on short lines on the left, room for a value past a bar that reaches 1 on the right
        assert bars["right"] <= VALUE_ROOM_PX + 10 and bars["plot"] >= bars["chart"] / 2, (size, bars)
        names = page.evaluate("""() => [...document.querySelectorAll('.st-key-eval_bars .ytick text')].map(t => {
            const r = t.getBoundingClientRect(); return [r.top, r.bottom]; })""")
        assert len(names) == 3 and all(a[1] <= b[0] + 1 for a, b in zip(names, names[1:])), (size, names)
    _text_and_focus_are_seen(page)


_INKS = """() => ({
  captions: [...document.querySelectorAll('[data-testid="stCaptionContainer"] p')].map(p => {
    let opacity = 1;
    for (let e = p; e; e = e.parentElement) opacity *= parseFloat(getComputedStyle(e).opacity);
    return {color: getComputedStyle(p).color, opacity}; }),
  ticks: [...document.querySelectorAll('.js-plotly-plot .xtick text, .js-plotly-plot .g-ytitle text')].map(
    t => t.style.fill || getComputedStyle(t).fill),
})"""


def _text_and_focus_are_seen(page) -> None:
    """An accessibility review: captions came out #81807f (Streamlit's 60% opacity), 3.94:1 on
    white, and the charts' axis text 3.72:1, under WCAG's 4.5:1; a button reached by the keyboard
    showed a 50% red shadow of 2.2:1 at best. The page under test is on white."""
    import re as _re

    from app.charts import contrast

    def hex_of(rgb: str, opacity: float = 1.0) -> str:
        r, g, b = (int(v) for v in _re.findall(r"\d+", rgb)[:3])
        return "#" + "".join(f"{round(255 - (255 - v) * opacity):02x}" for v in (r, g, b))  # over white

    inks = page.evaluate(_INKS)
    assert inks["captions"] and inks["ticks"]
    assert min(contrast(hex_of(c["color"], c["opacity"]), "#ffffff") for c in inks["captions"]) >= 4.5, inks
    assert min(contrast(hex_of(t), "#ffffff") for t in inks["ticks"]) >= 4.5, inks
    page.evaluate("() => document.activeElement && document.activeElement.blur()")
    for _ in range(40):
        page.keyboard.press("Tab")
        focused = page.evaluate("() => { const e = document.activeElement, cs = getComputedStyle(e); "
                                "return {tag: e.tagName, outline: cs.outlineStyle, width: parseFloat(cs.outlineWidth),"
                                " color: cs.outlineColor}; }")
        if focused["tag"] == "BUTTON":
            break
    assert focused["tag"] == "BUTTON" and focused["outline"] == "solid" and focused["width"] >= 2, focused
    assert contrast(hex_of(focused["color"]), "#ffffff") >= 3, focused


@pytest.fixture
def app_url_no_worker(ssrl_home):
    """The app served with no worker of its own (SSRL_NO_AUTOSTART=1): the test finishes runs itself."""
    yield from _served(ssrl_home, worker=False)


# the page's n images all there and loaded (argument n), and their boxes in the page's order
_LOADED = ("n => document.querySelectorAll('[data-testid=\"stMain\"] img').length === n && "
           "[...document.images].every(i => i.complete && i.naturalWidth > 0)")
_IMAGES = """() => [...document.querySelectorAll('[data-testid="stMain"] img')].map(i => {
    const r = i.getBoundingClientRect();
    return {x: Math.round(r.x), y: Math.round(r.y), width: r.width, right: r.right, bottom: r.bottom}; })"""


def test_pages_waiting_for_runs_update_by_themselves(tiny_lessons, app_url_no_worker, page, _prepared_runs):
    """A student on Explore while their run trains, a teacher projecting the Gallery, a
    class on a lesson's link when a classmate presses Launch, and Pretrain with nothing
    training when a run starts elsewhere: each sees the change without reloading."""
    import shutil

    from ssrl_core import lessons as L

    cfg, folder, summary = _prepared_runs("random")  # untrained: prepared in seconds
    store = RunStore()

    def start(seed: int) -> str:  # a run a worker has taken
        rid = store.submit(cfg.__class__.from_dict({**cfg.to_dict(), "seed": seed}), nickname="ada")
        assert store.claim("w")["id"] == rid
        return rid

    def finish(rid: str) -> None:  # as the worker ends it: its folder written, then the run done
        shutil.copytree(folder, store.get(rid)["run_dir"])
        store.finish(rid, "done", summary=summary)

    first = start(1)
    page.goto(app_url_no_worker + "/explore?who=ada")
    page.get_by_text(re.compile(r"\(yours, starting\)")).wait_for()
    page.get_by_text("this page updates by itself").wait_for()
    finish(first)
    page.wait_for_selector(".js-plotly-plot", timeout=30_000)  # its map, without a reload

    page.goto(app_url_no_worker + "/gallery?hide=nav")
    page.get_by_text("Open in Explore").first.wait_for()
    assert page.get_by_text("Open in Explore").count() == 1
    finish(start(2))
    page.wait_for_function("document.body.innerText.split('Open in Explore').length - 1 === 2", timeout=30_000)

    page.goto(app_url_no_worker + "/lessons?lesson=tiny&hide=controls,nav")
    page.get_by_role("button", name=re.compile(r"Launch this lesson")).wait_for()
    [tiny] = [lesson for lesson in L.load_each()[0] if lesson.id == "tiny"]
    L.launch(tiny, store)  # a classmate's click, in another browser
    page.get_by_text("The lesson's runs are queued or training").wait_for(timeout=30_000)
    assert page.get_by_role("button", name=re.compile(r"Launch this lesson")).count() == 0

    # Pretrain with nothing training picks up a run launched elsewhere (its panel polled only while it had one)
    for r in store.list(("queued",)):  # the lesson's (no worker here): cancelled at once
        store.request_cancel(r["id"])
    page.goto(app_url_no_worker + "/pretrain?who=bo")
    page.get_by_role("paragraph").filter(has_text="Nothing is training right now.").wait_for()
    elsewhere = start(3)
    page.get_by_text(re.compile(rf"{elsewhere} — running")).wait_for(timeout=30_000)


def test_deleting_a_run_closes_its_pop_over(app_url_no_worker, page):
    """After Delete, the box under the runs table picks another run: its Delete… pop-over
    opened already, with that run's red "Delete run …" button where the last click was, so a
    second click deleted a second run."""
    from ssrl_core.config import RunConfig

    store = RunStore()
    ids = [store.submit(RunConfig(dataset="digits", method="simclr", epochs=3, seed=s), nickname="ada") for s in (1, 2)]
    for rid in ids:
        store.request_cancel(rid)  # queued: cancelled at once
    page.goto(app_url_no_worker + "/pretrain?who=ada")
    # each click once the page has settled: under a loaded suite a click during a script run was lost once (the
    # pop-over never opened, its button waited for 60 s)
    _settled(page)
    page.get_by_text(RUN_ACTIONS).click()
    _settled(page)
    page.get_by_role("button", name=re.compile("Delete…")).click()
    first = page.get_by_role("button", name=re.compile(r"^Delete run "))
    picked = first.inner_text().split()[-1]
    first.click()
    page.get_by_text(f"Deleted run {picked}").wait_for()
    page.get_by_role("button", name=re.compile("Delete…")).wait_for()  # the other run's, closed
    _settled(page)  # the rerun over: a pop-over it opened would be there
    assert page.get_by_role("button", name=re.compile(r"^Delete run ")).count() == 0
    assert [r["id"] for r in store.list()] == [i for i in ids if i != picked]


def test_the_data_page_shows_the_set_it_just_imported_and_moves_off_it(app_url_no_worker, page, tmp_path):
    """After Import the page opens on the new set: its Dataset box must say so too (it kept
    showing the set before, digits, and picking digits then changed nothing)."""
    from .test_import_images import make_zip, png

    members = {f"{c}/{i}.png": png((9 * i, 120 * k, 200 - 9 * i)) for k, c in enumerate(("leaf", "bark")) for i in range(20)}
    archive = make_zip(tmp_path / "my-trees.zip", members)
    page.goto(app_url_no_worker + "/data")
    box = page.get_by_role("combobox", name=re.compile("Dataset"))  # the pick box (not the import's name box)
    box.wait_for()
    assert box.input_value().startswith("digits")
    page.get_by_text("Import your own images").click()
    page.locator("input[type=file]").set_input_files(str(archive))
    page.get_by_role("textbox", name="Dataset name").wait_for()
    page.wait_for_function("() => [...document.querySelectorAll('input')].some(i => i.value === 'my-trees')")
    page.get_by_role("button", name="Import", exact=True).click()
    page.get_by_text("Imported my-trees").wait_for()
    page.wait_for_function("() => document.querySelector('input[aria-label=Dataset]').value.startsWith('my-trees')")
    assert "dataset=my-trees" in page.url
    box.click()
    page.get_by_role("option", name=re.compile(r"^digits")).click()
    page.wait_for_function("() => !location.search.includes('dataset=my-trees')")
    page.get_by_text("1,797").first.wait_for()  # digits' images, not the 40 just imported
    assert box.input_value().startswith("digits")


def test_data_and_augment_read_on_a_phone_and_a_projector(app_url_no_worker, page):
    """A review: on a phone Data's five metrics stacked one per row and filled the first screen, its
    first image at y 909 of 844; on a projector Augment's pictures (an image and its two views each)
    touched, 0 px apart, and two of them read as one strip of six images."""
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(app_url_no_worker + "/data")
    page.wait_for_function(_LOADED, arg=32)
    first = page.evaluate(_IMAGES)[0]
    assert first["bottom"] <= 844, first  # the first images on the first screen (554 px down)
    for size in PROJECTORS:
        page.set_viewport_size(size)
        page.goto(app_url_no_worker + "/augment")
        page.wait_for_function(_LOADED, arg=8)
        boxes = page.evaluate(_IMAGES)
        rows = sorted({b["y"] for b in boxes})
        assert len(rows) == 4, (size, boxes)  # two to a row beside the controls
        for y in rows:
            left, right = sorted((b for b in boxes if b["y"] == y), key=lambda b: b["x"])
            assert right["x"] - left["right"] >= 24, (size, left, right)  # framed, with a gap (48 px at 1280)
        assert all(below["y"] - above["bottom"] >= 24 + 20 for above, below in  # a caption between, and the gap
                   zip(boxes[::2], boxes[2::2])), (size, boxes)
        # the page's two buttons on the first screen: under what each op does, they sat 9 px below a 1280x720 one,
        # and under five ops' strengths 330 px below it
        for spec in ("", "crop,flip,color_jitter,grayscale,blur"):
            if spec:
                page.goto(app_url_no_worker + "/augment?augment=" + spec)
                page.wait_for_function(_LOADED, arg=8)
            for name in ("Regenerate", "Train with these"):
                box = page.get_by_role("button", name=name).bounding_box()
                assert box["y"] + box["height"] <= size["height"], (size, spec, name, box)


def test_gallery_cards_wrap_on_a_narrow_screen_instead_of_breaking_their_numbers(app_url_no_worker, page, _prepared_runs):
    """A 1280x720 projector at 150% zoom (853 CSS pixels) kept four cards a row, 145 px each:
    "1 label/class 0.512" broke as "0.51" / "2". Where a row of four would be narrower than
    13rem a card, it wraps; at 1280 px it stays four."""
    import shutil

    cfg, folder, summary = _prepared_runs("random")
    store = RunStore()
    for seed in range(4):
        rid = store.submit(cfg.__class__.from_dict({**cfg.to_dict(), "seed": seed}), nickname="ada")
        store.claim("w")
        shutil.copytree(folder, store.get(rid)["run_dir"])
        store.finish(rid, "done", summary=summary)

    def cards() -> list[dict]:
        page.get_by_text("Open in Explore").nth(3).wait_for()
        _settled(page)
        return page.eval_on_selector_all(".st-key-gal_cards [data-testid='stColumn']",
                                         "els => els.map(e => { const b = e.getBoundingClientRect(); "
                                         "return {w: b.width, y: b.top}; })")

    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(app_url_no_worker + "/gallery")
    wide = cards()
    assert len(wide) == 4 and len({round(c["y"]) for c in wide}) == 1, wide  # one row of four
    page.set_viewport_size({"width": 853, "height": 480})
    narrow = cards()
    assert min(c["w"] for c in narrow) >= 13 * 16 - 1, narrow
    stats = page.get_by_text(re.compile("1\u00a0label/class")).first
    assert stats.bounding_box()["height"] < 3 * 16, "its numbers broken over lines"  # (two lines at most: "·" breaks)


def test_back_and_forward_within_a_page_show_what_the_address_says(app_url_no_worker, page):
    """Each change on a page is a step of the browser's history, but Back seemed to do nothing: the
    address went back, the page ran again with its boxes as they were and wrote them back over it
    (a link review; leaving a page took a Back per change made on it). Now the boxes follow the
    address gone to, Pretrain's form and Augment's op boxes (new keys) as the plain boxes."""
    box = page.get_by_role("combobox", name="Dataset")
    page.goto(app_url_no_worker + "/augment")
    box.wait_for()
    page.get_by_role("combobox", name="Augmentations").click()
    page.get_by_role("option", name=re.compile(r"^crop ")).click()
    page.wait_for_function("() => location.search.includes('augment=crop')")
    _settled(page)
    box.click()
    page.get_by_role("option", name="shapes").click()
    page.wait_for_function("() => location.search.includes('dataset=shapes')")
    # (each step once the page has run: a Back pressed while the run of a change goes on, shapes drawn the first
    # time, was undone by that run, which wrote its address once more; Streamlit's, not the page's)
    _settled(page)
    steps = [("back", "digits", "augment=crop"), ("back", "digits", ""), ("forward", "digits", "augment=crop"),
             ("forward", "shapes", "augment=crop")]
    for step, dataset, augment in steps:
        getattr(page, f"go_{step}")()
        page.wait_for_function("([d, a]) => document.querySelector('input[aria-label=Dataset]').value.startsWith(d) "
                               "&& document.querySelector('input[aria-label=Augmentations]').value.startsWith(a)",
                               arg=[dataset, "crop" if augment else "digits"])
        _settled(page)
        assert ("dataset=shapes" in page.url) == (dataset == "shapes"), (step, page.url)
        assert (augment in page.url if augment else "augment=" not in page.url), (step, page.url)
    page.goto(app_url_no_worker + "/pretrain")
    epochs = page.get_by_label("Epochs")
    epochs.fill("3")
    epochs.press("Enter")
    page.wait_for_function("() => location.search.includes('epochs=3')")
    _settled(page)
    page.go_back()
    page.wait_for_function("() => document.querySelector('input[aria-label=Epochs]').value === '10'")
    _settled(page)
    assert "epochs=" not in page.url
