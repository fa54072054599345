"""`python -m assistant.cli`: the `trustline` command."""

from . import main

if __name__ == "__main__":
    main()
