"""Page state in the URL, so that a teacher's link reproduces a page and can hide the
controls that would distract a class (TensorFlow Playground's idea).

``?hide=`` takes a comma-separated list of parts: ``nav`` (the sidebar navigation),
``controls`` (a page's knobs), ``advanced`` (expert options). Pages ask ``hidden(part)``.
"""
from __future__ import annotations

import streamlit as st

PARTS = ("nav", "controls", "advanced")


def hidden(part: str) -> bool:
    """Whether the page's link asks to hide ``part`` (``?hide=controls,nav``)."""
    raw = st.query_params.get("hide", "")
    return part in {p.strip() for p in raw.split(",") if p.strip()}
