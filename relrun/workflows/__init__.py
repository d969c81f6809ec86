"""Workflows tie the layers together: load → render → run → report. The CLI calls these."""
