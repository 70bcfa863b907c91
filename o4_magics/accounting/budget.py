"""The per-notebook spending cap: reserve each call's worst case before sending, settle it after.

A call is refused when what the notebook spent, plus what calls in flight hold (threads, the chat, other
kernels sharing the ledger), plus this call's worst case would pass ``O4Magics.budget_usd``. The worst case
prices a safe upper bound of the prompt and the output cap (``--max-tokens``, else ``DEFAULT_WORST_OUTPUT_TOKENS``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import BudgetExceeded
from .money import format_share, format_usd, round_up_usd
from .prices import prices_for

#: Output assumed for the worst case when --max-tokens is not set (stated in the README).
DEFAULT_WORST_OUTPUT_TOKENS = 10_000
WARN_FRACTION = 0.8

__all__ = [
    "BudgetExceeded",
    "WorstCase",
    "worst_case",
    "refusal",
    "period_refusal",
    "budget_note",
    "DEFAULT_WORST_OUTPUT_TOKENS",
]


@dataclass(frozen=True)
class WorstCase:
    """The most a call may cost, and what that assumes."""

    usd: float
    prompt_tokens: int
    output_tokens: int
    capped: bool  # True when --max-tokens set the output


def worst_case(model: str, prompt_tokens: int, max_tokens: int | None, known: dict | None = None) -> WorstCase:
    """The most a call may cost from a prompt upper bound and the output cap (reasoning counts as output)."""
    prices = prices_for(model, known)
    output = max_tokens or DEFAULT_WORST_OUTPUT_TOKENS
    usd = max(0, prompt_tokens) * prices.prompt + output * prices.completion
    return WorstCase(usd, prompt_tokens, output, bool(max_tokens))


def refusal(cap: float, spent: float, held: float, worst: WorstCase, *, who: str = "this notebook") -> BudgetExceeded:
    """The message of a refused call: the figures, and a cap that would let it through (rounded up)."""
    cap_note = "--max-tokens" if worst.capped else f"no --max-tokens, so {worst.output_tokens:,} output tokens assumed"
    in_flight = f" and calls in flight hold {format_usd(held)}" if held > 0 else ""
    needed = round_up_usd(spent + held + worst.usd)
    return BudgetExceeded(
        f"Budget: this call could cost up to {format_usd(worst.usd)} (~{worst.prompt_tokens:,} input tokens, "
        f"{cap_note}) and {who} has spent {format_usd(spent)}{in_flight} of its {format_usd(cap)} budget; "
        "nothing was sent.",
        hint=f"Raise the cap with %config O4Magics.budget_usd = {needed:g}, or set a lower --max-tokens.",
    )


def period_refusal(
    scope: str, cap: float, spent: float, held: float, worst: WorstCase, period: str, resets: str
) -> BudgetExceeded:
    """The message of a call refused by the user's or the team's cap for this UTC day or month (``resets``
    is when the next period starts, ledger time text)."""
    setting = "user_budget_usd" if scope == "user" else "team_budget_usd"
    assumed = f"no --max-tokens, so {worst.output_tokens:,} output tokens assumed"
    cap_note = "--max-tokens" if worst.capped else assumed
    in_flight = f" and calls in flight hold {format_usd(held)}" if held > 0 else ""
    when = "today (UTC)" if period == "day" else "this month (UTC)"
    whose, budget = ("you have", "your") if scope == "user" else ("the team has", "the team's")
    kind = "daily" if period == "day" else "monthly"
    needed = round_up_usd(spent + held + worst.usd)
    reset = f"{resets[:10]} 00:00 UTC" if resets[:4].isdigit() and resets[5:7] <= "12" else "the next period"
    raise_it = (
        f"raise it with %config O4Magics.{setting} = {needed:g}"
        if scope == "user"
        else f"ask whoever sets your team's budget to raise O4Magics.{setting} to at least {needed:g}"
    )
    return BudgetExceeded(
        f"Budget: this call could cost up to {format_usd(worst.usd)} (~{worst.prompt_tokens:,} input tokens, "
        f"{cap_note}) and {whose} spent {format_usd(spent)} {when}{in_flight} of {budget} {kind} budget of "
        f"{format_usd(cap)} (O4Magics.{setting}); nothing was sent.",
        hint=f"It starts again on {reset}. Until then set a lower --max-tokens, or {raise_it}.",
    )


def budget_note(budget: float | None, spent: float) -> str:
    """The footer's budget warning from 80% of the cap on; empty below."""
    if budget is None or budget <= 0 or spent < WARN_FRACTION * budget:
        return ""
    return f"⚠️ budget: {format_usd(spent)} of {format_usd(budget)} spent ({format_share(spent, budget)})"


def reservation_ttl(settings: Any) -> float:
    """How long a reservation is held at most: every attempt's timeout, plus room for a slow stream."""
    attempts = int(settings.max_retries) + 1
    return min(6 * 3600.0, attempts * float(settings.timeout) * 4 + 600.0)
