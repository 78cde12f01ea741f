"""The Markdown escaping the pages use; it lives in ``ssrl_core.text``, which the run
card's export shares."""
from ssrl_core.text import about, agree, code, count, listing, md, minutes, one_line

__all__ = ["about", "agree", "code", "count", "listing", "md", "minutes", "one_line", "quiet_icon"]


def quiet_icon(name: str) -> str:
    """A Material icon for Markdown drawn with ``unsafe_allow_html=True`` that a screen reader
    skips: Streamlit gives an icon in Markdown role img and the name "<ligature> icon", so a
    lesson's failed check was read "cancel icon ...". Only beside words that say what it shows
    (an element's own ``icon=`` is already hidden by Streamlit)."""
    return f'<span aria-hidden="true">:material/{name}:</span>'

