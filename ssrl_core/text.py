"""Text from students and links made safe to put in Markdown: the app's (Streamlit's, with
its additions) and the run card's (``runs/export.py``). No Streamlit here.

Every page, caption, image caption and widget label of Streamlit is Markdown with Streamlit's
additions: links and images (``[a](http://...)``, ``![a](http://...)``: an image another
student's browser would fetch from outside), autolinks (``<http://...>``, ``https://...``,
``www....``), colour and icon directives (``:red[...]``, ``:material/delete:``), math
(``$...$``), code, emphasis. A nickname, an imported image's file or class folder name, a run
note or a value typed into a link is shown to the whole class, so it goes through ``md``
(or ``code``) first and reads as the characters typed, whatever they are.
"""
from __future__ import annotations

import errno
import re
import unicodedata

# what starts a Markdown construct that could fetch, link, colour, restyle or reflow: backslash
# first (an escape of its own), brackets (links, images, directive labels), autolink and HTML
# angles, math, code, emphasis, strikethrough, table pipes
_SPECIAL = re.compile(r"([\\`*_~\[\]<>$|{}])")
_DIRECTIVE = re.compile(r":(?=[A-Za-z_/])")  # ':red[', ':material/x:', ':small', 'https://'
# GFM's literal autolinks ('www.example.com', 'http://e.example', 'a@b.example'), which Streamlit's Markdown finds in
# the text after escapes are read (escaped 'www\.example.com' and 'http\://e.example' were links in a browser): a word
# joiner (U+2060, invisible, not a space) after 'www', a scheme (its ':' escaped as a directive's) or '@' parts them
_AUTOLINK = re.compile(r"(?i)(\bwww(?=\.)|\b(?:https?|ftp|mailto|xmpp)(?=\\:)|@)")
JOINER = "\u2060"
# what makes a line a heading or a list item where it starts: a nickname "# Ada" as a caption's first word was a heading
_LINE_START = re.compile(r"^(\s*)(#(?=#{0,5}(?:\s|$))|[-+](?=\s|$)|\d{1,9}(?=[.)](?:\s|$)))")


def said(error: BaseException) -> str:
    """An error's message as written: a KeyError's without the quotes its ``str`` adds."""
    return str(error.args[0]) if isinstance(error, KeyError) and error.args else str(error)


def disk_full(error: BaseException) -> bool:
    """Whether ``error`` is a write that found the disk full: ENOSPC, or numpy's short write,
    which it reports without an errno ("N requested and M written")."""
    return isinstance(error, OSError) and (error.errno == errno.ENOSPC
                                           or (error.errno is None and "requested and" in str(error)))


def not_written(error: OSError, where: object) -> str:
    """Why ``where`` could not be written, and what to do, for an ``OSError`` of a write: a full
    disk said as such (freeing space is the way out; deleting ended runs frees the most where
    the disk is SSRL_HOME's), anything else by its reason."""
    if disk_full(error):
        hint = " (deleting ended runs frees the most)" if _on_the_homes_disk(where) else ""
        return f"the disk holding {where} is full: free some space there{hint}"
    return f"{where} could not be written ({error.strerror or error}): check that the folder can be written"


def _on_the_homes_disk(where: object) -> bool:
    """Whether ``where`` (or its nearest existing folder) is on the disk holding SSRL_HOME (or
    where it would be made)."""
    import os
    from pathlib import Path

    from .paths import home_path

    def device(path: Path) -> int:  # of its nearest existing folder: asking makes nothing (a home never used stays unmade)
        while not path.exists() and path != path.parent:
            path = path.parent
        return os.stat(path).st_dev

    try:
        return device(Path(str(where)).absolute()) == device(home_path())
    except (OSError, ValueError):
        return True  # cannot tell: the advice may well apply


def agree(n: int, one: str, many: str) -> str:
    """The word agreeing with a count of ``n``: ``agree(n, "is", "are")``."""
    return one if n == 1 else many


def minutes(seconds: float) -> int:
    """A duration in whole minutes, at least 1: what "about N min" says."""
    return max(1, round(seconds / 60))


def about(seconds: float) -> str:
    """A duration as the pages say it: "less than a minute", "about 4 min"."""
    return "less than a minute" if seconds < 60 else f"about {minutes(seconds)} min"


def count(n: int, word: str, plural: str | None = None) -> str:
    """``n`` and the noun agreeing with it: "1 run", "3 runs", "1,438 images"."""
    return f"{n:,} {agree(n, word, plural or word + 's')}"


def ordinal(x: float) -> str:
    """A number as a rank or a percentile: "1st", "12th", "23rd", "0.1st", "99.9th"."""
    s = f"{x:g}"
    return s + ("th" if s[-2:] in ("11", "12", "13") else {"1": "st", "2": "nd", "3": "rd"}.get(s[-1], "th"))


def nearest(word: object, choices) -> str | None:
    """The one of ``choices`` a typo of ``word`` most likely meant ("simclr" for "simclear"), or
    None when none is close: difflib's ratio 0.7 or more ("digts" and "digits" 0.91; at 0.6, its
    default, a set of one's own named "pets" was taken for a slip of "shapes")."""
    import difflib

    near = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.7)
    return near[0] if near else None


def meant(word: object, choices) -> str:
    """" (did you mean 'simclr'?)" after a name refused, when one of ``choices`` is ``nearest``."""
    near = nearest(word, choices)
    return f" (did you mean {near!r}?)" if near else ""


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what makes a spreadsheet read a cell as a formula


def csv_text(value):
    """A text cell as a spreadsheet will show it, never run it: one starting like a formula
    (an imported image named ``=HYPERLINK("http://...")``, whose name comes from whoever made
    the archive; a nickname) gets a leading ``'`` (OWASP's advice for CSV injection); numbers
    and other text are unchanged."""
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def listing(items: list[str]) -> str:
    """Items as a sentence lists them: "a", "a and b", "a, b and c"."""
    return " and ".join(filter(None, [", ".join(items[:-1]), *items[-1:]]))


def one_line(text: object) -> str:
    """``text`` as one line: line breaks, tabs and other control characters become spaces (a
    no-break space stays: it joins what must not be broken apart, "sim 0.912")."""
    return "".join(c if c.isprintable() or c == "\u00a0" else " " for c in str(text))


def first_line(note: str | None) -> tuple[str, str]:
    """(the first line of ``note``, the rest, each stripped): a failure's reason shown as a
    line in a table or a box, with the rest (a missing set's files, one a line) kept apart."""
    first, _, rest = (note or "").strip().partition("\n")
    return first.rstrip(), rest.strip()


def visible(text: str) -> str:
    """``text`` without invisible format characters (Unicode's Cf: word joiners, zero-width
    spaces): a nickname copied from a page keeps the word joiner ``md`` puts after '@' or 'www'
    (no link), and pasted back in, it named another person."""
    return "".join(c for c in text if unicodedata.category(c) != "Cf")


def md(text: object) -> str:
    """``text`` escaped for Markdown: it renders as exactly these characters, on one line."""
    s = _SPECIAL.sub(r"\\\1", one_line(text))
    s = _DIRECTIVE.sub(r"\\:", s)
    s = _LINE_START.sub(lambda m: m[1] + (m[2] + "\\" if m[2][0].isdigit() else "\\" + m[2]), s)
    return _AUTOLINK.sub(rf"\1{JOINER}", s)


def code(text: object) -> str:
    """``text`` as an inline code span that it cannot close early: fenced with one backtick
    more than its longest run of backticks (CommonMark), padded when it starts or ends with one."""
    s = one_line(text)
    fence = "`" * (max((len(m) for m in re.findall(r"`+", s)), default=0) + 1)
    pad = " " if s.startswith("`") or s.endswith("`") or not s.strip() else ""
    return f"{fence}{pad}{s}{pad}{fence}"
