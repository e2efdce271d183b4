"""``python -m websip``: the same as the ``websip`` command."""

from websip.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
