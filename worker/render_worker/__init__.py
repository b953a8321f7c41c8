"""Render core and the Batch worker program (`python -m render_worker`)."""
