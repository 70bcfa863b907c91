"""Random input to the option parser and the {...} interpolation: a usage error or a valid call, never a traceback."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from o4_magics.ipython.interp import interpolate
from o4_magics.ipython.magics import O4Magics
from o4_magics.ipython.options import split_options

OPTION_WORDS = ["-m", "-e", "low", "high", "-s", "-v", "-i", "-n", "-t", "--max-tokens", "12", "-f", "json",
                "-o", "--no-stream", "--dry-run", "--cache", "--no-cache", "--private", "--no-interp", "--", "-x",
                "'quoted text'", '"dq', "{df}", "{{", "}}", "?", "-1", "--model=a/b", "-h", "--help"]
lines = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(OPTION_WORDS) | st.text(max_size=8), max_size=12).map(" ".join),
)


@settings(max_examples=400, deadline=None)
@given(lines)
def test_option_parser_gives_options_or_usage_error(line):
    try:
        args, prompt = split_options(O4Magics.o4.parser, line)
    except UsageError:
        return
    assert isinstance(prompt, str)
    assert args.effort in (None, "low", "medium", "high")


class Tripwire:
    """Records any call made on it: interpolation must never call anything."""

    called = False

    def __call__(self, *args, **kwargs):
        Tripwire.called = True

    def __getitem__(self, key):
        return "item"


prompts = st.one_of(
    st.text(max_size=120),
    st.lists(st.sampled_from(["{df}", "{t}", "{t()}", "{t['a']}", "{t[0]}", "{__import__('os')}", "{{", "}}",
                              "`{df}`", "```\n{df}\n```", '{"a": 1}', "{1, 2}", "{x:.2f}", "{df.shape}", "{ df }",
                              "{nope}", "{t.__class__}", "text", "\n", "{", "}"]), max_size=10).map("".join),
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(prompts)
def test_interpolation_never_runs_code(prompt):
    import types

    namespace = {"df": types.SimpleNamespace(shape=(3, 2)), "t": Tripwire()}
    try:
        text, used = interpolate(prompt, [namespace], lambda expr, value: f"<{expr}>")
    except UsageError:
        pass
    else:
        assert isinstance(text, str)
    assert not Tripwire.called


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=60))
def test_magic_dry_run_never_tracebacks(shell, o4_emulator, text):
    one_line = " ".join(text.splitlines())  # \r, \x0b, \u2028... would start a new Python line in the cell
    result, captured = shell.run("%o4 --dry-run " + one_line)
    output = captured.stdout + captured.stderr
    assert "Traceback" not in output
    assert o4_emulator.chat_requests == []
