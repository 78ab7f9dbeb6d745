"""Layer 5: one run's machinery: the epoch loop, its hooks, checkpoints, run dir, identity, DDP."""
