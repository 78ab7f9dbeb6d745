"""Search algorithms that learn an architecture distribution beside the super-net's weights.

Declared (names, defaults, refusals) in `wsnas.spaces.algorithms`, torch-free; implemented here,
one module per family, each a subclass of `base.Algorithm` that the trainer builds by its spec's
`module:Class` target (`build.build_algorithm`). docs/search.md says which reference each follows.
"""
