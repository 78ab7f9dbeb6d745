"""nb201_mini: a 3-node NAS-Bench-201 cell whose full ground truth ships with wsnas."""
