"""Learn: the four families of self-supervised pretext tasks in a few sentences each, with
pictures made from the data by the methods' own code, each linked to the lesson that
demonstrates it (``/lessons?lesson=ID``) and to Pretrain with the method chosen."""
from urllib.parse import urlencode

import streamlit as st

from app import services, urlstate, widgets
from app.text import md
from ssrl_core.data import check_files
from ssrl_core.lessons import load_by_name
from ssrl_core.pretext import METHODS


def lesson_url(lesson_id: str) -> str:
    """A lesson's link, relative (works under a server base path too), keeping the
    teacher's ``hide`` (markdown links open in a new tab: the nickname follows by the cookie)."""
    return "./lessons?" + urlencode({"lesson": lesson_id, **urlstate.carried()})


st.title("Learn: four ways to learn without labels")
st.markdown(
    "Labels are expensive; images without them are plentiful. Self-supervised learning trains an encoder on the "
    "images alone, so that a simple readout of its features becomes a classifier with a handful of labels per "
    "class. A *pretext task* is a puzzle made from unlabelled images; solving it forces the encoder to describe "
    "the images in a useful way. The survey this playground follows (Ericsson et al., *Self-Supervised "
    "Representation Learning: Introduction, advances, and challenges*) groups them in four families. "
    "Every picture below is made now, from the data, by the same code the methods train with.")

# every set whose images are on this disk: the built-ins, imported sets, downloadable ones already in place
described = services.datasets()
datasets = [n for n in described if check_files(n) is None]
controls = not urlstate.hidden("controls")
name = urlstate.selectbox("Pictures from", datasets, key="learn_dataset", param="dataset", default=datasets[0],
                          hide=not controls)
if not controls:  # the box hidden (a teacher's link): still say whose images these are, as Data does
    st.markdown(f"Pictures from **{md(name)}** — {md(described[name])}")
# the features of the self-supervised run with the best kNN accuracy, the newest on a tie (not a baseline: an
# untrained encoder clusters poorly, and a supervised one's features were made with the labels the caption says
# were not used; not simply the newest: a 1-epoch run's clusters made a poor picture of the idea)
ssl = [r for r in services.finished_runs(name) if r["method"] in METHODS and METHODS[r["method"]].family != "baseline"]
run = max(ssl, key=lambda r: (r["summary"] or {}).get("knn_accuracy") or 0.0, default=None)
try:
    pics = services.learn_pictures(name, run["run_dir"] if run else None, services.home())
except ValueError as e:
    st.error(str(e))
    widgets.stop()


def purity_note(purity: float | None, pixels: float | None, ceiling: float | None = None) -> str:
    """How often an image's label is its cluster's most common one, out of the most its clusters
    can give (``images.purity_ceiling``: fewer clusters than classes), and, for a run's
    features, the same on the images' ``pixels`` (None: the clusters are of pixels), with what it
    means when the pixels group better."""
    if purity is None:
        return ""
    said = f" {purity:.0%} of the clustered images carry their cluster's most common label"
    if ceiling is not None and ceiling < 0.995:
        said += f" (of at most {ceiling:.0%}: there are fewer clusters than classes)"
    if pixels is None:
        return said + "."
    said += f"; clustered by their raw pixels instead, {pixels:.0%}."
    if purity < pixels:
        said += (" Here the pixels group by label better than the run's features do: an image's nearest neighbours in "
                 "feature space mostly share its label (what the kNN accuracy counts), but k-means' six large groups "
                 "cut across labels. The probes on Evaluate, not this picture, say how good the features are.")
    return said


def lesson_link(lesson_id: str) -> str:
    """A Markdown link to a lesson, named by its title as the Lessons page names it (Learn's own
    words for them, "collapse without a stop-gradient", matched no title there)."""
    return f"[Lesson: {md(load_by_name(lesson_id).title)}]({lesson_url(lesson_id)})"


def links(lessons: list[str], method: str) -> None:
    st.markdown(" · ".join(lesson_link(lid) for lid in lessons))
    st.page_link("../pages/pretrain.py", label=f"Try {method} on Pretrain", icon=":material/model_training:",
                 query_params={"dataset": name, "method": method, **urlstate.carried()})


def family(title: str, text: str, lessons: list[str], method: str):
    """One family: its header, its text and links on the left; returns the right column."""
    st.header(title)
    left, right = st.columns([3, 2], gap="large")
    with left:
        st.markdown(text)
        links(lessons, method)
    return left, right


_, right = family(
    "1. Masked prediction",
    "Hide part of the image and ask the network to fill it in from what is left. To guess the hole it "
    "must describe the surroundings: strokes, edges, which object this is. **Inpainting** (Context "
    "Encoders) hides one square; the **masked autoencoder** (MAE) hides three quarters of small patches "
    "and its encoder sees only the rest. Features learned this way are often weak under a frozen linear "
    "probe (here too, on small data); they are meant to be fine-tuned, which is where the MAE paper gets its "
    "best results.",
    ["four-families"], "inpainting")
right.image(pics["masked"], caption="original · inpainting, central square · inpainting, random square · "
                                    "MAE, 75% of 4×4 patches hidden (gray)",
            alt="four images, each in a row: whole, with its centre hidden, with a random square hidden, and with "
                "three quarters of its patches hidden")

_, right = family(
    "2. Transformation prediction",
    "Transform the image in a known way and ask which transform it was. **RotNet** rotates every image "
    "by 0, 90, 180 and 270 degrees and predicts the angle. To tell that a 7 is upside down, the network "
    "has to know what a 7 looks like: where the object is, what it is and which way it faces. This only works on data with a *canonical view*: shapes "
    "drawn at random angles have no \"upright\" to learn.",
    ["canonical-view"], "rotation")
right.image(pics["rotation"], caption="each row: one image at 0°, 90°, 180°, 270°; the label is the angle",
            alt="four images, each in a row turned by 0, 90, 180 and 270 degrees")

_, right = family(
    "3. Instance discrimination",
    "Make two random views of the same image (crop, flip, colour jitter…) and teach the network that "
    "they are the same thing. **Contrastive** methods (SimCLR, MoCo) also push views of *other* images "
    "away; a temperature sets how hard. **Non-contrastive** methods (BYOL, SimSiam, Barlow Twins, VICReg) "
    "use no negatives, so they need another way not to *collapse* to one point: a predictor with a "
    "stop-gradient (SimSiam) or a slowly moving copy of the network as the target (BYOL), or terms on the "
    "batch's statistics (Barlow Twins' decorrelated dimensions, VICReg's variance and covariance). Whatever differs between the two views is what the features learn to ignore: "
    "the augmentations decide the invariances.",
    ["color-invariance", "collapse", "contrastive-knobs"], "simclr")
right.image(pics["pairs"], caption="each row: the original, then two augmented views: a positive pair",
            alt="images, each in a row beside two randomly cropped, flipped and recoloured views of it")

left, right = family(
    "4. Clustering",
    "Group the images by similarity and use the groups as labels. **DeepCluster** runs k-means on the "
    "features every epoch and trains the network to predict each image's cluster. **SwAV** assigns "
    "clusters during training, balanced so that every cluster gets its share of each batch, and predicts one "
    "view's cluster from the other. It makes few assumptions about the data: the clusters only have to be consistent "
    "(and, in SwAV, of equal size), not to match any human label.",
    ["four-families"], "deepcluster")
n = f"{pics['clustered']:,}"
left.caption((f"k-means (faiss, as DeepCluster, without its PCA-whitening) on {n} images' features from the "
              "self-supervised run with the best kNN accuracy here, "
              f"{services.run_label(run)}." if run else
              f"k-means (faiss, as DeepCluster) on the raw pixels of {n} images; with a finished self-supervised run "
              "on this dataset, its features are clustered instead.") + " Labels were not used to make the clusters."
             + purity_note(pics["purity"], pics["pixel_purity"], pics["purity_ceiling"]))
right.image(pics["clusters"], caption=pics["cluster_captions"],
            alt=[f"a row of images from one k-means {c}" for c in pics["cluster_captions"]])

st.divider()
st.markdown("**How few labels?** A good pretext task gives features that a simple readout turns into a classifier "
            "with a handful of labels per class, where training from scratch needs many more. "
            + lesson_link("labels-are-expensive"))
