"""The words the pages and lessons use, said for a newcomer who has not met them: each page's
sidebar lists those it uses (``PAGE_WORDS``), a lesson's box those its texts use (``words_in``)."""
from __future__ import annotations

import re

import streamlit as st

# words the lessons use, said for a student who has not met them (a review read "softmax", "hardest negatives",
# "anchor", "optimiser steps" and "linear probe" unexplained on a class's page): (term, pattern, meaning)
GLOSSARY = (
    ("pretext task", r"pretext", "a made-up task whose answers come from the images themselves (which way up an "
     "image was turned, which two crops came from one image), so that no labels are needed"),
    ("encoder", r"encoder", "the network that turns an image into its features: a list of numbers"),
    ("cnn-small", r"cnn-small", "the small convolutional encoder used on a CPU: fast enough for a class"),
    ("augmentation", r"augment", "a random change to an image (a crop, a flip, a change of colour) that should not "
     "change what it shows"),
    ("epoch", r"epoch", "one pass over all the training images"),
    ("batch", r"batch", "the images the network looks at together before each update of its weights"),
    ("optimiser step", r"optimi[sz]er step|\bsteps\b", "one update of the network's weights, made after each batch"),
    ("learning rate", r"learning rate", "how large each update of the weights is"),
    ("seed", r"\bseeds?\b", "the number that fixes a run's random choices (starting weights, image order, "
     "augmentations): the same seed gives the same run on one machine, another seed a slightly different one"),
    ("supervised", r"supervised", "trained with the labels, the usual way: the usual reference, which self-supervised "
     "features approach and, in some transfer settings, surpass"),
    ("kNN accuracy", r"\bknn\b", "each test image gets the label with the largest vote among its 20 most similar "
     "training images (by their features), each vote weighted by exp(similarity / 0.07), so the closest few count "
     "far more; the share of test images it gets right. Nothing is trained for it"),
    ("linear probe", r"linear (probe|readout)", "a one-layer classifier trained on the frozen features with the labels "
     "(also called a linear readout; here logistic regression): its test accuracy says how easily the labels can be "
     "read off the features"),
    ("softmax", r"softmax", "turns a list of scores into chances that add up to 1, the largest scores getting most"),
    ("temperature", r"temperature", "divides the similarities before SimCLR's softmax: a low one makes the loss care "
     "mostly about the few other images most like the anchor"),
    ("anchor", r"anchor", "one augmented view of an image, which the loss pulls towards the other view of the same "
     "image (each view takes its turn as the anchor)"),
    ("negatives", r"negatives", "the views of other images (the batch's; in MoCo, a queue of earlier batches'), which "
     "the loss pushes away from the anchor"),
    ("invariance", r"invarian", "a feature is invariant to a change (a flip, a colour shift) when the change leaves "
     "it as it was"),
    ("collapse", r"collaps", "the network gives (nearly) the same features to every image, or features that vary "
     "along only one or a few directions (dimensional collapse: a low effective rank); the loss can be low and the "
     "features useless"),
    ("effective rank", r"effective rank", "roughly, how many independent directions the features use; near 1 means "
     "they collapsed"),
    ("predictor", r"predictor", "a small extra network on one branch that predicts the other branch's features"),
    ("stop-gradient", r"stop-gradient|stop_gradient", "the other branch's features are a fixed target: the network "
     "is not trained through them"),
    ("projector", r"projector", "a small network after the encoder whose output the loss uses; the features that "
     "are evaluated come before it: the loss makes its output invariant, and the features before it keep more about "
     "the image"),
    ("features", r"\bfeatures?\b", "the list of numbers the encoder gives an image; a good encoder gives similar "
     "images similar numbers"),
    ("frozen", r"\bfrozen\b", "the encoder's weights are kept as pretraining left them: only a readout on top of its "
     "features is trained, so the score measures the features, not further training"),
    ("train and test split", r"(train|test)(ing)? (split|images)", "a dataset's images are divided once: readouts are "
     "trained on the train split and scored on the test split, images they never saw"),
    ("contrastive", r"contrastive", "a method that pulls two views of one image together and pushes the views of "
     "other images (the negatives) away; a non-contrastive one uses no negatives and needs another way to avoid "
     "collapse"),
    ("loss", r"\bloss\b", "the number training lowers; compare its shape over the epochs, not its value across "
     "methods, whose losses measure different things"),
    ("cosine similarity", r"cosine|similarit", "how alike two images' features are, from -1 to 1: 1 when they point "
     "the same way"),
    ("untrained network", r"untrained|random encoder", "the same network with its random starting weights, before any "
     "pretraining: what a method's accuracy must beat to have learned something"),
    ("UMAP map", r"umap|\bmap\b", "a picture placing each image as a point so that images with similar features land "
     "near each other; distances on it are rough"),
    ("label efficiency", r"label.efficiency|labels? per class", "how the accuracy grows with the number of labelled "
     "images per class: where self-supervision pays is at the fewest"),
    ("fine-tuning", r"fine-tun", "training the whole encoder further on the labelled images, not only a readout on top "
     "of its frozen features"),
)


# the glossary's words each page uses, in the glossary's order (a newcomer read kNN, linear probe, effective rank,
# UMAP and fine-tuning unexplained everywhere but in a lesson's box)
PAGE_WORDS = {
    "": ("pretext task", "encoder", "features", "frozen", "augmentation", "epoch", "linear probe", "untrained network"),
    "augment": ("augmentation", "invariance"),
    "pretrain": ("pretext task", "encoder", "features", "augmentation", "epoch", "batch", "learning rate", "seed",
                 "contrastive", "loss", "collapse", "effective rank", "projector", "predictor", "stop-gradient",
                 "softmax", "temperature", "anchor", "negatives"),
    "explore": ("encoder", "features", "UMAP map", "cosine similarity", "kNN accuracy", "linear probe",
                "untrained network", "collapse"),
    "evaluate": ("features", "frozen", "train and test split", "kNN accuracy", "cosine similarity", "linear probe",
                 "untrained network", "supervised", "label efficiency", "fine-tuning", "collapse", "effective rank",
                 "seed"),
    "invariance": ("augmentation", "invariance", "features", "cosine similarity", "untrained network",
                   "linear probe"),
    "compare": ("kNN accuracy", "linear probe", "untrained network", "label efficiency", "loss", "collapse",
                "effective rank", "UMAP map", "seed"),
    "gallery": ("kNN accuracy", "linear probe", "effective rank", "collapse", "UMAP map"),
    "learn": ("pretext task", "encoder", "features", "augmentation", "projector", "predictor", "stop-gradient",
              "collapse", "linear probe"),
}
MEANING = {term: meaning for term, _, meaning in GLOSSARY}


def words_in(text: str) -> list[tuple[str, str]]:
    """(term, meaning) of each glossary word ``text`` uses, in the glossary's order."""
    return [(term, meaning) for term, pattern, meaning in GLOSSARY if re.search(pattern, text, re.IGNORECASE)]


def page_words(page: str) -> list[tuple[str, str]]:
    """(term, meaning) of the words page ``page`` (its url path, "" for Start) uses."""
    wanted = set(PAGE_WORDS.get(page, ()))
    return [(term, MEANING[term]) for term, _, _ in GLOSSARY if term in wanted]


def sidebar_box(page: str) -> None:
    """The page's words in a closed box of the sidebar: at hand wherever they are read, and
    taking no room from the page (Explore's first screen holds the map and the first
    neighbours)."""
    if words := page_words(page):
        with st.expander(f"Words on this page ({len(words)})", icon=":material/menu_book:"):
            st.markdown(as_list(words))


def as_list(words: list[tuple[str, str]]) -> str:
    return "\n".join(f"- **{term}**: {meaning}." for term, meaning in words)
