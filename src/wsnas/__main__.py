"""`python -m wsnas`: the same CLI as the `wsnas` console script."""

from wsnas.cli.main import main

if __name__ == "__main__":
    raise SystemExit(main())
