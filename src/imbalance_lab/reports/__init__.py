"""Summaries, tables and plots of finished runs."""
