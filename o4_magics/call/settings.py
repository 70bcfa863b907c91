"""The settings every front end reads: traitlets on ``O4Magics`` (``%config O4Magics.<name> = value``).

Each setting is checked when it is set, so ``%config O4Magics.max_tokens = -5`` fails at once with a message
naming the setting, not later with one naming a command-line option.
"""

from __future__ import annotations

import os
from typing import Any

from traitlets import Bool, CaselessStrEnum, Float, Int, List, TraitError, Unicode, validate
from traitlets.config import Configurable

OPENROUTER_BASE_URL = "https://openrouter.ai/api/v1"
DEFAULT_MODEL = "openai/o4-mini"
DEFAULT_SYSTEM_PROMPT = (
    "You are o4-mini, answering inside a Jupyter notebook for a data scientist. "
    "Be concise and concrete. Use Markdown; put code in fenced blocks with a language tag; "
    "write math as LaTeX."
)
EFFORTS = ("low", "medium", "high")
BUDGET_PERIODS = ("day", "month")
FORMATS = ("markdown", "text", "code", "json")


def _positive(name: str, value: Any, *, allow_zero: bool = False) -> Any:
    if value is None:
        return value
    if value < 0 or (value == 0 and not allow_zero):
        bound = "zero or more" if allow_zero else "a positive number"
        raise TraitError(f"O4Magics.{name} must be {bound}, not {value!r}.")
    return value


class O4Settings(Configurable):
    """Every configurable setting of o4-magics, with its default (mixed into ``O4Magics``)."""

    model = Unicode(DEFAULT_MODEL, help="OpenRouter model id.").tag(config=True)
    effort = CaselessStrEnum(list(EFFORTS), "medium", help="Reasoning effort.").tag(config=True)
    system_prompt = Unicode(DEFAULT_SYSTEM_PROMPT, help="System prompt sent with every call.").tag(config=True)
    base_url = Unicode("", help="API base URL; empty means $OPENROUTER_BASE_URL, else OpenRouter's.").tag(
        config=True
    )
    max_tokens = Int(None, allow_none=True, help="Cap on completion tokens (None: the model's own).").tag(
        config=True
    )
    stream = Bool(True, help="Stream replies as they are generated.").tag(config=True)
    timeout = Float(120.0, help="Seconds to wait for the server (connect, and between streamed chunks).").tag(
        config=True
    )
    max_retries = Int(2, help="Retries of 408, 429 and 5xx answers and of connection errors.").tag(config=True)
    budget_usd = Float(None, allow_none=True, help="Cap on this notebook's total spend in USD.").tag(config=True)
    cache = Bool(False, help="Replay identical earlier requests from the response cache.").tag(config=True)
    context_max_tokens = Int(2000, help="Token budget of each attached value's description.").tag(config=True)
    history_max_tokens = Int(20000, help="Token budget of a thread's history sent with each call.").tag(
        config=True
    )
    image_max_side = Int(1024, help="Images are downscaled to fit this many pixels per side.").tag(config=True)
    private = Bool(False, help="Describe values by structure only, never by their content.").tag(config=True)
    interpolate = Bool(True, help="Expand {name} in prompts to the value's description.").tag(config=True)
    debug = Bool(False, help="Show full tracebacks instead of short error messages.").tag(config=True)
    allowed_image_hosts = List(
        Unicode(), [], help="Hosts whose images a reply may load (e.g. ['upload.wikimedia.org']); others show as links."
    ).tag(config=True)
    show_reasoning = Bool(True, help="Show o4-mini's reasoning summary while it thinks, then collapsed.").tag(
        config=True
    )
    warm_up = Bool(
        True,
        help="Prepare the HTTP client in the background after %load_ext (in a kernel or terminal IPython; with a "
        "key set, this also asks the endpoint's /key once for the key's credit).",
    ).tag(config=True)
    agent_max_steps = Int(
        8, help="Model calls per question at most when the model may use tools (--tools, the chat's Agent mode)."
    ).tag(config=True)
    ledger_url = Unicode(
        "",
        help="A team's shared ledger: postgresql://user@host:5432/database (empty: $O4_MAGICS_LEDGER_URL, "
        "else this machine's SQLite ledger). Keep the password in PGPASSWORD or ~/.pgpass; it is never "
        "shown.",
    ).tag(config=True)
    user_budget_usd = Float(
        None, allow_none=True, help="Cap on your own spend in USD per budget_period, across notebooks."
    ).tag(config=True)
    team_budget_usd = Float(
        None, allow_none=True, help="Cap on the whole team's spend in USD per budget_period (team ledger)."
    ).tag(config=True)
    budget_period = CaselessStrEnum(
        list(BUDGET_PERIODS), "month", help="Period of user_budget_usd and team_budget_usd: UTC day or month."
    ).tag(config=True)
    send_user = Bool(
        False, help="Send OpenRouter's `user` field (JUPYTERHUB_USER, else the login name) with each request."
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        #: from now on a setting that would loosen a lock of the hub policy is refused (config files loaded
        #: at start-up are not: the policy is applied to them where they are used)
        self._policy_checks = True

    def update_config(self, config: Any) -> None:
        """``%config``: every value that would loosen a lock of the hub policy is refused, even one equal to
        the current value or None (which skip the validators)."""
        from .policy import setting_refusal

        for name, value in self._find_my_config(config).items():
            refused = setting_refusal(name, value) if isinstance(name, str) else ""
            if refused:
                raise TraitError(refused)
        super().update_config(config)

    def _policy_check(self, proposal: Any, value: Any) -> Any:
        if getattr(self, "_policy_checks", False):
            from .policy import setting_refusal

            refused = setting_refusal(proposal["trait"].name, value)
            if refused:
                raise TraitError(refused)
        return value

    @validate("effort", "cache", "send_user", "budget_period")
    def _check_policy_locks(self, proposal: Any) -> Any:
        return self._policy_check(proposal, proposal["value"])

    @validate("agent_max_steps")
    def _check_agent_max_steps(self, proposal: Any) -> Any:
        return _positive("agent_max_steps", proposal["value"])

    @validate("max_tokens")
    def _check_max_tokens(self, proposal: Any) -> Any:
        return _positive("max_tokens", proposal["value"])

    @validate("timeout")
    def _check_timeout(self, proposal: Any) -> Any:
        return _positive("timeout", proposal["value"])

    @validate("max_retries")
    def _check_max_retries(self, proposal: Any) -> Any:
        return _positive("max_retries", proposal["value"], allow_zero=True)

    @validate("budget_usd", "user_budget_usd", "team_budget_usd")
    def _check_budget(self, proposal: Any) -> Any:
        value = _positive(proposal["trait"].name, proposal["value"], allow_zero=True)
        return self._policy_check(proposal, value)

    @validate("ledger_url")
    def _check_ledger_url(self, proposal: Any) -> Any:
        from ..store.backend import check_ledger_url

        try:
            url = check_ledger_url(proposal["value"]) or ""
        except ValueError as exc:
            raise TraitError(f"O4Magics.ledger_url: {exc}.") from None
        return self._policy_check(proposal, url)

    @validate("context_max_tokens", "history_max_tokens", "image_max_side")
    def _check_sizes(self, proposal: Any) -> Any:
        return _positive(proposal["trait"].name, proposal["value"])

    @validate("model")
    def _check_model(self, proposal: Any) -> Any:
        value = proposal["value"].strip()
        if not value or any(ch.isspace() for ch in value):
            raise TraitError(f"O4Magics.model must be a model id such as {DEFAULT_MODEL!r}, not {proposal['value']!r}.")
        return self._policy_check(proposal, value)

    def resolved_ledger_url(self) -> str:
        """The ledger URL in effect: the hub policy's, else the setting, else $O4_MAGICS_LEDGER_URL; empty for
        the SQLite ledger."""
        from ..store.backend import LedgerURL
        from .policy import policy_ledger_url

        url = policy_ledger_url() or self.ledger_url or os.environ.get("O4_MAGICS_LEDGER_URL", "").strip()
        return LedgerURL(url) if url else ""

    def resolved_base_url(self) -> str:
        """The base URL in effect: the setting, else $OPENROUTER_BASE_URL, else OpenRouter's (whitespace trimmed)."""
        url = (self.base_url or os.environ.get("OPENROUTER_BASE_URL", "")).strip() or OPENROUTER_BASE_URL
        return url.rstrip("/")


def settings_table() -> list[tuple[str, str, str]]:
    """(name, default, help) for every setting, for the README and listings."""
    rows = []
    for name, trait in sorted(O4Settings.class_traits(config=True).items()):
        rows.append((name, repr(trait.default_value), trait.help))
    return rows
