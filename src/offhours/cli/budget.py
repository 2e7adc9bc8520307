"""The warning shown by ``check`` and ``deploy plan`` when a run could outlast the function."""

from __future__ import annotations

from typing import TYPE_CHECKING

from offhours.cli.output import err, out

if TYPE_CHECKING:
    from offhours.config import Config

__all__ = ["warn_budget"]


def warn_budget(cfg: Config, *, show_fit: bool = True) -> None:
    """Warn when the configured waits could outlast the Lambda function's timeout."""
    from offhours.audit import budget_of

    budget = budget_of(cfg)
    if not budget.fits:
        err.print(
            f"warning: {budget.describe()} ([deploy] timeout); a run that slow is cut at the "
            "deadline and its sources reported as timed out. Lower the sources' timeouts, "
            "retries or max_retry_after, the notifiers' timeout or max_wait, or raise "
            "[deploy] timeout",
            markup=False,
        )
    elif show_fit:
        out.print(f"  budget:    {budget.describe()}", markup=False)
