"""Allow ``python -m reunistat.cli``."""

from reunistat.cli import main

main()
