"""NAS-Bench-201: 4-node cells, 6 edges, 5 ops."""
