"""The Markdown escaping the pages use; it lives in ``ssrl_core.text``, which the run
card's export shares."""
from ssrl_core.text import agree, code, count, listing, md, one_line

__all__ = ["agree", "code", "count", "listing", "md", "one_line"]
