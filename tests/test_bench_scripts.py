"""The benchmark scripts' own arithmetic (the scripts themselves train for minutes)."""
from bench.colour_invariance import summarise


def test_colour_drops_pair_each_seed_with_the_same_seeds_reference():
    row = lambda aug, seed, c2: {"augment": aug, "seed": seed, "invariance_color_jitter": 0.5,  # noqa: E731
                                 "color_probe_2": c2, "shape_probe_2": 0.2, "color_probe_all": 1.0}
    rows = [row("ref", 0, 0.99), row("jit", 0, 0.85), row("ref", 1, 0.90), row("jit", 1, 0.88)]
    ref, jit = summarise(rows, ["ref", "jit"])
    assert "color_drop_points" not in ref and ref["color_probe_2"] == 0.945
    assert jit["color_drop_points"] == [14.0, 2.0] and jit["color_drop_mean"] == 8.0 and jit["seeds"] == [0, 1]
