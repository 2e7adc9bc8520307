"""``python -m offhours`` — the same as the ``offhours`` command."""

from offhours.cli import main

main()
