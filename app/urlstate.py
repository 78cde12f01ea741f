"""Page state in the URL, so that a teacher's link reproduces a page and can hide the
controls that would distract a class (TensorFlow Playground's idea).

``?hide=`` takes a comma-separated list of parts: ``nav`` (the sidebar navigation),
``controls`` (a page's knobs), ``advanced`` (expert options). Pages ask ``hidden(part)``.

Every other parameter is one widget's value (``?dataset=shapes&method=rotation&epochs=3``).
The widget helpers here read their initial value from the URL, validate it (a bad value
is ignored with a small warning, never a crash), and write the widget's value back after
each change, leaving out values equal to the page's default so links stay short. When
the page's part is hidden the widget is not drawn and the URL's value (or the default)
is used as is.
"""
from __future__ import annotations

import re
from typing import Any, Callable, Iterable, Sequence

import streamlit as st

from .text import code, md

PARTS = ("nav", "controls", "advanced")


def listed(param: str) -> list[str]:
    """The comma-separated values of the address's ``param`` (``?runs=a,b``), stripped, each
    once, in order; [] without it."""
    return list(dict.fromkeys(v.strip() for v in (st.query_params.get(param) or "").split(",") if v.strip()))


def _hide_parts() -> list[str]:
    """The parts a link's ``?hide=`` names, whatever their case (``hide=NAV``)."""
    return [p.casefold() for p in listed("hide")]


def unknown_parts() -> list[str]:
    """Parts a link's ``?hide=`` names that no page knows (a typo hides nothing)."""
    return [p for p in _hide_parts() if p not in PARTS]


def hidden(part: str) -> bool:
    """Whether the page's link asks to hide ``part`` (``?hide=controls,nav``)."""
    return part in _hide_parts()


def carried() -> dict[str, str]:
    """The parameters a link to another page should keep: the teacher's ``hide`` (the
    nickname goes with the browser's cookie, also into a new tab: ``widgets.nickname_input``)."""
    return {k: st.query_params[k] for k in ("hide",) if st.query_params.get(k)}


KEPT = ("who", "hide")  # not a page's own state: ``hide`` is carried (``carried``), an old link's ``who`` read once


def remember(page: str) -> None:
    """Keep ``page``'s address parameters (its state: Pretrain's form, Explore's run and
    image, ...) in this session, as they stand at the end of each run of it."""
    st.session_state.setdefault("_page_params", {})[page] = dict(st.query_params.to_dict())
    st.session_state["_page_now"] = page


def remembered(page: str) -> dict[str, str]:
    """``page``'s address parameters as this session left it (``remember``), without the
    parameters that are not a page's own; {} when it has not been shown."""
    return {k: v for k, v in st.session_state.get("_page_params", {}).get(page, {}).items() if k not in KEPT}


def restore(page: str) -> None:
    """Coming back to ``page`` from another page (the sidebar, or a link that carries only
    ``who``/``hide``), put its parameters back in the address, so its widgets start where they
    were left: Streamlit forgets the state of a page's widgets as soon as another page is shown,
    so a Pretrain form set up, left for Augment and come back to was back at its defaults. A
    link with parameters of its own, a reload and every run on the same page are left alone."""
    came_from = st.session_state.get("_page_now")
    kept = st.session_state.get("_page_params", {}).get(page)
    if came_from is None or came_from == page or not kept:
        return
    if any(k not in KEPT for k in st.query_params.to_dict()):
        return  # a link that says what to show
    for k, v in kept.items():
        if k not in KEPT:
            st.query_params[k] = v
    st.session_state[RESTORED] = page  # (``follow``: a Back straight after is not a Back within the page)


BOUND, GENERATIONS = "_url_bound", "_url_generations"  # session state: what ``follow`` starts again
RESTORED = "_url_restored"  # session state: the page whose parameters ``restore`` put back in this run
HERE = "_url_page"  # session state: the page this run shows (``follow`` says it), whose marks ``bound`` adds to


def bound(*keys: str) -> None:
    """Mark session-state ``keys`` as started from the address (a key ending in ``*``: every key
    that begins so), for ``follow`` to start again from it. The widget helpers here mark theirs;
    a widget whose key is dropped must be given its value through the session state (as these
    helpers do), not by ``value``/``index``, which the browser ignores for a key it shows. The
    marks are the page's: a Back on Pretrain dropped Explore's image chosen for a run (state
    that outlasts the page, unlike a widget's), and back on Explore it was gone."""
    st.session_state.setdefault(BOUND, {}).setdefault(st.session_state.get(HERE), set()).update(keys)


def generation(name: str) -> int:
    """The counter ``name`` in the session (0 at first) that a group of widgets puts in its keys
    (Pretrain's form, Augment's boxes): ``follow`` adds one, so they are new widgets, which start
    from the address (sliders and boxes too many to set one by one)."""
    st.session_state.setdefault(GENERATIONS, {}).setdefault(st.session_state.get(HERE), set()).add(name)
    return st.session_state.get(name, 0)


def follow(page: str) -> None:
    """The browser's Back or Forward on ``page``: Streamlit runs the page again with the address
    gone back to, but its widgets kept their values and wrote them back over it, so Back seemed
    to do nothing (each change on a page was a step of the browser's history, and leaving the
    page took a Back per change). Where the address is not the one this page left at the end of
    its last run, the state marked by ``bound`` is dropped, so the page starts from the address,
    as a link opens it."""
    st.session_state[HERE] = page
    left = st.session_state.get("_page_params", {}).get(page)
    if st.session_state.get("_page_now") != page or left is None:
        return
    if st.session_state.pop(RESTORED, None) == page:
        # the run after ``restore`` put the page's parameters back: a Back from there goes to the bare address the
        # sidebar opened, before they were put back, and started the form from it, at its defaults (a review); the
        # page keeps what it was left with, as before Back was followed
        return
    if left == st.query_params.to_dict():
        return
    marks = st.session_state.get(BOUND, {}).get(page, set())
    prefixes = tuple(k[:-1] for k in marks if k.endswith("*"))
    for key in [k for k in st.session_state if k in marks or (prefixes and str(k).startswith(prefixes))]:
        del st.session_state[key]
    for name in st.session_state.get(GENERATIONS, {}).get(page, ()):
        st.session_state[name] = st.session_state.get(name, 0) + 1
    st.session_state.pop("_url_of", None)  # (``start``: whose value the address held)


# -- parsers: raw URL text -> value, or ValueError saying what was wrong ---------------------

def _loose(text: str) -> str:
    return " ".join(re.split(r"[\s_+-]+", text.casefold())).strip()


def loose(raw: str, options: Iterable[str], first_word: bool = False) -> str | None:
    """The one option ``raw`` means when it is not one of them as written: the same whatever
    its case and separators ("mia" for "Mia", "four_families" for "four-families"), or with
    ``first_word`` (a box of labels, not of names: "mia" was taken for "Mia Chen") its first
    word, for an option of words ("knn" for "kNN accuracy"); None when none or several are."""
    want = _loose(raw)
    if not want:
        return None
    for same in (lambda o: _loose(o) == want, lambda o: first_word and " " in o and _loose(o).split(" ")[0] == want):
        found = [o for o in options if same(o)]
        if found:
            return found[0] if len(found) == 1 else None
    return None


def choice(options: Sequence[str], why: str | None = None, first_word: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options and (meant := loose(raw, options, first_word)) is not None:  # "?by=mia&sort=knn"
            return meant
        if raw not in options:
            shown = ", ".join(list(options)[:12]) + (", …" if len(options) > 12 else "")
            raise ValueError(why or f"not one of {shown}")
        return raw
    return parse


class PartlyValid(ValueError):
    """Part of a link's value was valid: ``read`` uses ``value`` (the valid part) and warns
    about the rest (the message)."""

    def __init__(self, message: str, value: Any):
        super().__init__(message)
        self.value = value


def _split(raw: str, options: Sequence[str]) -> list[str]:
    """``raw`` cut at its commas, but for an option with commas in it written whole: an imported
    set's class folder "cats, big" (``?classes=cats, big,dogs``) read as "cats" and "big", both
    unknown. The longest run of pieces that is an option wins, of no more pieces than an option
    has (a run of all the rest, tried at every piece, took 36 s on a link of 3,000 values)."""
    pieces, out, i = raw.split(","), [], 0
    known = set(options)
    most = 1 + max((o.count(",") for o in known), default=0)
    while i < len(pieces):
        j = next((j for j in range(min(len(pieces), i + most), i + 1, -1)
                  if ",".join(pieces[i:j]).strip() in known), i + 1)
        out.append(",".join(pieces[i:j]))
        i = j
    return out


def choices(options: Sequence[str], why: str | Callable[[str], str] | None = None) -> Callable[[str], list[str]]:
    """A comma-separated list of options (``?runs=a,b``), each once. Unknown ones are named
    (with ``why``: a reason, or a function giving each one's) and left out; the others are
    kept (``PartlyValid``), and a list with none valid is refused."""
    reason = why if callable(why) else None
    one = choice(options, None if callable(why) else why)

    def parse(raw: str) -> list[str]:
        kept, bad = [], []
        values = list(dict.fromkeys(v.strip() for v in _split(raw, options) if v.strip()))  # a value twice counts once
        for v in values[:MOST_VALUES]:
            try:
                kept.append(one(v))
            except ValueError as e:
                bad.append(f"{short(v)}: {reason(v) if reason else e}")
        # a link of 3,000 unknown runs took 8.6 s to say why each one was left out, in a warning of 3,000 parts
        said = bad[:MOST_SAID] + ([f"and {len(bad) - MOST_SAID:,} more"] if len(bad) > MOST_SAID else []) \
            + ([f"{len(values) - MOST_VALUES:,} more not read (a link is read up to {MOST_VALUES})"]
               if len(values) > MOST_VALUES else [])
        if said and kept:
            raise PartlyValid("; ".join(said), kept)
        if said:
            raise ValueError("; ".join(said))
        return kept
    return parse


MOST_VALUES, MOST_SAID = 100, 5  # of a list in a link: read, and named when left out


def short(raw: str, n: int = 80) -> str:
    """``raw`` as a warning shows it: a long value cut, so the warning stays one line."""
    return raw if len(raw) <= n else raw[:n - 1] + "…"


def _ranged(cast: Callable[[str], Any], not_one: str, lo, hi, show: str) -> Callable[[str], Any]:
    def parse(raw: str):
        try:
            v = cast(raw)
        except ValueError:
            raise ValueError(not_one) from None
        if not lo <= v <= hi:  # also refuses nan
            raise ValueError(f"outside {lo:{show}}–{hi:{show}}")
        return v
    return parse


def integer(lo: int, hi: int) -> Callable[[str], int]:
    return _ranged(int, "not a whole number", lo, hi, "d")


def number(lo: float, hi: float) -> Callable[[str], float]:
    return _ranged(float, "not a number", lo, hi, "g")


def read(param: str, parse: Callable[[str], Any], default: Any) -> Any:
    """The URL's value of ``param`` parsed, or ``default`` when absent or invalid (with a
    one-line warning naming the parameter and why it was ignored)."""
    raw = st.query_params.get(param)
    if raw is None:
        return default
    try:
        return parse(raw)
    except PartlyValid as e:
        _link_warning(param, f"Ignored part of {code(f'{param}={short(raw)}')} from the link ({md(e)}); using "
                             f"{code(short(shown(e.value)))}.", e.value, default)
        return e.value
    except ValueError as e:
        instead = ("." if default is None or default == [] else
                   "; using the defaults instead." if default == {} else  # no option changed ('using {}' said Python)
                   f"; using {code(short(shown(default)))} instead.")
        _link_warning(param, f"Ignored {code(f'{param}={short(raw)}')} from the link ({md(e)}){instead}", default, default)
        return default


LINK_NOTES = "_link_notes"  # session state: {"page": url path, "notes": {param: (warning, address after)}, "new": {...}}


def _link_warning(param: str, text: str, used: Any, default: Any) -> None:
    """Warn of a link's bad ``param``, and keep the warning for ``replay``: the page writes the
    value it used back to the address, so a rerun of the page (one it makes itself as a run
    it waits for moves on, seconds after the link opened) no longer saw the bad value and
    dropped the warning before it could be read."""
    st.warning(text, icon=":material/link_off:")
    st.session_state.setdefault(LINK_NOTES, {"page": None, "notes": {}, "new": {}})["new"][param] = \
        (text, None if shown(used) == shown(default) else shown(used))  # what the page's ``write`` leaves


def replay_slot(page: str):
    """Where ``replay`` will repeat ``page``'s link warnings: a container at the top of the
    page, made before the page runs; None where there are none to repeat (no empty gap)."""
    notes = st.session_state.get(LINK_NOTES)
    return st.container() if notes and notes["page"] == page and notes["notes"] else None


def replay(page: str, slot) -> None:
    """After each run of ``page``: its link's warnings from earlier runs again, in ``slot``,
    while the address holds for their parameter what the page used instead (a value chosen
    since, or another page opened, ends one; a bad value still in the address was warned of
    anew by the run itself). The warnings this run gave are kept for the next runs."""
    notes = st.session_state.get(LINK_NOTES)
    if notes is None:
        return
    if notes["page"] != page:
        notes.update(page=page, notes={})
    for param, (text, used) in list(notes["notes"].items()):  # (used: None for a default, left out)
        if param not in notes["new"] and st.query_params.get(param) == used and slot is not None:
            slot.warning(text, icon=":material/link_off:")
        else:
            del notes["notes"][param]
    notes["notes"].update(notes.pop("new"))
    notes["new"] = {}


def shown(value: Any) -> str:
    """A link's value as a warning names it: a list as the address writes it (a,b), not as Python."""
    return ",".join(map(as_text, value)) if isinstance(value, (list, tuple)) else as_text(value)


def write(param: str, value: Any, default: Any) -> None:
    """Put ``value`` in the URL (dropped when it equals ``default``)."""
    text = as_text(value)
    if value == default or text == as_text(default):
        if param in st.query_params:
            del st.query_params[param]
    elif st.query_params.get(param) != text:
        st.query_params[param] = text


def as_text(value: Any) -> str:
    """A widget value as the address writes it (a float in its shortest form: 0.002)."""
    return f"{value:g}" if isinstance(value, float) else str(value)


# -- widgets whose state lives in the URL ----------------------------------------------------

def selectbox(label: str, options: Sequence[str], *, key: str, param: str, default: str, hide: bool = False,
              first_word: bool = False, **kwargs) -> str:
    """``st.selectbox`` starting at ``?param=``; not drawn when ``hide``. ``first_word``: a
    link may name an option by its first word (``loose``)."""
    options = list(options)
    bound(key)
    was = st.session_state.get(key)
    if not hide and was is not None and was not in options and st.query_params.get(param) == as_text(was):
        # the box's own pick, which this page wrote in the address, is gone (an imported set deleted from another tab
        # or the command line): said so, not as a fault of "the link"
        del st.query_params[param]
        st.session_state[key] = default
        st.warning(f"{md(str(was))}, picked here, is no longer offered (deleted or changed elsewhere: another tab or "
                   f"the command line); showing {md(str(default))} instead.", icon=":material/info:")
    value = read(param, choice(options, first_word=first_word), default)
    if not hide:
        # a value the page put in the box's state stands; else the address's, put there (an ``index`` would be ignored
        # by a browser showing the box already: after Back it kept the value the address no longer had)
        if st.session_state.get(key) not in options:
            st.session_state[key] = value
        value = st.selectbox(label, options, key=key, **kwargs)
    write(param, value, default)
    return value


def toggle(label: str, *, key: str, param: str, default: bool, hide: bool = False, container=None,
           **kwargs) -> bool:
    """``st.toggle`` starting at ``?param=on`` or ``?param=off``; not drawn when ``hide``."""
    bound(key)
    value = read(param, choice(["on", "off"]), "on" if default else "off") == "on"
    if not hide:
        st.session_state.setdefault(key, value)  # (not ``value=``: see ``bound``)
        value = (container or st).toggle(label, key=key, **kwargs)
    write(param, "on" if value else "off", "on" if default else "off")
    return value


def number_input(label: str, lo: float, hi: float, default: float, step: float, *, key: str, param: str,
                 problems: list[str], hide: bool = False, container=None, **kwargs) -> float:
    """``st.number_input`` starting at ``?param=`` (whole numbers when ``default`` and
    ``step`` are ints); not drawn when ``hide``. A value outside ``lo``–``hi`` is returned
    as typed, and ``problems`` gets a sentence saying so: the box itself has no bounds,
    because the browser keeps a bounded box's last valid value when one outside is typed
    (with a red note the page never hears of), and a Launch then used that value."""
    whole = isinstance(default, int) and isinstance(step, int)
    bound(key)
    value = read(param, integer(int(lo), int(hi)) if whole else number(lo, hi), default)
    if not hide:
        st.session_state.setdefault(key, value)  # (not ``value=``: see ``bound``)
        value = (container or st).number_input(label, step=step, key=key, **kwargs)
    if not lo <= value <= hi:  # also nan
        show = "d" if whole else "g"
        problems.append(f"{label} must be from {lo:{show}} to {hi:{show}}; the box says {value:{show}}: type a "
                        "number in that range")
        return value
    write(param, value, default)
    return value


def start(key: str, param: str, parse: Callable[[str], Any], default: Any, of: str) -> Any:
    """Put in the session the value the widget under ``key`` starts at, unless it has one: the
    link's ``?param=`` (parsed, as ``read`` does) where the address's value is of ``of`` (the run
    or dataset it was chosen for; a fresh link's is), else ``default`` (a run picked since: the
    address still held the one before's value, which ``keep`` writes). For a widget given no
    ``value``/``index`` of its own, so Streamlit never warns of a widget set two ways."""
    bound(key)
    if key not in st.session_state:
        owner = st.session_state.get("_url_of", {}).get(param)
        st.session_state[key] = read(param, parse, default) if owner in (None, of) else default
    return st.session_state[key]


def keep(param: str, value: Any, default: Any, of: str) -> None:
    """``write`` a value chosen for ``of`` (a run, a dataset), remembering for ``start`` whose it is."""
    write(param, value, default)
    st.session_state.setdefault("_url_of", {})[param] = of


def select_slider(label: str, options: Sequence, *, key: str, param: str, default: Any, of: str, **kwargs) -> Any:
    """``st.select_slider`` starting at ``?param=`` (one of ``options`` as the address writes it), for ``of``."""
    options = list(options)
    texts = [as_text(o) for o in options]
    one = choice(texts)
    start(key, param, lambda raw: options[texts.index(one(raw))], default, of)
    value = st.select_slider(label, options=options, key=key, **kwargs)
    keep(param, value, default, of)
    return value
