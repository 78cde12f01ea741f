"""SSRL Playground library: datasets, augmentations, encoders, pretext tasks, training,
evaluation and the run store. Headless: never imports Streamlit."""

__version__ = "0.1.0"
