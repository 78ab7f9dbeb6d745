"""A wsnas plugin: the weight_l1 estimator and the first_of_two sampler (CONTRIBUTING.md)."""
