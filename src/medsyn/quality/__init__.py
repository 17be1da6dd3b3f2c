"""Data-quality audit of real data: tables, signals and images.

Importing this package registers every built-in quality metric (see ``medsyn.metric.METRICS``);
:func:`audit` runs those that fit a dataset's modality.
"""

from medsyn.quality import image, signal, tabular
from medsyn.quality._audit import AuditResult, audit

__all__ = ["AuditResult", "audit", "image", "signal", "tabular"]
