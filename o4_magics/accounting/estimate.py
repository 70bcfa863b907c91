"""What a call is expected to cost before it is sent (for ``--dry-run``): prompt and typical output, priced."""

from __future__ import annotations

from dataclasses import dataclass

from .prices import prices_for

#: Output assumed for the estimate when --max-tokens is not set, by reasoning effort (typical, not a cap).
TYPICAL_OUTPUT = {"low": 800, "medium": 2000, "high": 6000}


@dataclass(frozen=True)
class Estimate:
    """Estimated tokens and cost of a call before sending."""

    prompt_tokens: int
    prompt_usd: float
    output_tokens: int
    output_usd: float
    output_note: str

    @property
    def usd(self) -> float:
        return self.prompt_usd + self.output_usd


def estimate_call(model: str, effort: str, prompt_tokens: int, max_tokens: int | None, known: dict | None = None) -> Estimate:
    """Prompt at the model's input price, plus ``--max-tokens`` (or a typical output for the effort)."""
    prices = prices_for(model, known)
    if max_tokens:
        output, note = max_tokens, f"up to {max_tokens:,} output tokens (--max-tokens)"
    else:
        output = TYPICAL_OUTPUT.get(effort, 2000)
        note = f"about {output:,} output tokens, typical at {effort} effort (no cap set)"
    return Estimate(prompt_tokens, prompt_tokens * prices.prompt, output, output * prices.completion, note)
