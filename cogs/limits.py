"""The quotas in words, in the reader's language: a refusal or a queue notice, and what a member has left today.

``bot.quota`` decides and keeps its English sentences for the log and the command line; these are the same
sentences as the bot's language files word them (``quota.*``).
"""

from __future__ import annotations

from bot.quota import Allowance, QuotaDecision
from cogs.i18n import LocaleLike, Msg, msg, ordinal_msg, t


def figure(value: float) -> str:
    """``3.0`` -> ``3``, ``2.5`` -> ``2.5``: units read as plain numbers."""
    return f"{value:g}" if value != int(value) else str(int(value))


def decision_message(decision: QuotaDecision) -> Msg | None:
    """What a refusal or a queued job tells the member; None when the job may simply go ahead."""
    if decision.key is None:
        return None
    return msg(
        f"quota.{decision.key}",
        used=figure(decision.used),
        limit=figure(decision.maximum or 0),
        cost=figure(decision.cost),
        reset=int(decision.resets_at or 0),
        position=ordinal_msg(decision.ahead + 1),
    )


def allowance_footer(allowance: Allowance, locale: LocaleLike) -> str | None:
    """One short line for a result's footer (plain text: footers show no timestamps), or None without limits."""
    parts: list[str] = []
    if allowance.jobs_limit is not None:
        parts.append(t(locale, "quota.footer_jobs", left=allowance.jobs_left, limit=allowance.jobs_limit))
    if allowance.budget is not None:
        left, limit = figure(allowance.units_left or 0.0), figure(allowance.budget)
        parts.append(t(locale, "quota.footer_units", left=left, limit=limit))
    if allowance.running_limit is not None:
        parts.append(t(locale, "quota.footer_running", running=allowance.running, limit=allowance.running_limit))
    if not parts:
        return None
    if allowance.jobs_limit is not None or allowance.budget is not None:
        parts.append(t(locale, "quota.footer_reset"))
    return t(locale, "quota.footer_separator").join(parts)


def allowance_lines(allowance: Allowance, locale: LocaleLike) -> list[str]:
    """The allowance in full sentences (Discord markdown), for ``/settings``."""
    if not allowance.limited:
        return [t(locale, "quota.line_unlimited")]
    lines: list[str] = []
    if allowance.jobs_limit is not None:
        lines.append(
            t(
                locale,
                "quota.line_jobs",
                used=allowance.jobs_used,
                limit=allowance.jobs_limit,
                left=allowance.jobs_left,
            )
        )
    if allowance.budget is not None:
        used, limit, left = figure(allowance.units_used), figure(allowance.budget), figure(allowance.units_left or 0.0)
        lines.append(t(locale, "quota.line_units", used=used, limit=limit, left=left))
    if allowance.running_limit is not None:
        lines.append(
            t(
                locale,
                "quota.line_running",
                running=allowance.running,
                limit=allowance.running_limit,
                queued=allowance.queued,
            )
        )
    if allowance.jobs_limit is not None or allowance.budget is not None:
        lines.append(t(locale, "quota.line_reset", reset=int(allowance.resets_at)))
    return lines
