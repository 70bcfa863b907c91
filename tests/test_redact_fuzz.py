"""Generated credentials of every kind, embedded where prompts carry them, never survive redaction; linear time.

Contexts: plain text with punctuation and quotes around, JSON, URLs, nested values (chat messages with an image),
a pandas DataFrame as ``describe_value`` shows it, exceptions and their tracebacks, environment mappings (reprs and
``describe_value``). A secret part must not survive even as a 12-character piece; the text around stays readable.
"""

from __future__ import annotations

import base64
import json
import os
import random
import time
import traceback

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_redact import MAKERS, Sample, leaked, make_sample

from o4_magics.context import describe_value
from o4_magics.redact import Redactor, redact

QUESTION = "why is my proxy not picked up?"
THANKS = "thanks, please help"
WORDS = [
    "the",
    "my",
    "key",
    "password",
    "token:",
    "value",
    "is",
    "=",
    "sk-learn",
    "df",
    "(see",
    "above)",
    "#",
    "->",
]
SEPARATORS = [
    (" ", " "),
    ("\n", "\n"),
    ("'", "'"),
    ('"', '"'),
    ("(", ")"),
    ("`", "`"),
    ("<", ">"),
    ("[", "]"),
    ("{", "}"),
    (": ", "."),
    ("\t", ","),
    ("= ", ";"),
    ("\n```\n", "\n```\n"),
]
# a seed no sample uses (theirs are ints), so no secret shares its random stream
PNG = "data:image/png;base64," + base64.b64encode(random.Random("png fixture").randbytes(3000)).decode()

samples = st.builds(make_sample, st.sampled_from(sorted(MAKERS)), st.integers(0, 2**32 - 1))
words = st.lists(st.sampled_from(WORDS), max_size=5).map(" ".join)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


def check(sample: Sample, original: str, redacted: str, count: int) -> None:
    """No 12-character piece of a secret part survives; a description that carried one counts >= 1."""
    assert not leaked(sample, redacted), redacted
    if leaked(sample, original):
        assert count >= 1
        assert "[redacted: " in redacted


@FUZZ
@given(samples, st.sampled_from(SEPARATORS), words, words)
def test_plain_text_with_punctuation_and_quotes(sample, separator, before, after):
    opening, closing = separator
    text = f"{before} {QUESTION}{opening}{sample.text}{closing} {THANKS} {after}"
    redacted, count = Redactor(sample.configured).redact(text)
    check(sample, text, redacted, count)
    assert count >= 1
    assert QUESTION in redacted and THANKS in redacted
    assert Redactor(sample.configured).redact(redacted) == (redacted, 0)


@FUZZ
@given(samples, words)
def test_json(sample, before):
    for text in (
        json.dumps({"question": f"{before} {QUESTION}", "value": sample.text, "more": [THANKS]}),
        json.dumps(sample.text),
        json.dumps({"config": {"cred": sample.text}}, indent=2),
    ):
        redacted, count = Redactor(sample.configured).redact(text)
        check(sample, text, redacted, count)
        assert count >= 1


@FUZZ
@given(samples)
def test_inside_urls(sample):
    if "\n" in sample.text or " " in sample.text:
        return  # multi-line blocks and labelled lines do not sit in a URL
    for text in (
        f"GET https://api.example.com/v1/items?key={sample.text}&page=2 -> 401, {QUESTION}",
        f"see <https://example.com/cb#access={sample.text}>",
    ):
        redacted, count = Redactor(sample.configured).redact(text)
        check(sample, text, redacted, count)
        assert count >= 1
        assert "https://" in redacted


@FUZZ
@given(samples)
def test_nested_values_and_chat_messages(sample):
    value = {
        "messages": [
            {"role": "system", "content": "be brief"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": f"{QUESTION}\n{sample.text}"},
                    {"type": "image_url", "image_url": {"url": PNG}},
                ],
            },
        ],
        sample.text: ("kept", [1, None, [sample.text]]),
    }
    redacted, count = Redactor(sample.configured).redact_value(value)
    flat = json.dumps(redacted).replace(PNG, "<image>")  # the image is data, checked to be unchanged below
    check(sample, json.dumps(value).replace(PNG, "<image>"), flat, count)
    assert count >= 3
    assert redacted["messages"][1]["content"][1]["image_url"]["url"] == PNG
    assert redacted["messages"][1]["content"][0]["text"].startswith(QUESTION)


@settings(max_examples=120, deadline=None, suppress_health_check=list(HealthCheck))
@given(samples)
def test_dataframe_cells_as_described(sample):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"user": ["ann", "bob", "cy"], "credential": [sample.text, "none", sample.text], "n": [1, 2, 3]}
    )
    text = describe_value(frame, "df").text
    redacted, count = Redactor(sample.configured).redact(text)
    check(sample, text, redacted, count)
    assert "### df" in redacted and "ann" in redacted


def _raise(sample: Sample) -> BaseException:
    def connect() -> None:
        raise ConnectionError(f"login failed with {sample.text} - {QUESTION}")

    try:
        try:
            connect()
        except ConnectionError as error:
            raise RuntimeError(f"retry with credential {sample.text!r} failed") from error
    except RuntimeError as error:
        return error
    raise AssertionError("unreachable")


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(samples)
def test_exceptions_and_tracebacks(sample):
    error = _raise(sample)
    for text in ("".join(traceback.format_exception(error)), describe_value(error, "err").text):
        redacted, count = Redactor(sample.configured).redact(text)
        check(sample, text, redacted, count)
        assert count >= 1
        assert "ConnectionError" in redacted and "RuntimeError" in redacted


def environ_like(data: dict[str, str]) -> os._Environ:
    """A mapping that reprs and describes as ``os.environ`` does (``environ({...})``), without touching it."""
    same = str  # keys and values are already str
    return os._Environ(dict(data), same, same, same, same)


@settings(max_examples=200, deadline=None, suppress_health_check=list(HealthCheck))
@given(samples)
def test_environment_mappings(sample):
    name, value = sample.env
    env = {
        "PATH": "/usr/local/bin:/usr/bin",
        "HOME": "/home/ann",
        name: value,
        "PWD": "/home/ann/w",
        "LANG": "C",
    }
    for text in (
        repr(dict(env)),
        repr(environ_like(env)),
        describe_value(environ_like(env), "os.environ").text,
        describe_value(env, "env").text,
    ):
        redacted, count = Redactor(sample.configured).redact(text)
        check(sample, text, redacted, count)
        assert count >= 1
        assert "/usr/local/bin:/usr/bin" in redacted and "'PWD'" in redacted


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=300)
    | st.lists(st.sampled_from(WORDS + ["sk-", "://a:b@", "eyJ", "AKIA", "'", '"']), max_size=30).map("".join)
)
def test_any_text_redacts_without_error_and_stays_redacted(text):
    once, _ = redact(text)
    assert redact(once) == (once, 0)


# ---- linear time ------------------------------------------------------------------------------------------------

ADVERSARIAL = {
    "sk- runs": "sk-",
    "sk- tokens": "sk- ",
    "key-shaped tokens": "sk-aaaaaaaaaaaa1 ",
    "eyJ runs": "eyJ",
    "eyJ headers": "eyJaaaaaaaaaaaaa.",
    "BEGIN without END": "-----BEGIN PRIVATE KEY-----",
    "BEGIN with a body line": "-----BEGIN RSA PRIVATE KEY-----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n",
    "://user: without @": "://user:",
    "user:pass@ chains": "a:b@",
    "AKIA runs": "AKIA",
    "AKIA tokens": "AKIA ",
    "password= pairs": "password=",
    "open JSON passwords": '"password": "',
    "password runs": "password",
    "api_key = x": "api_key = x ",
    "Bearer runs": "Bearer ",
    "data URL heads": "data:image/png;base64,",
    "slack hooks": "hooks.slack.com/services/",
    "one letter": "a",
}
HUGE_TOKEN = "huge single token"
MB = 1_000_000


def adversarial(name: str, size: int) -> str:
    if name == HUGE_TOKEN:
        return "sk-" + "A1b2" * (size // 4)
    unit = ADVERSARIAL[name]
    return (unit * (size // len(unit) + 1))[:size]


def seconds(text: str, repeats: int = 1) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        redact(text)
        best = min(best, time.perf_counter() - start)
    return best


@pytest.mark.parametrize("name", [*ADVERSARIAL, HUGE_TOKEN])
def test_adversarial_input_takes_linear_time(name):
    """Each size under 1 s per MB (several times the measured cost), checked smallest first so a quadratic scan
    fails in seconds; and 100 KB -> 10 MB stays far from the 10,000x of a quadratic scan (linear is 100x)."""
    timings = {}
    for size in (10_000, 100_000, MB, 10 * MB):
        timings[size] = seconds(adversarial(name, size), repeats=3 if size <= 100_000 else 1)
        assert timings[size] < 0.02 + size / MB, f"{name}: {size:,} chars took {timings[size]:.2f} s"
    small, ten = timings[100_000], timings[10 * MB]
    assert ten < max(small, 0.002) * 1000, f"{name}: 100 KB {small:.4f} s, 10 MB {ten:.2f} s"
