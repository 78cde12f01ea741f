"""The page's frame on the screens a class uses: a 1024×768 or 1280×720 projector (or a
1920×1080 one at 150% zoom, the same 1280×720 CSS pixels), a laptop, a phone.

Streamlit's wide layout keeps a 300 px sidebar and 80 px of padding on each side of the
page down to 768 px of width, and 96 px above the title: at 1024×768 the page itself got
562 of the 1024 pixels (55%) and every chart, map and table on it was squeezed to fit.
``SIDEBAR_PX`` is passed to ``st.set_page_config``; ``frame()`` narrows the padding, and
gives the sidebar's page links a keyboard focus ring (Streamlit's own is a grey about 1.1:1
against the sidebar, barely different from the current page's highlight), and so buttons,
expanders, links and help icons (Streamlit's 50% red shadow reached 2.2:1 at best, 1.1:1 on an
expander); captions are written in ``charts.MUTED_INK`` (Streamlit's 60% opacity gave 3.9:1,
under WCAG's 4.5:1 for text).
"""
from __future__ import annotations

import streamlit as st

from .charts import MUTED_INK

LIVE_CLASS = "ssrl-live"  # ``widgets.live_region``'s element

SIDEBAR_PX = 220  # the navigation's longest label ("Invariance") and the nickname box fit

# side padding 3% of the width (31 px at 1024, 58 px at 1920) instead of 80 px; 4rem above the
# title instead of 6rem, which still clears Streamlit's 60 px header bar
CSS = """<style>
[data-testid="stMainBlockContainer"] {
  padding-left: clamp(1rem, 3vw, 5rem); padding-right: clamp(1rem, 3vw, 5rem); padding-top: 4rem;
}
[data-testid="stSidebarNav"] a:focus-visible { outline: 2px solid #1f5f99; outline-offset: -2px; }
[data-testid="stCaptionContainer"] { opacity: 1; color: %(muted)s; }
/* a metric's number 28 px, not 36: with a delta under it (Explore's "+0.036 vs untrained"), Explore's first row of
   neighbours and their captions stays on a 1280x720 screen */
[data-testid="stMetricValue"] { font-size: 1.75rem; }
/* Gallery's cards (``pages/gallery.py``): four a row where each gets 13rem, fewer where it would not, the row wrapping
   (a 1280x720 projector at 150%% zoom gave 145 px cards, "0.512" broken after "0.51") */
.st-key-gal_cards [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
.st-key-gal_cards [data-testid="stColumn"] { min-width: 13rem; }
/* Compare's three curve charts (``pages/compare.py``), likewise where each would be narrower than 18rem: at 150%% zoom
   on a 1280x720 projector they were 183 px wide, the label-efficiency ticks "5" and "10" overlapping as "510" */
[class*="st-key-cmp_curves"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
[class*="st-key-cmp_curves"] [data-testid="stColumn"] { min-width: 18rem; }
button:focus-visible, summary:focus-visible, a:focus-visible, [data-testid="stTooltipHoverTarget"]:focus-visible {
  outline: 2px solid #1f5f99 !important; outline-offset: 2px;  /* over Streamlit's own "outline: none" */
  box-shadow: none !important;  /* its faint red ring, drawn around the blue one: two rings in two colours */
}
/* a live region (``widgets.live_region``): read by screen readers, not seen, and out of the page's flow, so its
   element adds no gap where it stands */
.%(live)s { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); white-space: nowrap; }
[data-testid="stElementContainer"]:has(.%(live)s) { position: absolute; }
</style>""" % {"muted": MUTED_INK, "live": LIVE_CLASS}


def frame() -> None:
    """Call once per script run, before the page (``app/main.py`` does)."""
    st.html(CSS)
