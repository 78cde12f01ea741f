"""The registries' one rule: a name is taken once.

``METHODS`` and ``OPS`` are dicts keyed by each class's ``name``; a second class given a name
already taken replaced the first without a word (a contributor's review: a copied method left
named ``rotation`` removed RotNet from ``list methods``, and an op named ``flip`` changed the
``simclr`` preset's flip), so the registries are built here, which refuses it at import.
"""
from __future__ import annotations


def by_name(classes, what: str) -> dict:
    """{cls.name: cls} for ``classes`` in their order; ValueError naming both classes where two
    share a name (``what``: "method", "augmentation op")."""
    out: dict = {}
    for cls in classes:
        if cls.name in out:
            raise ValueError(f"two {what}s are named {cls.name!r}: {out[cls.name].__module__}.{out[cls.name].__name__} "
                             f"and {cls.__module__}.{cls.__name__}; give the new one a name of its own (its class's "
                             "`name`, which the command line and the app use)")
        out[cls.name] = cls
    return out
