"""Augment: what a preset or a list of ops does to images, two views per image."""
import streamlit as st
import torch

from app import readouts, services, urlstate, widgets
from app.text import md
from app.images import grid
from ssrl_core.augment import explain, parse_augment, repeated

TRIPLET_MIN_PX = 200  # two frames to a row beside the controls on a projector, one on a phone

st.title("Augment")
st.markdown("Instance-discrimination methods (SimCLR, BYOL, …) learn that **two views of one image are the "
            "same thing**. Whatever differs between the views is what the features learn to ignore.")
c1, c2 = st.columns([1, 2])
with c1:
    hide = urlstate.hidden("controls")
    name = urlstate.selectbox("Dataset", list(services.datasets()), key="aug_dataset", param="dataset",
                              default="digits", hide=hide)
    # a spec typed below reaches the boxes through the address: new boxes (their keys one generation on) start from it,
    # as Pretrain's form does from a run's settings (a box keeps its value under its key whatever the address says)
    gen = urlstate.generation("aug_gen")  # (one on after the browser's Back or Forward too: urlstate.follow)
    spec = widgets.augment_picker(f"aug{gen}" if gen else "aug", name, param="augment", hide=hide)
    if hide:
        st.markdown(f"**{name}**, augmentations `{spec}`")
    try:
        pipeline, bad_spec = parse_augment(spec), None
    except ValueError as e:
        pipeline, bad_spec = None, str(e)
    # above the pictures they redraw: under the boxes, each op's strengths above them put them under the first screen
    # with three ops or more (and under what each op does, 9 px under a 1280x720 one with the default)
    buttons = c2.container(horizontal=True)
    urlstate.bound("aug_seed")
    if "aug_seed" not in st.session_state:  # a link's draw (?sample=N): the views a teacher regenerated to, shared
        st.session_state["aug_seed"] = urlstate.read("sample", urlstate.integer(0, 10**9), 0)
    if buttons.button("Regenerate", key="aug_regenerate"):
        st.session_state["aug_seed"] += 1
    if pipeline is not None:
        widgets.train_with_button(name, spec, buttons, key="aug_train")
    if pipeline is not None and pipeline.ops:  # the chips above name the ops; what they do, in full
        st.caption("What each op does, at these strengths:  \n"
                   + "  \n".join(f"`{o.name}`: {explain(o)}" for o in pipeline.ops))
    if not hide:  # a hand-written spec could be given only by editing the address (below the buttons: above, it
        # pushed Regenerate off a 1280x720 screen)
        typed = st.text_input("Or type the augmentations", key=f"aug_typed{gen or ''}", placeholder=spec,
                              help="As `python -m ssrl_core train --augment` takes them: a preset, or ops with "
                                   "strengths, e.g. `crop(min_scale=0.3),color_jitter(hue=0.5)`. Press Enter to use "
                                   "them; the boxes above follow.").strip()
        if typed:
            try:
                parse_augment(typed)
                if twice := repeated(typed):
                    raise ValueError(twice)
            except ValueError as e:
                st.error(f"Not used: {md(e)}", icon=":material/edit_off:")
            else:
                st.query_params["augment"] = typed
                st.session_state["aug_gen"] = gen + 1
                st.rerun()
ds, error = services.dataset(name)
if error:
    widgets.dataset_error(error, c2, name)
    widgets.stop()
if bad_spec:
    c2.error(bad_spec)
    widgets.stop()

seed = st.session_state["aug_seed"]
urlstate.write("sample", seed, 0)
g = torch.Generator().manual_seed(seed)
rows = torch.randperm(len(ds), generator=g)[:8]
x = ds.images[rows].float() / 255
v1, v2 = pipeline(x, g), pipeline(x, g)
with c2:
    st.caption(f"Each frame: an image, then two augmented views of it. Under it: {readouts.caption_key(ds)}.")
    # a review saw grayscale's three pictures alike in every frame on digits, and nothing said why
    colour_ops = [o.name for o in pipeline.ops if o.name in ("grayscale", "color_jitter")]
    if ds.channels == 1 and colour_ops:
        widgets.icon_caption(
            "info", f"{name} has one channel (gray): "
            + "; ".join({"grayscale": "`grayscale` changes nothing here",
                         "color_jitter": "`color_jitter` changes only brightness and contrast (its saturation "
                                         "and hue need colour)"}[o] for o in colour_ops) + ".")
    # framed, a gap between frames: side by side the pictures read as one strip of six images
    widgets.image_grid([grid(torch.stack([x[i], v1[i], v2[i]]), cols=3, scale=3) for i in range(len(rows))],
                       [readouts.image_caption(ds, int(r)) for r in rows], 2, min_px=TRIPLET_MIN_PX, border=True,
                       pictures=True,
                       alts=[readouts.image_alt(ds, int(r)) + ", then two augmented views of it" for r in rows])
