"""CLI sub-commands; each module registers one verb on the `wsnas` parser."""
