"""imbalance-lab: see and fix what class imbalance does to image classifiers."""

from imbalance_lab.errors import ImbalanceLabError

__version__ = "0.1.0"
__all__ = ["ImbalanceLabError", "__version__"]
