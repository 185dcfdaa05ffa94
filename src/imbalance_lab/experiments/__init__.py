"""Studies made of several runs: the article's study (more presets in later issues)."""

from imbalance_lab.experiments.article import ARTICLE_RUNS, reproduce_article
from imbalance_lab.experiments.runner import PlannedRun, run_all

__all__ = ["ARTICLE_RUNS", "PlannedRun", "reproduce_article", "run_all"]
