"""SSRL Playground: the Streamlit entry point.

    python -m streamlit run app/main.py

Routes with ``st.navigation`` over the page files in ``pages/`` (paths resolve against
this file's folder). Streamlit puts only ``app/`` on ``sys.path``, so the project root is
added here for ``import app...`` and ``import ssrl_core...`` to work without installing.
"""
from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import streamlit as st  # noqa: E402

from app import glossary, screen, services, text, urlstate, widgets  # noqa: E402
from ssrl_core.runs.store import StoreUnusable  # noqa: E402

# the tab's icon an emoji: Streamlit draws it in the page, where a :material: one is fetched from fonts.gstatic.com,
# which a classroom without the internet never reaches (the sidebar's :material: icons come with Streamlit's font)
st.set_page_config(page_title="SSRL Playground", page_icon="🧭", layout="wide",
                   initial_sidebar_state=screen.SIDEBAR_PX)
screen.frame()
services.unread_config(str(ROOT))  # (said in the server's log, once)

PAGES = [
    st.Page("../pages/home.py", title="Start", icon=":material/home:", default=True),
    st.Page("../pages/data.py", title="Data", icon=":material/photo_library:", url_path="data"),
    st.Page("../pages/augment.py", title="Augment", icon=":material/shuffle:", url_path="augment"),
    st.Page("../pages/pretrain.py", title="Pretrain", icon=":material/model_training:", url_path="pretrain"),
    st.Page("../pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore"),
    st.Page("../pages/evaluate.py", title="Evaluate", icon=":material/leaderboard:", url_path="evaluate"),
    st.Page("../pages/invariance.py", title="Invariance", icon=":material/blur_on:", url_path="invariance"),
    st.Page("../pages/compare.py", title="Compare", icon=":material/compare:", url_path="compare"),
    st.Page("../pages/lessons.py", title="Lessons", icon=":material/school:", url_path="lessons"),
    st.Page("../pages/learn.py", title="Learn", icon=":material/menu_book:", url_path="learn"),
    st.Page("../pages/gallery.py", title="Gallery", icon=":material/grid_view:", url_path="gallery"),
]

nav_hidden = urlstate.hidden("nav")  # a teacher's link: ?hide=nav
page = st.navigation(PAGES, position="hidden" if nav_hidden else "sidebar")
st.set_page_config(page_title=f"{page.title} · SSRL Playground")  # each tab, and a screen reader, says which page
if bad := urlstate.unknown_parts():
    st.warning(f"Ignored {text.code('hide=' + urlstate.short(','.join(bad)))} from the link: it can hide "
               f"{', '.join(urlstate.PARTS)}.",
               icon=":material/link_off:")
if problem := services.home_problem():  # a read-only or impossible SSRL_HOME: say so, write nothing
    st.error(problem, icon=":material/folder_off:")
    st.stop()


def unusable(e: StoreUnusable) -> None:
    """A damaged store: what to do, in a box (it read as a crash in a traceback)."""
    st.error(text.md(e), icon=":material/database:")


try:
    services.ensure_worker()  # queued runs always have someone to run them (no-op when one is alive)
except StoreUnusable as e:
    unusable(e)
    st.stop()
else:
    if older := services.older_workers_text():  # after an upgrade: it trains with the old code
        # a class's link (no controls): a student cannot stop it, and eleven lines on a phone pushed the lesson off the
        # first screen; one line says who can
        st.warning(older if not urlstate.hidden("controls") else
                   "A worker of an older version still runs on this server: whoever runs the server should stop it (a "
                   "page without `hide=controls` in its address says how).", icon=":material/update:")
# (a worker restarts itself between runs; a server cannot) an imported services without it is older code itself
if getattr(services, "code_changed", lambda: True)():
    st.warning("The app's files changed after this server started (an update?). It still runs the code it started "
               "with, so pages may fail until it restarts: "
               + ("stop it (Ctrl+C where it runs) and start it again as before (`python -m streamlit run app/main.py` "
                  "and the options it was given)."
                  if not urlstate.hidden("controls") else "whoever runs the server should restart it."),
               icon=":material/update:")
if remade := services.store_remade_text():
    st.warning(remade, icon=":material/folder_off:")
with st.sidebar:  # the nickname even under a teacher's ?hide=nav: runs and the class limit are per nickname
    widgets.nickname_input()
    glossary.sidebar_box(page.url_path)
    if not nav_hidden:
        st.caption(f"Runs and datasets are kept in `{services.home()}` (SSRL_HOME)")
# back from another page: its form and choices as they were left (not the pages of runs, which open on the newest:
# a student back on Explore after a run finished wants that run, not the one looked at before)
if page.url_path in ("pretrain", "augment", "lessons", "learn", "gallery"):
    urlstate.restore(page.url_path)
urlstate.follow(page.url_path)  # Back or Forward on this page: its widgets start from the address gone to
link_slot = urlstate.replay_slot(page.url_path)  # a link's warnings outlast the page's own reruns
try:
    page.run()
except widgets.PageEnd:  # the page ended early (widgets.stop), nothing wrong
    pass
except StoreUnusable as e:  # damaged while the page ran
    unusable(e)
finally:  # (st.rerun passes through here too)
    urlstate.remember(page.url_path)
    urlstate.replay(page.url_path, link_slot)
    widgets.forget_form_from(page.url_path)
