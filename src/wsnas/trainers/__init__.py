"""Layer 6: what is trained in a run: the super-net (f_ws) and the stand-alone net (f_proxy)."""
