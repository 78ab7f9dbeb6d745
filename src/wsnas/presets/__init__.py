"""Configs and specs that ship with wsnas (used by `wsnas demo` and the mini benchmark's build)."""
