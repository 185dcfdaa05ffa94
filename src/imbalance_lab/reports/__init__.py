"""Reports of finished studies and runs: Markdown, CSV, plots and one HTML page, from templates.

A report only reads a results folder (through imbalance_lab.rundir): what each run wrote, and
what its experiment wrote for the report. It trains, loads and scores nothing.
"""
