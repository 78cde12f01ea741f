"""The Markdown escaping the pages use; it lives in ``ssrl_core.text``, which the run
card's export shares."""
from ssrl_core.text import about, agree, code, count, listing, md, minutes, one_line

__all__ = ["about", "agree", "code", "count", "listing", "md", "minutes", "one_line"]
