"""Batches and sweeps: many runs of neural_art.py, each in its own run folder, on Ray.

jobs.py makes a batch's jobs (JOBS.csv, a content x style grid, --sweep) as
command lines and checks them; task.py is one job in a Ray worker; engine.py
runs the jobs on Ray; cluster.py starts that Ray, or checks and joins the cluster at
--ray-address; report.py keeps batch.json and draws the batch's contact sheet.
"""
