"""wsnas: weight-sharing NAS made measurable.

Train super-nets over benchmark search spaces under the heuristics of "How to
Train Your Super-Net" (Yu, Ranftl, Salzmann) and score them against ground truth.
"""

__version__ = "0.1.0"
