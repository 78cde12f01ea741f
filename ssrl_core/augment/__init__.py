"""Augmentations: batched ops with per-sample parameters, presets, and a spec parser.

A spec is a preset name (``simclr``) or a comma-separated list of ops, each optionally with
strength parameters: ``crop(min_scale=0.3),flip,color_jitter(p=0.5,hue=0)``.
"""
from __future__ import annotations

import math
import re
from fractions import Fraction

import torch

from ..text import meant
from .ops import OPS, Op

__all__ = ["OPS", "PRESETS", "Pipeline", "parse_augment", "canonical_augment", "repeated", "describe_ops", "explain",
           "strengths"]

PRESETS: dict[str, str] = {
    "simclr": "crop,flip,color_jitter,grayscale,blur",
    "none": "",
    "crop": "crop",
    "color": "color_jitter,grayscale",
    "digits": "crop(min_scale=0.4),rotate(degrees=15),blur(p=0.3),noise(p=0.3)",
}
PRESET_HELP: dict[str, str] = {
    "simclr": "SimCLR's ops for small images: crop (from 20% of the area; the paper's ImageNet recipe 8%), flip, "
              "colour jitter (its CIFAR strength), grayscale, and a light blur (the paper blurred ImageNet only)",
    "none": "no augmentation: both views are the image itself",
    "crop": "random resized crops only",
    "color": "colour distortion only (jitter and grayscale)",
    "digits": "for handwriting: crops, small rotations, blur and noise, no flips",
}

_TOKEN = re.compile(r"\s*([a-z_]+)\s*(?:\(([^)]*)\))?\s*(?:,|$)")


class Pipeline:
    """A list of ops applied in order to a float batch in [0, 1]."""

    def __init__(self, ops: list[Op]):
        self.ops = ops

    def __call__(self, x: torch.Tensor, g: torch.Generator | None = None) -> torch.Tensor:
        for op in self.ops:
            y = op(x, g)
            if y.shape != x.shape:  # (an op that cropped a border trained on smaller images, evaluated on full ones)
                raise ValueError(f"augmentation op {op.name} returned a batch of shape {tuple(y.shape)} for one of "
                                 f"{tuple(x.shape)}: an op must keep the images' size and channels (ssrl_core/augment/"
                                 "ops.py says what an op must do)")
            x = y
        return x

    def spec(self) -> str:
        return ",".join(op.spec() for op in self.ops)

    def __repr__(self) -> str:
        return f"Pipeline({self.spec() or 'none'})"


def parse_augment(spec: str | None) -> Pipeline:
    """Parse a preset name or an op list; raise ValueError with advice on bad input, naming
    every bad op at once (a spec with several typos is fixed in one go, not one per try)."""
    spec = (spec or "none").strip()
    if spec in PRESETS:
        spec = PRESETS[spec]
    ops: list[Op] = []
    problems: list[str] = []
    unknown: list[str] = []  # said in one sentence, where the first stood, with the choices once
    pos = 0
    while pos < len(spec):
        m = _TOKEN.match(spec, pos)
        if not m or m.end() == pos:
            problems.append(f"cannot read augmentation spec at {spec[pos:]!r}{_unreadable_hint(spec[pos:])}: write a "
                            f"preset ({', '.join(PRESETS)}) or ops like 'crop(min_scale=0.3),flip'")
            break
        name, args = m.group(1), m.group(2)
        pos = m.end()
        if name not in OPS and name in PRESETS and not args:  # 'simclr,rotate': a preset among ops
            written_out = ",".join(p for p in (spec[:m.start()].rstrip(", "), PRESETS[name],
                                               spec[m.end():].lstrip(", ")) if p)
            problems.append(f"{name!r} is a preset ({PRESETS[name] or 'no ops'}) and a preset stands alone: to "
                            f"combine it with other ops, write its ops out, e.g. {written_out!r}")
        elif name not in OPS and name in PRESETS:  # 'color(brightness=0.1)': "unknown 'color' (did you mean 'color'?)"
            problems.append(_preset_with_parameters(name, args, spec[:m.start()].rstrip(", "), spec[m.end():].lstrip(", ")))
        elif name not in OPS:
            if not unknown:
                problems.append("")  # the unknown names' place
            unknown.append(name)
        else:
            try:
                ops.append(_op(name, args))
            except ValueError as e:
                problems.append(str(e))
    if unknown:
        names = ", ".join(map(repr, dict.fromkeys(unknown)))
        typo = meant(unknown[0], [*OPS, *PRESETS]) if len(set(unknown)) == 1 else ""
        problems[problems.index("")] = (f"unknown augmentation{'s' if len(set(unknown)) > 1 else ''} {names}{typo}: choose "
                                        f"from {', '.join(OPS)} or a preset ({', '.join(PRESETS)})")
    if problems:
        raise ValueError("; ".join(problems))
    return Pipeline(ops)


def _pairs(args: str | None) -> dict[str, str]:
    """The ``name=value`` pairs written in an op's brackets, names and values without their spaces
    (a name alone gets the value "")."""
    return {k.strip(): v.strip() for k, _, v in (part.partition("=") for part in (args or "").split(",") if part.strip())}


def _preset_with_parameters(name: str, args: str, before: str = "", after: str = "") -> str:
    """Why ``name(args)``, a preset given parameters between the ops ``before`` and ``after``, cannot be read, and
    how to write it: the preset's ops written out, each parameter given on the first of them that takes it (beside
    their own), as an example only where that example parses."""
    said = f"{name!r} is a preset ({PRESETS[name] or 'no ops'}) and takes no parameters"
    if not PRESETS[name]:
        return said
    given = _pairs(args)
    ops = [(m.group(1), _pairs(m.group(2))) for m in _TOKEN.finditer(PRESETS[name])]  # each op with its own
    takers = {key: [op for op, _ in ops if key in OPS[op]().params()] for key in given}
    if nowhere := [key for key, by in takers.items() if not by]:
        return (f"{said}, and none of its ops ({', '.join(op for op, _ in ops)}) takes {', '.join(map(repr, nowhere))}"
                ": `python -m ssrl_core list augmentations` says which op takes what")
    for key, by in takers.items():  # on the first op that takes it, beside (or over) that op's own
        next(own for op, own in ops if op == by[0])[key] = given[key]
    written = ",".join(op + (f"({','.join(f'{k}={v}' for k, v in own.items())})" if own else "") for op, own in ops)
    example = ",".join(p for p in (before, written, after) if p)
    shared = [f"{key} is taken by {', '.join(by[:-1])} and {by[-1]}: set it on each you mean"
              for key, by in takers.items() if len(by) > 1]
    try:
        parse_augment(example)
    except ValueError:
        example = ""
    return (f"{said}: write its ops out with each parameter on the op that takes it"
            + (f", e.g. {example!r}" if example else "") + (f" ({'; '.join(shared)})" if shared else ""))


def repeated(spec: str) -> str | None:
    """Why a spec a person typed gives one op's parameter twice ('flip(p=1,p=0)', which takes the
    last, silently), or None. Checked where specs are typed (``train``/``submit``'s --augment,
    the Augment page's box), not by ``parse_augment``: runs recorded so before still load."""
    for m in re.finditer(r"([a-z_]+)\s*\(([^)]*)\)", spec or ""):
        keys = [part.partition("=")[0].strip() for part in m.group(2).split(",") if "=" in part]
        if twice := next((k for k in keys if keys.count(k) > 1), None):
            return f"{m.group(1)}({m.group(2).strip()}) gives {twice} twice: give it once"
    return None


def canonical_augment(spec: str) -> str:
    """``spec`` as a run records it: a preset by its name, ops as they parse (``Pipeline.spec``:
    'crop, flip,' is 'crop,flip', a parameter at its default is left out), no ops as 'none'; a
    spec that does not parse, as written. `--augment 'flip,'` was recorded as typed, and Compare
    called it a different augmentation from 'flip'."""
    text = spec.strip()
    if text in PRESETS:
        return text
    try:
        return parse_augment(text).spec() or "none"
    except ValueError:
        return spec


def _unreadable_hint(rest: str) -> str:
    """Why the spec's ``rest`` cannot be read, where a common slip explains it: a name not in
    lowercase ('Flip'), ops separated by spaces ('flip crop'); "" otherwise."""
    word = re.match(r"\s*([^\W\d]+)", rest)
    if word and word.group(1) != word.group(1).lower() and word.group(1).lower() in (*OPS, *PRESETS):
        return f" (names are written in lowercase: {word.group(1).lower()!r})"
    if re.match(r"\s*[a-z_]+\s*(\([^)]*\))?\s*[\s;|+]\s*[a-z_]", rest):
        return " (separate ops with commas, e.g. 'crop,flip')"
    if m := re.match(r"\s*([a-z_]+)\s*\(([^)]*)$", rest):
        return f" (its bracket is not closed: '{m.group(1)}({m.group(2).strip()})')"
    if (m := re.match(r"\s*([a-z_]+)\s*[:=]\s*([^,()]*)", rest)) and m.group(1) in OPS:
        name, value = m.group(1), m.group(2).strip() or "..."
        return (f" (an op's parameters go in brackets, each by its name: e.g. '{name}({next(iter(OPS[name]().params()))}="
                f"{value})'; {name} takes {', '.join(OPS[name]().params())})")
    return ""


def _op(name: str, args: str | None) -> Op:
    """The op ``name(args)`` with its parameters checked (ValueError saying what is wrong)."""
    cls = OPS[name]
    kwargs = {}
    allowed = cls().params()
    for part in filter(None, (a.strip() for a in (args or "").split(","))):
        key, eq, val = part.partition("=")
        key = key.strip()
        if not eq:  # 'flip(0.5)': "flip has no parameter '0.5'" did not say how to write it
            raise ValueError(f"{name}({part}): write each parameter as name=value, e.g. "
                             f"{name}({next(iter(allowed))}={part}); {name} takes {', '.join(allowed)}")
        if key not in allowed:
            raise ValueError(f"{name} has no parameter {key!r}{meant(key, allowed)}: it takes {', '.join(allowed)}")
        try:
            kwargs[key] = float(val)
        except ValueError:
            raise ValueError(f"{name}({key}=...) needs a number, got {val.strip()!r}") from None
    op = cls(**kwargs)
    _check_ranges(op)
    return op


def _check_ranges(op: Op) -> None:
    for k, v in op.params().items():
        if not math.isfinite(v):  # nan slips past every comparison below; inf makes nan images
            raise ValueError(f"{op.name}({k}={v:g}): must be a finite number")
        if k in op.ranges:  # the op's own bounds (``Op.ranges``), in place of the shared rules below
            lo, hi, step = op.ranges[k]
            if not lo <= v <= hi:
                raise ValueError(f"{op.name}({k}={v:g}): must be between {lo:g} and {hi:g}")
            if step == 1 and v != int(v):
                raise ValueError(f"{op.name}({k}={v:g}): must be a whole number")
            continue
        if v < 0:
            raise ValueError(f"{op.name}({k}={v:g}): must not be negative")
        if (k == "p" or k.endswith("scale") or k.endswith("area")) and v > 1:
            raise ValueError(f"{op.name}({k}={v:g}): must be between 0 and 1")
    for lo, hi in (("min_scale", "max_scale"), ("min_sigma", "max_sigma"), ("min_area", "max_area"), ("min_ratio", "max_ratio")):
        p = op.params()
        if lo in p and p[lo] > p[hi]:
            raise ValueError(f"{op.name}: {lo} ({p[lo]:g}) must not exceed {hi} ({p[hi]:g})")
    # strengths past which the op does nothing more (a review's solarize(threshold=5) inverted no pixel, and the page
    # drew it as an op at work)
    if op.name == "solarize" and op.params()["threshold"] > 1:
        raise ValueError(f"solarize(threshold={op.params()['threshold']:g}): must be between 0 and 1 (pixels run from "
                         "0 to 1: above 1, no pixel is inverted)")
    if op.name == "color_jitter" and op.params()["hue"] > 0.5:
        raise ValueError(f"color_jitter(hue={op.params()['hue']:g}): must be between 0 and 0.5 (0.5 turns hue by up "
                         "to ±180°, any colour into any other)")
    if op.name == "crop" and op.params()["min_scale"] <= 0:
        raise ValueError("crop(min_scale=...) must be above 0")
    for k in ("min_ratio", "min_sigma"):  # a log of 0; a Gaussian of width 0 (nan images)
        if k in op.params() and op.params()[k] <= 0:
            raise ValueError(f"{op.name}({k}={op.params()[k]:g}): must be above 0")


def describe_ops() -> list[dict]:
    """Name, description and default strengths of every op (for help texts and the app)."""
    return [{"name": n, "description": c.description, "params": c().params()} for n, c in OPS.items()]


def number(v: float) -> str:
    """A strength as a caption writes it: two decimals at most (1.33, not 1.33333), two
    significant digits below 0.1 (0.02, 0.005), no trailing zeros (1, not 1.00)."""
    if v == 0:
        return "0"
    return f"{round(v, 2):g}" if abs(v) >= 0.1 else f"{v:.2g}"


def _ratio(v: float) -> str | None:
    """An aspect ratio (width over height) as "3:4" where a fraction of numbers up to 16 is it
    (3:4, 16:9), else None."""
    f = Fraction(v).limit_denominator(16)
    return f"{f.numerator}:{f.denominator}" if abs(float(f) - v) < 5e-4 and 0 < f.numerator <= 16 else None


def strengths(op: Op) -> str:
    """An op's strengths as a student reads them, its parameters' names as its sliders have
    them: "scale 0.2 to 1, aspect ratio 3:4 to 4:3", "brightness 0.4, …, hue 0.1 = ±36°,
    probability 0.8". A min and max pair is one range; the probability comes last."""
    params = op.params()
    parts = []
    for k, v in params.items():
        if k == "p" or k.startswith("max_"):
            continue
        if k.startswith("min_"):
            base, top = k[4:], params[f"max_{k[4:]}"]
            # an aspect ratio as width:height where both ends are such (3:4 to 4:3), else both as numbers
            ends = [_ratio(v), _ratio(top)] if base == "ratio" else [None]
            low, high = (ends if None not in ends else [number(v), number(top)])
            parts.append(f"{'aspect ratio' if base == 'ratio' else base} {low if v == top else f'{low} to {high}'}")
        elif k == "hue":
            parts.append(f"hue {number(v)} = ±{op.hue_degrees:.0f}°")
        elif k == "degrees":
            parts.append(f"up to {number(v)}°")
        else:
            parts.append(f"{k} {number(v)}")
    if "p" in params:
        parts.append(f"probability {number(params['p'])}")
    return ", ".join(parts)


def explain(op: Op) -> str:
    """What ``op`` does at its strengths, in one sentence with one bracket group: its
    description, whose "(probability p)" the strengths' probability replaces ("… hue
    (probability p) (brightness 0.4, …)" read twice bracketed), then ``strengths``."""
    what = re.sub(r"\s*(\(probability p\)|,? with probability p)$", "", op.description)
    return f"{what} ({strengths(op)})" if op.params() else what
