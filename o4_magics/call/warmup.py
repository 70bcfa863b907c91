"""The warm-up after ``%load_ext``: a background thread imports and builds what the first call needs (openai
and its client, the key's credit, the redactor, the ledger; the front adds the markdown renderer) while the
kernel is idle, pausing between any two modules it imports as soon as a cell runs, so the first ``%%o4`` costs
about what the next ones do.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["IDLE_S", "WarmUp", "warm_up_wanted", "warm_up_steps"]

#: The kernel must have been idle (no cell running) this long before the warm-up starts or resumes.
IDLE_S = 0.25
#: How often a paused warm-up looks again at the kernel (and at threads waiting for a module it holds).
POLL_S = 0.01
#: Shells whose users run cells by hand (kernels, terminal IPython); a plain ``InteractiveShell`` (scripts,
#: tests, benchmarks) is not warmed up unless asked.
INTERACTIVE_SHELLS = ("ZMQInteractiveShell", "TerminalInteractiveShell")
#: A sample reply that walks every path of the renderers: headings, lists, code, math, money, a table, links.
SAMPLE_REPLY = (
    "## Warm-up\n\nA *short* reply with `code`, math \\(x^2\\) and $y$, money ($5 and $7), a [link](https://"
    "example.com) and <b>html</b>.\n\n- one\n- two\n\n| a | b |\n| --- | --- |\n| 1 | 2 |\n\n```python\n"
    "print('hi')\n```\n\n\\[ \\sum_k k \\]\n\n> quoted\n"
)


def warm_up_wanted(shell: Any) -> bool:
    """True for a kernel or terminal IPython (their class or a parent's), where a person runs the cells."""
    return any(cls.__name__ in INTERACTIVE_SHELLS for cls in type(shell).__mro__)


class _PacedLoader:
    """Wraps a module's loader for the warm-up thread: before the module runs, wait while a cell runs.

    The real loader is put back on the module's spec before its code runs, so the module never sees us."""

    def __init__(self, loader: Any, warmup: WarmUp) -> None:
        self._loader = loader
        self._warmup = warmup

    def create_module(self, spec: Any) -> Any:
        create = getattr(self._loader, "create_module", None)
        return create(spec) if create is not None else None

    def exec_module(self, module: Any) -> None:
        self._warmup.hold()
        spec = getattr(module, "__spec__", None)
        if spec is not None and spec.loader is self:
            spec.loader = self._loader
        if getattr(module, "__loader__", None) is self:
            module.__loader__ = self._loader
        self._loader.exec_module(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)


class _PacedImports:
    """A ``sys.meta_path`` entry, inert for every thread but the warm-up's: there, each module found gets a
    ``_PacedLoader``. Installed once per process and never removed (removing an entry while another thread
    walks ``sys.meta_path`` could make it skip a finder)."""

    def __init__(self) -> None:
        self.thread_id: int | None = None
        self.warmup: WarmUp | None = None

    def find_spec(self, name: str, path: Any = None, target: Any = None) -> Any:
        warmup = self.warmup
        if warmup is None or threading.get_ident() != self.thread_id:
            return None
        for finder in list(sys.meta_path):
            find = getattr(finder, "find_spec", None) if finder is not self else None
            spec = find(name, path, target) if find is not None else None
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PacedLoader(spec.loader, warmup)
                return spec
        return None


_PACER_LOCK = threading.Lock()


def _pacer() -> _PacedImports:
    with _PACER_LOCK:
        found = next((finder for finder in sys.meta_path if isinstance(finder, _PacedImports)), None)
        if found is None:
            found = _PacedImports()
            sys.meta_path.insert(0, found)
        return found


def _waits_for_a_module(frame: Any) -> bool:
    """Whether a thread is blocked on a module's import lock (``_ModuleLock.acquire``)."""
    code = frame.f_code
    return code.co_name == "acquire" and code.co_filename.startswith("<frozen importlib")


class WarmUp:
    """Runs ``steps`` (name, function) in a daemon thread while ``shell`` is idle; ``start()`` returns self.

    ``done`` is set at the end; ``timings`` holds each finished step's seconds, ``errors`` each failed step's
    exception name, ``waited_s`` the seconds spent paused for cells. A paused import resumes at once when
    another thread needs one of the modules it holds (a cell importing openai itself), so nothing deadlocks.
    """

    def __init__(
        self,
        shell: Any,
        session: Any,
        *,
        idle_s: float = IDLE_S,
        steps: list[tuple[str, Callable[[], Any]]] | None = None,
        enabled: Callable[[], bool] | None = None,
    ) -> None:
        self.shell = shell
        self.session = session
        self.idle_s = idle_s
        self.steps = steps if steps is not None else warm_up_steps(session)
        self._enabled = enabled or (lambda: bool(getattr(session.settings, "warm_up", True)))
        self.timings: dict[str, float] = {}
        self.errors: dict[str, str] = {}
        self.waited_s = 0.0
        self.done = threading.Event()
        self._stop = threading.Event()
        self._changed = threading.Event()
        self._cell_running = self._displayhook_busy()
        self._idle_since = time.monotonic()
        self._free_cell = False  # a cell that needs what we are importing: do not pause for it
        self._thread = threading.Thread(target=self._run, name="o4-warm-up", daemon=True)

    # -- the shell's events ---------------------------------------------------------------------------------
    def _pre_run_cell(self, *args: Any) -> None:
        self._cell_running = True
        self._free_cell = False
        self._changed.set()

    def _post_run_cell(self, *args: Any) -> None:
        self._cell_running = False
        self._idle_since = time.monotonic()
        self._changed.set()

    def _displayhook_busy(self) -> bool:
        """A cell runs (IPython sets this for silent executions too, which trigger no events)."""
        return getattr(getattr(self.shell, "displayhook", None), "exec_result", None) is not None

    def busy(self) -> bool:
        """Whether the warm-up must wait: a cell runs, or the kernel has been idle less than ``idle_s``."""
        if self._cell_running or self._displayhook_busy():
            return True
        return time.monotonic() - self._idle_since < self.idle_s

    # -- control --------------------------------------------------------------------------------------------
    def start(self) -> WarmUp:
        events = getattr(self.shell, "events", None)
        if events is not None:
            events.register("pre_run_cell", self._pre_run_cell)
            events.register("post_run_cell", self._post_run_cell)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop after the module or step under way; the shell's events are released at once."""
        self._stop.set()
        self._changed.set()
        events = getattr(self.shell, "events", None)
        for event, callback in (("pre_run_cell", self._pre_run_cell), ("post_run_cell", self._post_run_cell)):
            try:
                if events is not None:
                    events.unregister(event, callback)
            except ValueError:
                pass

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    # -- pausing --------------------------------------------------------------------------------------------
    def hold(self) -> None:
        """Wait while the kernel is busy (called between steps, and before each module the warm-up imports)."""
        if self._stop.is_set() or self._free_cell or not self.busy():
            return
        started = time.monotonic()
        me = threading.get_ident()
        while not self._stop.is_set() and not self._free_cell and self.busy():
            if any(
                ident != me and _waits_for_a_module(frame) for ident, frame in sys._current_frames().items()
            ):
                self._free_cell = True  # someone waits for a module we hold: finish it at full speed
                break
            self._changed.wait(POLL_S)
            self._changed.clear()
        self.waited_s += time.monotonic() - started

    def _run(self) -> None:
        pacer = _pacer()
        try:
            for name, step in self.steps:
                self.hold()
                if self._stop.is_set() or not self._enabled():
                    return
                pacer.thread_id, pacer.warmup = threading.get_ident(), self
                started = time.monotonic()
                try:
                    step()
                except Exception as exc:  # a warm-up never fails anything: the call will meet it and say so
                    self.errors[name] = type(exc).__name__
                else:
                    self.timings[name] = time.monotonic() - started
                finally:
                    pacer.thread_id, pacer.warmup = None, None
        finally:
            self.done.set()


# -- what the first call needs ----------------------------------------------------------------------------
def _import(*names: str) -> Callable[[], None]:
    def step() -> None:
        for name in names:
            importlib.import_module(name)

    return step


def _client(session: Any) -> None:
    """The SDK client the first call will take from the pool (no network: connections open on first use);
    then the transport's modules that the first request would import."""
    import openai  # noqa: F401  (imported here, paced, even when no key is set yet)

    key = session.api_key()
    if not key:
        return
    client = session.client(key)
    _ = client.chat.completions  # the SDK imports its resources on first access
    transport = type(getattr(client, "_client", None)).__module__.split(".")[0]  # httpx2 or httpx
    core = {"httpx2": "httpcore2", "httpx": "httpcore"}.get(transport)
    for name in (core, "h11", "jiter", "openai.lib.streaming.chat"):
        if name and importlib.util.find_spec(name) is not None:
            importlib.import_module(name)
    "openrouter.ai".encode("idna")  # the codec the transport uses on every host name


def _sdk_parsing() -> None:
    """The SDK's request checks and completion type, built once (openai defers building its pydantic models
    and the type hints its request transform reads): the first request goes through the transform, and a reply
    asked for without streaming is read through the type. Streamed chunks are read as plain JSON
    (``call.client.sdk_chunks``)."""
    from openai._models import construct_type
    from openai.types.chat import ChatCompletion

    try:  # the SDK's own helper (private, so an SDK without it just skips this)
        from openai._utils import maybe_transform
        from openai.types.chat.completion_create_params import CompletionCreateParamsStreaming

        sample = {
            "model": "openai/o4-mini",
            "messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
            "stream": True,
            "stream_options": {"include_usage": True},
            "max_tokens": 1,
        }
        maybe_transform(sample, CompletionCreateParamsStreaming)
    except ImportError:
        pass

    completion = {
        "id": "gen-warm-up",
        "object": "chat.completion",
        "created": 0,
        "model": "openai/o4-mini",
        "choices": [{"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "hi"}}],
    }
    construct_type(type_=ChatCompletion, value=completion)


def _call_path() -> None:
    """The modules a call goes through, imported (each compiles its patterns once)."""
    for name in (
        "o4_magics.call.spec",
        "o4_magics.call.request",
        "o4_magics.call.engine",
        "o4_magics.call.streaming",
        "o4_magics.call.retries",
        "o4_magics.call.error_map",
        "o4_magics.call.formats",
        "o4_magics.call.replay",
        "o4_magics.accounting.usage",
        "o4_magics.accounting.budget",
        "o4_magics.accounting.credit",
        "o4_magics.accounting.prices",
        "o4_magics.accounting.catalog",
        "o4_magics.store.identity",
    ):
        importlib.import_module(name)


def _tokens() -> None:
    from ..context import estimate_tokens
    from ..context.tokens import token_upper_bound

    estimate_tokens(SAMPLE_REPLY)
    token_upper_bound(SAMPLE_REPLY)


def _redactor(session: Any) -> None:
    session.redactor.redact(SAMPLE_REPLY)
    session.redactor.redact_value([{"role": "user", "content": SAMPLE_REPLY}])


def _key_credit(session: Any) -> None:
    """What the key has left (``GET /key``, once): the first call checks its worst case against it."""
    if session.api_key():
        from ..accounting.credit import credit_for

        credit_for(session).current()


def _ledger(session: Any) -> None:
    """This machine's SQLite ledger, opened (a team ledger on PostgreSQL would need the network: left alone)."""
    if session.settings.resolved_ledger_url():
        return
    session.ledger.totals(notebook=session.notebook())


def warm_up_steps(session: Any) -> list[tuple[str, Callable[[], Any]]]:
    """What the first call needs below the fronts, openai and its client first (most of the cost); a front
    adds its own steps (the markdown renderer, its modules)."""
    return [
        ("openai", lambda: _client(session)),
        ("key credit", lambda: _key_credit(session)),
        ("sdk types", _sdk_parsing),
        ("call path", _call_path),
        ("tokens", _tokens),
        ("redactor", lambda: _redactor(session)),
        ("ledger", lambda: _ledger(session)),
    ]
