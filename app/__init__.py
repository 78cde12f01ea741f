"""The Streamlit shell: entry point, shared widgets, chart builders and the run-store client.

Only ``app/`` and ``pages/`` import Streamlit; everything they show comes from
``ssrl_core``. ``charts`` and ``images`` are plain functions (no Streamlit) so they can be
tested and reused by scripts.
"""
