"""Where runs execute, whatever they are: a local process pool, Ray, Slurm; GPU placement; the
worker process; task kinds (`execution.tasks`), registered by the studies that submit them.

Below the studies (`sweep`, `estimators`, `bench build`), which use it; it imports neither. Nothing
is imported here so that a spawned worker loads only `execution.worker` (no torch before its
thread variables are set)."""
