"""The per-notebook spending cap: refuse a call whose worst case would pass it; warn from 80% on."""

from __future__ import annotations

from typing import Any

from ..errors import ConfigError
from .prices import prices_for

#: Output assumed for the worst case when --max-tokens is not set (stated in the README).
DEFAULT_WORST_OUTPUT_TOKENS = 10_000
WARN_FRACTION = 0.8


class BudgetExceeded(ConfigError):
    """The call could pass ``O4Magics.budget_usd``; nothing was sent."""

    status = "refused"


def worst_case_cost(
    model: str, prompt_tokens: int, max_tokens: int | None, known: dict | None = None
) -> tuple[float, int]:
    """(USD, output tokens assumed) of the most a call may cost, from the estimate and the output cap."""
    prices = prices_for(model, known)
    output = max_tokens or DEFAULT_WORST_OUTPUT_TOKENS
    return prompt_tokens * prices.prompt + output * prices.completion, output


def check_budget(
    budget: float | None, spent: float, model: str, prompt_tokens: int, max_tokens: int | None,
    known: dict | None = None,
) -> None:
    """Raise ``BudgetExceeded`` (with the figures and the fix) if the call could pass ``budget``."""
    if budget is None:
        return
    worst, output = worst_case_cost(model, prompt_tokens, max_tokens, known)
    if spent + worst <= budget:
        return
    cap_note = "--max-tokens" if max_tokens else f"no --max-tokens, so {output:,} output tokens assumed"
    raise BudgetExceeded(
        f"Budget: this call could cost up to ${worst:.4f} (~{prompt_tokens:,} input tokens, {cap_note}) and this "
        f"notebook has spent ${spent:.4f} of its ${budget:.2f} budget; nothing was sent.",
        hint=f"Raise the cap with %config O4Magics.budget_usd = {max(budget * 2, spent + worst):.2f}, or set a "
        "lower --max-tokens.",
    )


def budget_note(budget: float | None, spent: float) -> str:
    """The footer's budget warning from 80% of the cap on; empty below."""
    if budget is None or budget <= 0 or spent < WARN_FRACTION * budget:
        return ""
    return f"⚠️ budget: ${spent:.2f} of ${budget:.2f} spent ({spent / budget:.0%})"


def spent_by(session: Any) -> float:
    """What this notebook has spent so far, from the ledger."""
    return float(session.ledger.totals(notebook=session.notebook())["cost_usd"] or 0.0)
