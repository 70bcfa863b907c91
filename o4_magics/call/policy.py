"""The hub's policy: defaults and locks an admin sets for every kernel in one JSON file, checked at the one door.

The file is ``$O4_MAGICS_POLICY`` when set, else the first ``o4_magics_policy.json`` in Jupyter's system config
directories (``jupyter_core.paths.SYSTEM_CONFIG_PATH``, then ``ENV_CONFIG_PATH``: e.g. /usr/local/etc/jupyter,
/etc/jupyter, <sys.prefix>/etc/jupyter). It is read once and again when it changes. A file that cannot be used
fails closed: every call is refused with a message naming it. A guardrail for honest use, not a wall: hard
limits belong at the gateway (OpenRouter's key limits, or a proxy).
"""

from __future__ import annotations

import json
import math
import os
import threading
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from typing import TYPE_CHECKING, Any

from ..errors import PolicyError
from .settings import BUDGET_PERIODS, EFFORTS

if TYPE_CHECKING:
    from .session import Session
    from .spec import Ask

POLICY_ENV = "O4_MAGICS_POLICY"
POLICY_FILE_NAME = "o4_magics_policy.json"
#: A policy file larger than this is refused (fails closed) rather than read.
MAX_POLICY_BYTES = 1_000_000
FLAGS = ("enabled", "allow_cache", "allow_images", "allow_tools", "send_user")
BUDGETS = ("user_budget_usd", "team_budget_usd")
KEYS = (*FLAGS, "message", "allowed_models", "max_effort", *BUDGETS, "budget_period", "ledger_url")


@dataclass(frozen=True)
class Policy:
    """One policy file as read: None (or True for the ``allow_*`` keys) wherever it says nothing.

    ``problem`` is set when the file cannot be used (unreadable, not JSON, an unknown key, a wrong value):
    then every call is refused.
    """

    path: str
    problem: str = ""
    enabled: bool = True
    message: str = ""
    allowed_models: tuple[str, ...] | None = None
    max_effort: str | None = None
    user_budget_usd: float | None = None
    team_budget_usd: float | None = None
    budget_period: str | None = None
    allow_cache: bool = True
    allow_images: bool = True
    allow_tools: bool = True
    send_user: bool | None = None
    ledger_url: str = ""
    #: keys the file set (a lock), for messages
    keys: frozenset[str] = field(default_factory=frozenset)

    @property
    def name(self) -> str:
        """How messages name it: ``the hub policy (/etc/jupyter/o4_magics_policy.json)``."""
        return f"the hub policy ({self.path})"

    @property
    def locked_period(self) -> str | None:
        """The budget period users cannot change: the file's, or "month" when it sets a budget but no period."""
        if self.budget_period:
            return self.budget_period
        return "month" if self.user_budget_usd is not None or self.team_budget_usd is not None else None

    def allows_model(self, model: str) -> bool:
        if self.allowed_models is None:
            return True
        return any(fnmatchcase(model.lower(), pattern.lower()) for pattern in self.allowed_models)

    def patterns(self) -> str:
        return ", ".join(self.allowed_models or ()) or "none"


# -- reading the file ----------------------------------------------------------------------------------------


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check(key: str, value: Any) -> tuple[Any, str]:
    """The value to keep for ``key``, or the reason it cannot be used (a non-empty second item)."""
    if key in FLAGS:
        return value, "" if isinstance(value, bool) else "must be true or false"
    if key == "message":
        return value, "" if isinstance(value, str) else "must be text"
    if key == "allowed_models":
        ok = isinstance(value, list) and all(isinstance(p, str) and p.strip() for p in value)
        return (
            tuple(p.strip() for p in value) if ok else None
        ), "" if ok else "must be a list of glob patterns"
    if key == "max_effort":
        ok = isinstance(value, str) and value.strip().lower() in EFFORTS
        return (value.strip().lower() if ok else None), "" if ok else f"must be one of {', '.join(EFFORTS)}"
    if key in BUDGETS:
        ok = _number(value) and value >= 0
        return (float(value) if ok else None), "" if ok else "must be a number of US dollars, zero or more"
    if key == "budget_period":
        ok = isinstance(value, str) and value.strip().lower() in BUDGET_PERIODS
        return (value.strip().lower() if ok else None), "" if ok else 'must be "day" or "month"'
    if key == "ledger_url":
        from ..store.backend import check_ledger_url

        if not isinstance(value, str):
            return None, "must be text"
        try:
            return check_ledger_url(value) or "", ""
        except ValueError as exc:
            return None, str(exc)
    return None, "is not a policy key"


def parse_policy(text: str, path: str) -> Policy:
    """The policy in ``text`` (the file at ``path``); a ``Policy`` with ``problem`` set if it is malformed."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        return Policy(path, problem=f"is not valid JSON ({exc.msg}, line {exc.lineno} column {exc.colno})")
    if not isinstance(data, dict):
        return Policy(path, problem="must hold one JSON object ({...})")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key.startswith("_"):  # "_comment": notes for the next admin
            continue
        if key not in KEYS:
            return Policy(path, problem=f"has an unknown key {key!r} (known: {', '.join(KEYS)})")
        if value is None:
            continue
        kept, problem = _check(key, value)
        if problem:
            return Policy(path, problem=f"{key} {problem}, not {json.dumps(value)[:80]}")
        values[key] = kept
    return Policy(path, keys=frozenset(values), **values)


def policy_dirs() -> list[str]:
    """Jupyter's system config directories, then the environment's, where the policy file is looked for."""
    try:
        from jupyter_core import paths
    except ImportError:
        return []
    return [*paths.SYSTEM_CONFIG_PATH, *paths.ENV_CONFIG_PATH]


def policy_path() -> str | None:
    """``$O4_MAGICS_POLICY``, else the first ``o4_magics_policy.json`` in ``policy_dirs()``, else None."""
    named = os.environ.get(POLICY_ENV, "").strip()
    if named:
        return os.path.abspath(os.path.expanduser(named))
    for folder in policy_dirs():
        candidate = os.path.join(folder, POLICY_FILE_NAME)
        if os.path.lexists(candidate):
            return candidate
    return None


_lock = threading.Lock()
_read: dict[str, tuple[tuple[int, int, int], Policy]] = {}


def _read_file(path: str) -> Policy:
    try:
        with open(path, "rb") as handle:
            raw = handle.read(MAX_POLICY_BYTES + 1)
    except OSError as exc:
        return Policy(path, problem=f"cannot be read ({exc.strerror or exc})")
    if len(raw) > MAX_POLICY_BYTES:
        return Policy(path, problem=f"is larger than {MAX_POLICY_BYTES:,} bytes")
    try:
        return parse_policy(raw.decode("utf-8-sig"), path)
    except UnicodeDecodeError:
        return Policy(path, problem="is not UTF-8 text")


def current_policy() -> Policy | None:
    """The policy in force (None: no policy file), read again whenever the file's mtime or size changes."""
    path = policy_path()
    if path is None:
        return None
    try:
        status = os.stat(path)
    except OSError as exc:
        return Policy(path, problem=f"cannot be read ({exc.strerror or exc})")
    stamp = (status.st_mtime_ns, status.st_size, status.st_ino)
    with _lock:
        known = _read.get(path)
        if known is not None and known[0] == stamp:
            return known[1]
    policy = _read_file(path)
    with _lock:
        _read[path] = (stamp, policy)
    return policy


# -- the calls (``call.spec.prepare``) -----------------------------------------------------------------------


def _refuse(policy: Policy, what: str, hint: str = "") -> PolicyError:
    return PolicyError(f"The hub policy ({policy.path}) does not allow {what}; nothing was sent.", hint=hint)


def _cache_name(ask: Ask) -> str:
    if ask.cache is None:
        return "O4Magics.cache = True"
    return "--cache" if ask.names.get("model") == "-m/--model" else "cache=True"


def _refusal(policy: Policy, ask: Ask, options: dict[str, Any]) -> PolicyError | None:
    """Why ``policy`` refuses the call, or None; may lower ``options["effort"]`` to the policy's cap."""
    if policy.problem:
        return PolicyError(
            f"The hub policy file {policy.path} {policy.problem}, so every call is refused; nothing was sent.",
            hint="Ask whoever runs this hub to fix it.",
        )
    if not policy.enabled:
        said = policy.message.strip() or "Ask whoever runs this hub."
        return PolicyError(f"o4-magics is turned off by {policy.name}: {said} Nothing was sent.")
    model = options["model"]
    if not policy.allows_model(model):
        name = ask.names.get("model", "model") if ask.model is not None else "O4Magics.model"
        return _refuse(
            policy,
            f"the model {model!r} ({name}), only {policy.patterns()}",
            hint="Pick an allowed model with -m, or %config O4Magics.model.",
        )
    if policy.max_effort and EFFORTS.index(options["effort"]) > EFFORTS.index(policy.max_effort):
        if ask.effort is None:  # the setting: capped, the admin's default
            options["effort"] = policy.max_effort
        else:
            name = ask.names.get("effort", "effort")
            return _refuse(
                policy, f"reasoning effort {options['effort']} ({name}), only up to {policy.max_effort}"
            )
    if options["tools"] and not policy.allow_tools:
        return _refuse(policy, "tools (--tools, the chat's Agent mode, tools=True)")
    if options["cache"] and not policy.allow_cache:
        hint = "Run it without --cache." if ask.cache else "Turn it off with %config O4Magics.cache = False."
        return _refuse(policy, f"the response cache ({_cache_name(ask)})", hint=hint)
    if ask.images and not policy.allow_images:
        return _refuse(policy, f"images ({ask.names.get('images', 'images')})")
    return None


def enforce(session: Session, ask: Ask, options: dict[str, Any]) -> dict[str, Any]:
    """``options`` as the policy allows them (effort capped), or a ``PolicyError``, recorded as a refused call."""
    policy = current_policy()
    if policy is None:
        return options
    error = _refusal(policy, ask, options)
    if error is None:
        return options
    error.message = session.scrub(error.message)
    _record_refusal(session, ask, options, error)
    raise error


def _record_refusal(session: Session, ask: Ask, options: dict[str, Any], error: PolicyError) -> None:
    from .reply import Reply, ledger_row
    from .spec import CallSpec

    spec = CallSpec(
        content="", model=options["model"], thread=options["thread"], source=ask.source, cell=ask.cell
    )
    session.record(ledger_row(session, spec, Reply("", spec.model, status="refused", error=str(error))))


# -- the settings (``%config``) and what is in force ---------------------------------------------------------


def _looser_budget(value: Any, cap: float) -> bool:
    return value is None or float(value) > cap


def setting_refusal(name: str, value: Any) -> str:
    """Why ``O4Magics.<name> = value`` would loosen a lock of the policy (one line), or ""."""
    policy = current_policy()
    if policy is None or policy.problem or not policy.enabled:
        return ""
    why = ""
    if name == "model" and not policy.allows_model(str(value)):
        why = f"allowed models: {policy.patterns()}"
    elif (
        name == "effort"
        and policy.max_effort
        and str(value).lower() in EFFORTS
        and EFFORTS.index(str(value).lower()) > EFFORTS.index(policy.max_effort)
    ):
        why = f"reasoning effort is capped at {policy.max_effort}"
    elif name == "cache" and value and not policy.allow_cache:
        why = "the response cache is not allowed"
    elif name == "send_user" and policy.send_user is not None and bool(value) != policy.send_user:
        why = f"send_user is locked to {policy.send_user}"
    elif (
        name in BUDGETS and getattr(policy, name) is not None and _looser_budget(value, getattr(policy, name))
    ):
        why = f"{name} is at most {getattr(policy, name):g} USD per {policy.locked_period}"
    elif name == "budget_period" and policy.locked_period and str(value).lower() != policy.locked_period:
        why = f"the budget period is {policy.locked_period}"
    elif name == "ledger_url" and policy.ledger_url and value and str(value) != str(policy.ledger_url):
        why = f"the team ledger is set by the policy ({policy.ledger_url})"
    if not why:
        return ""
    shown = "None" if value is None else repr(value) if isinstance(value, str) else str(value)
    if name == "ledger_url":
        from ..store.backend import safe_ledger_url

        shown = repr(safe_ledger_url(str(value)))
    return f"O4Magics.{name} = {shown} is refused by {policy.name}: {why}."


def _usable(policy: Policy | None) -> Policy | None:
    return policy if policy is not None and not policy.problem else None


def effective_budgets(settings: Any) -> tuple[float | None, float | None, float | None, str]:
    """(notebook, user, team, period) caps in force: the stricter of each setting and the policy's."""
    user, team, period = settings.user_budget_usd, settings.team_budget_usd, settings.budget_period
    policy = _usable(current_policy())
    if policy is not None:
        if policy.user_budget_usd is not None:
            user = policy.user_budget_usd if user is None else min(float(user), policy.user_budget_usd)
        if policy.team_budget_usd is not None:
            team = policy.team_budget_usd if team is None else min(float(team), policy.team_budget_usd)
        period = policy.locked_period or period
    return settings.budget_usd, user, team, period


def budget_from_policy(scope: str, cap_usd: float) -> Policy | None:
    """The policy when it set the ``scope`` ("user" or "team") cap of ``cap_usd`` now in force, else None."""
    policy = _usable(current_policy())
    set_by_policy = getattr(policy, f"{scope}_budget_usd", None) if policy is not None else None
    return policy if set_by_policy is not None and math.isclose(set_by_policy, cap_usd) else None


def effective_send_user(settings: Any) -> bool:
    """Whether requests carry OpenRouter's ``user`` field: the policy's lock, else ``O4Magics.send_user``."""
    policy = _usable(current_policy())
    if policy is not None and policy.send_user is not None:
        return policy.send_user
    return bool(getattr(settings, "send_user", False))


def policy_ledger_url() -> str:
    """The team ledger the policy sets (a ``LedgerURL``), or ""."""
    policy = _usable(current_policy())
    return policy.ledger_url if policy is not None else ""


def name_the_policy(error: Any, scope: str, cap_usd: float) -> Any:
    """A user's or team's budget refusal that says the cap is the policy's when it is (no %config raises it)."""
    policy = budget_from_policy(scope, cap_usd)
    if policy is None:
        return error
    error.message = error.message.replace(f"(O4Magics.{scope}_budget_usd)", f"(set by {policy.name})")
    error.hint = (
        error.hint.split(" Until then")[0] + " Until then set a lower --max-tokens; the cap is the hub's."
    )
    return error
