"""Layer 0: helpers that depend on nothing of wsnas (and never import torch)."""
