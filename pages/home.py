"""Start: what the playground is, and a one-click first run."""
import streamlit as st

from app import services, urlstate, widgets
from app.text import about, agree, count
from ssrl_core.config import RunConfig

st.title("SSRL Playground")
st.markdown(
    "Train an encoder **without labels**, then look at what it learned. Pick a dataset, a "
    "*pretext task* (a puzzle the network solves on unlabelled images) and a set of "
    "augmentations; pretraining runs in the background, and the map, the nearest neighbours "
    "and the probes show which structure the features picked up.\n\n"
    "The four families of pretext tasks (Ericsson et al., *Self-Supervised Representation "
    "Learning: Introduction, advances, and challenges*): **masked prediction**, "
    "**transformation prediction** (e.g. rotation), **instance discrimination** (e.g. SimCLR) "
    "and **clustering**. Each is judged by how well a simple readout of its frozen features "
    "classifies, next to an untrained (random) encoder."
)

cfg = RunConfig(dataset="digits", method="simclr", epochs=10)
# from runs like it that finished here (their seconds per epoch, then their evaluation), if any: the header
# said "about a minute" above a caption that said "about 6 min" on a busy machine
took = services.run_seconds([cfg.to_dict()])
# the minute is an idle machine's (a newcomer waited 8): on a busy one the header promises no time
load = services.busy() if took is None else ""
# (said as Pretrain says it: "about 1 min" here beside Pretrain's "less than a minute" for the same 22 s run)
st.header("Your first run" + ("" if load else f", in {'about a minute' if took is None else about(took)}"))
c1, c2 = st.columns([2, 3])
with c1:
    if st.button("Train SimCLR on digits (10 epochs)", type="primary", key="quick_start"):
        twin = services.active_twin(cfg)  # pressed twice: the run already queued
        rid, refused = (twin, None) if twin else services.submit(cfg)
        if refused:
            st.error(refused)
        else:
            st.session_state[services.LAUNCHED] = rid  # Pretrain says it was queued
            st.session_state[services.LAUNCHED_ON_START] = True  # at its top: Launch, where it is said, is far below
            # a teacher's link (``?hide=controls,nav``) stays one: Pretrain without its knobs, as the link promised
            st.switch_page("../pages/pretrain.py", query_params=urlstate.carried())
with c2:
    st.caption("SimCLR pulls two augmented views of each image together and pushes other images away. "
               + ("On a 2-core CPU the run takes about a minute; the map is ready soon after."
                  if took is None and not load else
                  f"On an idle 2-core CPU the run takes about a minute, but this machine is busy now ({load}: "
                  "more work than it has cores), so it will take longer." if took is None else
                  f"On this machine it should take {about(took)}, the map included (going by the runs like it "
                  "that finished here; longer while other runs train)."))
    # in a class, the minute is not what a student waits: say what is ahead, and what is already there
    ahead = services.store().count(services.ACTIVE)
    if ahead:
        widgets.icon_caption(
            "hourglass_top", f"{count(ahead, 'run')} {agree(ahead, 'is', 'are')} queued or training on this server "
            "now; a new run waits for them (the worker takes runs oldest first), so it starts later than that.")
    widgets.twin_link(cfg)

st.header("Then")
st.caption("A first path: while the run trains, see what augmentations do and read how the four families learn; "
           "once it is done, click its map on Explore, then see on Evaluate how far it beats an untrained network.")
# labels of one line on a phone (about 36 characters): a link's label does not wrap, and "Read how the four families
# of pretext tasks work, with p…" was cut at 318 px; the rest in its tooltip
NEXT = [("data", "Browse a dataset", "photo_library", None),
        ("augment", "See what augmentations do to images", "shuffle", None),
        ("pretrain", "Launch and watch runs", "model_training", None),
        ("explore", "Click the map, see the neighbours", "scatter_plot", None),
        ("evaluate", "Compare runs with the random encoder", "leaderboard", None),
        ("learn", "The four families of pretext tasks", "menu_book", "How each family works, with pictures made from "
                                                                     "the data"),
        ("lessons", "Follow a lesson to its verdict", "school", "One question, its runs in one click, and a verdict on "
                                                              "whether the expected outcome appeared"),
        ("gallery", "See every finished run of the class", "grid_view", None)]
kept = urlstate.carried()  # the teacher's ``hide``, on every page these lead to
for page, label, icon, help_ in NEXT:
    st.page_link(f"../pages/{page}.py", label=label, icon=f":material/{icon}:", help=help_, query_params=kept)
