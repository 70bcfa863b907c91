"""The credential redactor: every kind it knows, what it must leave alone, and its API (values, counts, idempotence).

Keys here are generated in the right shapes from a seeded random source; none is real. ``make_sample`` is shared
with tests/test_redact_fuzz.py.
"""

from __future__ import annotations

import ast
import base64
import json
import random
import string
import sys
from collections import namedtuple
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from o4_magics.redact import KINDS, Redactor, redact

B62 = string.ascii_letters + string.digits
B64URL = B62 + "-_"
HEX = "0123456789abcdef"
BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass
class Sample:
    """A credential as it appears in text, and the parts of it that must never survive redaction."""

    kind: str
    text: str
    secrets: list[str]
    configured: tuple[str, ...] = ()
    env: tuple[str, str] = ("", "")  # (variable name, value) when it sits in an environment


def pick(rng: random.Random, alphabet: str, n: int) -> str:
    return "".join(rng.choice(alphabet) for _ in range(n))


def secretish(rng: random.Random, alphabet: str, n: int, must: str = "") -> str:
    """``n`` random characters of ``alphabet`` that hold a digit, a capital, a small letter and one of ``must``."""
    chars = list(pick(rng, alphabet, n - 3 - bool(must)))
    chars += [
        rng.choice(string.digits),
        rng.choice(string.ascii_uppercase),
        rng.choice(string.ascii_lowercase),
    ]
    if must:
        chars.append(rng.choice(must))
    rng.shuffle(chars)
    if must and chars[0] in must:  # keep a leading letter (a value starting with "-" reads as a flag)
        chars.append(chars.pop(0))
    return "".join(chars)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def plain(kind: str, text: str, secret: str, env_name: str = "MY_VALUE") -> Sample:
    return Sample(kind, text, [secret], env=(env_name, text))


def make_openrouter(rng):
    body = pick(rng, HEX, 64)
    return plain("openrouter key", "sk-or-v1-" + body, body, "OPENROUTER_KEY_BACKUP")


def make_openai_legacy(rng):
    body = secretish(rng, B62, 48)
    return plain("openai key", "sk-" + body, body)


def make_openai_project(rng):
    prefix = rng.choice(["sk-proj-", "sk-svcacct-", "sk-admin-"])
    body = secretish(rng, B64URL, rng.randint(40, 160))
    return plain("openai key", prefix + body, body)


def make_anthropic(rng):
    body = secretish(rng, B64URL, 93) + "AA"
    return plain("anthropic key", "sk-ant-api03-" + body, body)


def make_aws_key_id(rng):
    body = pick(rng, BASE32, 16)
    return plain("aws access key id", rng.choice(["AKIA", "ASIA"]) + body, body, "AWS_ACCESS_KEY_ID")


def make_aws_secret(rng):
    value = secretish(rng, B62 + "/+", 40, must="/+")
    label = rng.choice(["aws_secret_access_key = {}", "AWS_SECRET_ACCESS_KEY={}", '"SecretAccessKey": "{}"'])
    return Sample("aws secret key", label.format(value), [value], env=("AWS_SECRET_ACCESS_KEY", value))


def make_github(rng):
    if rng.random() < 0.5:
        body = secretish(rng, B62, 36)
        return plain("github token", rng.choice(["ghp_", "gho_", "ghu_", "ghs_", "ghr_"]) + body, body)
    body = secretish(rng, B62, 22) + "_" + secretish(rng, B62, 59)
    return plain("github token", "github_pat_" + body, body)


def make_slack_token(rng):
    prefix = rng.choice(["xoxb-", "xoxp-", "xoxa-", "xoxr-", "xoxs-"])
    body = f"{pick(rng, string.digits, 12)}-{pick(rng, string.digits, 13)}-{secretish(rng, B62, 24)}"
    if rng.random() < 0.3:
        prefix, body = (
            "xapp-",
            f"1-A{pick(rng, BASE32, 10)}-{pick(rng, string.digits, 13)}-{pick(rng, HEX, 64)}",
        )
    return plain("slack token", prefix + body, body)


def make_slack_webhook(rng):
    path = f"T{pick(rng, BASE32, 10)}/B{pick(rng, BASE32, 10)}/{secretish(rng, B62, 24)}"
    return plain("slack webhook", "https://hooks.slack.com/services/" + path, path, "SLACK_WEBHOOK_URL")


def make_jwt(rng):
    header = b64url(json.dumps({"alg": rng.choice(["HS256", "RS256"]), "typ": "JWT"}).encode())
    claims = {"sub": pick(rng, B62, 12), "exp": rng.randint(10**9, 2 * 10**9), "email": "ann@example.com"}
    payload, signature = b64url(json.dumps(claims).encode()), b64url(rng.randbytes(32))
    token = f"{header}.{payload}.{signature}"
    return Sample("jwt", token, [payload, signature], env=("ID_TOKEN_CACHE", token))


def make_pem(rng):
    kind = rng.choice(["RSA ", "EC ", "OPENSSH ", "ENCRYPTED ", "", "DSA "])
    width = 70 if kind == "OPENSSH " else 64
    body = base64.b64encode(rng.randbytes(rng.randint(120, 1200))).decode()
    lines = [body[i : i + width] for i in range(0, len(body), width)]
    newline = rng.choice(["\n", "\r\n"])
    headers = []
    if kind == "RSA " and rng.random() < 0.4:
        headers = ["Proc-Type: 4,ENCRYPTED", f"DEK-Info: AES-128-CBC,{pick(rng, HEX, 32).upper()}", ""]
    block = newline.join(
        [f"-----BEGIN {kind}PRIVATE KEY-----", *headers, *lines, f"-----END {kind}PRIVATE KEY-----"]
    )
    return Sample("private key", block, [line for line in lines if len(line) >= 12], env=("SSH_KEY", block))


def make_url_password(rng):
    password = secretish(rng, B62 + "!$*~-_%", rng.randint(10, 30))
    scheme = rng.choice(["http", "https", "postgresql", "redis", "mongodb+srv", "amqp", "ftp"])
    user = pick(rng, string.ascii_lowercase, rng.randint(3, 10))
    tail = rng.choice(["", ":5432/db", "/v1/items?x=1", ":8080"])
    url = f"{scheme}://{user}:{password}@{rng.choice(['proxy.corp', 'db.internal', '10.0.0.7'])}{tail}"
    return Sample("url password", url, [password], env=(rng.choice(["HTTP_PROXY", "DATABASE_URL"]), url))


LABELS = {
    "password": ["DB_PASSWORD", "SMTP_PASSWD", "password", "db_password", "PASSWORD", "adminPassword"],
    "token": [
        "GITHUB_TOKEN",
        "SLACK_BOT_TOKEN",
        "accessToken",
        "refresh_token",
        "JUPYTER_TOKEN",
        "x-auth-token",
    ],
    "secret": [
        "MY_API_KEY",
        "apiKey",
        "CLIENT_SECRET",
        "client_secret",
        "STRIPE_SECRET",
        "SECRET_KEY",
        "x-api-key",
    ],
}
LABEL_FORMATS = ["{n}={v}", "{n}: {v}", '"{n}": "{v}"', "'{n}': '{v}'", 'export {n}="{v}"', "{n} = '{v}'"]


def make_labelled(rng):
    kind = rng.choice(sorted(LABELS))
    name = rng.choice(LABELS[kind])
    value = secretish(rng, B62 + "-_!*+/%", rng.randint(12, 40), must="-!*+/%")
    text = rng.choice(LABEL_FORMATS).format(n=name, v=value)
    return Sample(kind, text, [value], env=(name, value))


def make_bearer(rng):
    value = secretish(rng, B62 + "-._~", rng.randint(20, 60))
    return Sample(
        "bearer token", f"Authorization: Bearer {value}", [value], env=("AUTH_HEADER", f"Bearer {value}")
    )


def make_huggingface(rng):
    body = secretish(rng, string.ascii_letters, 34)
    return plain("huggingface token", "hf_" + body, body, "HF_HUB_TOKEN_COPY")


def make_google(rng):
    body = secretish(rng, B64URL, 35)
    return plain("google api key", "AIza" + body, body)


def make_stripe(rng):
    body = secretish(rng, B62, rng.randint(24, 99))
    return plain("stripe key", rng.choice(["sk_live_", "sk_test_", "rk_live_"]) + body, body)


def make_configured(rng):
    key = secretish(rng, B62 + " -_.~!@#$%^&*+=", rng.randint(16, 60)).strip()
    padded = rng.choice(["", " ", "\n", "\t "]) + key + rng.choice(["", "\n", "  "])
    return Sample("api key", key, [key], configured=(padded,), env=("OPENROUTER_API_KEY", key))


MAKERS: dict[str, Callable[[random.Random], Sample]] = {
    name.removeprefix("make_"): maker for name, maker in globals().items() if name.startswith("make_")
}


def make_sample(maker: str, seed: int) -> Sample:
    return MAKERS[maker](random.Random(seed))


def windows(part: str, width: int = 12) -> set[str]:
    """Every ``width``-character piece of ``part`` (the whole part when shorter)."""
    if len(part) <= width:
        return {part}
    return {part[i : i + width] for i in range(len(part) - width + 1)}


def leaked(sample: Sample, text: str) -> list[str]:
    """The 12-character pieces of the sample's secret parts found in ``text``."""
    return sorted(piece for part in sample.secrets for piece in windows(part) if piece in text)


# ---- every kind, from its generator and from hand-written lines ------------------------------------------------


@pytest.mark.parametrize("maker", sorted(MAKERS))
@pytest.mark.parametrize("seed", range(5))
def test_each_generated_kind_is_redacted_in_a_question(maker, seed):
    sample = make_sample(maker, seed)
    question = f"Why does this fail?\n{sample.text}\nThanks, please help."
    text, count = Redactor(sample.configured).redact(question)
    assert not leaked(sample, text), text
    assert f"[redacted: {sample.kind}]" in text
    assert count >= 1
    assert text.startswith("Why does this fail?\n") and text.endswith("\nThanks, please help.")


KEY = "sk-or-v1-" + "0f3a9c" * 10 + "beef"
HAND_WRITTEN = [
    (f"my key is {KEY}, why 401?", "my key is [redacted: openrouter key], why 401?"),
    ("OPENAI_API_KEY=sk-proj-Ab3dEf6hIj9kLm2nOp5qRs8tUv", "OPENAI_API_KEY=[redacted: openai key]"),
    ("key='sk-Zx81" + "Qw7Er6Ty5Ui4Op3As2Df1Gh0JkLz" * 2 + "'", "key='[redacted: openai key]'"),
    ("ANTHROPIC_API_KEY: sk-ant-api03-Xy9" + "a" * 90 + "AA", "ANTHROPIC_API_KEY: [redacted: anthropic key]"),
    ("id AKIAIOSFODNN7EXAMPLE in ~/.aws", "id [redacted: aws access key id] in ~/.aws"),
    (
        "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYzzKEY9",
        "aws_secret_access_key = [redacted: aws secret key]",
    ),
    (
        "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCY1234",
        "AWS_SECRET_ACCESS_KEY=[redacted: aws secret key]",
    ),
    ("token ghp_" + "aB3" * 12 + " expired", "token [redacted: github token] expired"),
    ("github_pat_11ABCDEFG0123456789_" + "xY7" * 19, "[redacted: github token]"),
    ("xoxb-123456789012-1234567890123-AbCdEfGhIjKlMnOpQrStUvWx", "[redacted: slack token]"),
    (
        "post to https://hooks.slack.com/services/T0ABC1234/B0DEF5678/AbCdEfGhIjKlMnOpQrStUvWx now",
        "post to https://hooks.slack.com/services/[redacted: slack webhook] now",
    ),
    (
        "Authorization: Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0."
        "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        "Authorization: Bearer [redacted: jwt]",
    ),
    (
        "curl -H 'Authorization: Bearer 8f1e2d3c4b5a69788796a5b4c3d2e1f0'",
        "curl -H 'Authorization: Bearer [redacted: bearer token]'",
    ),
    (
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABAAAAMwAAAAtzc2gtZW\n"
        "QyNTUxOQAAACDx\n-----END OPENSSH PRIVATE KEY-----\nwhat format is this?",
        "[redacted: private key]\nwhat format is this?",
    ),
    (
        "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,0A1B2C3D4E5F60718293A4B5C6D7E8F9"
        "\n\nMIIEpAIBAAKCAQEAx1y2z3" + "Q" * 40 + "\n-----END RSA PRIVATE KEY-----",
        "[redacted: private key]",
    ),
    (
        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBkg4LVWM9nuwNSk3yByxZpYRTBnVJk5fH1hW3dQ2MKAoAoGCCqGSM49\n"
        "AwEHoUQDQgAE\nwhat does this mean?",
        "[redacted: private key]\nwhat does this mean?",
    ),
    (
        '{"private_key": "-----BEGIN PRIVATE KEY-----\\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\\nAbC=\\n'
        '-----END PRIVATE KEY-----\\n", "client_email": "a@b.iam.gserviceaccount.com"}',
        '{"private_key": "[redacted: private key]\\n", "client_email": "a@b.iam.gserviceaccount.com"}',
    ),
    (
        "-----BEGIN PGP PRIVATE KEY BLOCK-----\nVersion: GnuPG v2\n\nlQOYBF" + "x9" * 30 + "\n=AbCd\n"
        "-----END PGP PRIVATE KEY BLOCK-----",
        "[redacted: private key]",
    ),
    (
        "HTTPS_PROXY=http://bob:s3cr3t!x@proxy.corp:8080 why is my proxy not picked up?",
        "HTTPS_PROXY=http://bob:[redacted: url password]@proxy.corp:8080 why is my proxy not picked up?",
    ),
    ("postgresql://app:p@ss%40word1@db:5432/x", "postgresql://app:[redacted: url password]@db:5432/x"),
    (
        "environ({'HOME': '/root', 'GITHUB_TOKEN': 'abc123def456ghi', 'PWD': '/w'})",
        "environ({'HOME': '/root', 'GITHUB_TOKEN': '[redacted: token]', 'PWD': '/w'})",
    ),
    ("DB_PASSWORD=hunter2", "DB_PASSWORD=[redacted: password]"),
    ("password: monkey123", "password: [redacted: password]"),
    (
        'credential: "SMTP_PASSWD": "0yY56H-MrIZ7-… 66.7%',
        'credential: "SMTP_PASSWD": "[redacted: password] 66.7%',
    ),
    (
        '0,ann,"export DB_PASSWORD=""H+Ic!rWhWM5-rB9dopl""",1',
        '0,ann,"export DB_PASSWORD=""[redacted: password]""",1',
    ),
    ('0,ann,"SLACK_BOT_TOKEN=""HeOg98%+jS89A9J…",1', '0,ann,"SLACK_BOT_TOKEN=""[redacted: token]",1'),
    ("'CLIENT_SECRET': 'Fo*x2j9TKRK/SlxTBMTHd-pNf%rNDaKC2'", "'CLIENT_SECRET': '[redacted: secret]'"),
    ("x-auth-token: bTQbX%SOrClD1mXzOEUBg%s0q*Njf7PBy3/", "x-auth-token: [redacted: token]"),
    ("DB_PASSWORD=hunter", "DB_PASSWORD=[redacted: password]"),
    ('{"user": "ann", "password": "correct horse"}', '{"user": "ann", "password": "[redacted: password]"}'),
    ("db:\n  password: hunter\n  port: 5432", "db:\n  password: [redacted: password]\n  port: 5432"),
    ("SMTP_PASSWD='pa55-word'", "SMTP_PASSWD='[redacted: password]'"),
    ('export CLIENT_SECRET="9f8e7d6c5b4a"', 'export CLIENT_SECRET="[redacted: secret]"'),
    ("X-Api-Key: abc123def456", "X-Api-Key: [redacted: secret]"),
    ("os.environ['MY_PASSWORD'] = 'p4ss'", "os.environ['MY_PASSWORD'] = '[redacted: password]'"),
    (
        'conn = connect(user="ann", password="Tr0ub4dor&3")',
        'conn = connect(user="ann", password="[redacted: password]")',
    ),
    ("HF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYzAbCdEfGh", "HF_TOKEN=[redacted: huggingface token]"),
    ("maps AIzaSyA1b2C3d4E5f6G7h8I9j0KlMnOpQrStUv", "maps [redacted: google api key]"),
    ("stripe sk_live_4eC39HqLyjWDarjtT1zdp7dc", "stripe [redacted: stripe key]"),
    # shapes the fuzz tests found through describe_value, JSON and reprs (cut by previews, escaped, CSV-quoted)
    ("credential: AIzaHzN8BKAHZrQmT61WhO9Gm-b9j… 66.7%", "credential: [redacted: google api key]… 66.7%"),
    ("db: postgresql://app:Xy9pQ2rT5w…", "db: postgresql://app:[redacted: url password]…"),
    ("web: http://localhost:8888…", "web: http://localhost:8888…"),
    ("Authorization: Bearer KgqH.SzPHJgUPOLsx…,1", "Authorization: Bearer [redacted: bearer token]…,1"),
    (
        '0,ann,"""SecretAccessKey"": ""D2++rapW8ddbA/4GD/5…",1',
        '0,ann,"""SecretAccessKey"": ""[redacted: aws secret key]",1',
    ),
    (
        '{"cred": "\\"DB_PASSWORD\\": \\"a1-b2c3d4e5\\""}',
        '{"cred": "\\"DB_PASSWORD\\": \\"[redacted: password]\\""}',
    ),
    (
        "credential: STRIPE_SECRET = 'p0RLa!i8cBwR… 66.7%",
        "credential: STRIPE_SECRET = '[redacted: secret] 66.7%",
    ),
    ("up?'SECRET_KEY = 'T%w6WjBr+-H2ixlg'' thanks", "up?'SECRET_KEY = '[redacted: secret]'' thanks"),
    (
        "{'k': '-----BEGIN RSA PRIVATE KEY-----\\nMIIEpAIBAAKCAQEAxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyzxyz0123"
        "\\nMIIEpAIBAAKCA'…(+1500)}",
        "{'k': '[redacted: private key]'…(+1500)}",
    ),
]


@pytest.mark.parametrize(("text", "expected"), HAND_WRITTEN)
def test_hand_written_credentials(text, expected):
    redacted, count = redact(text)
    assert redacted == expected
    assert count == expected.count("[redacted:")


def test_every_kind_is_covered_by_the_generators():
    produced = {make_sample(maker, seed).kind for maker in MAKERS for seed in range(20)}
    assert produced == set(KINDS)


# ---- false positives -------------------------------------------------------------------------------------------

NOT_SECRETS = [
    "password = input()",
    "password = getpass.getpass('Password: ')",
    'pw = input("Password: "); print("ok")',
    "token_count = 5",
    "max_tokens: 100",
    "from sklearn.linear_model import Ridge  # sk-learn, scikit-learn",
    "pip install sk-learn-compatible-estimators; see sk-learn-transformations, sk-v2 and sk-Ab3",
    "commit 3f786850e387550fdab836ed7e6dc881de23001b fixed it",
    "run 123e4567-e89b-12d3-a456-426614174000 finished",
    "data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==",
    "client = OpenAI(api_key=api_key, base_url=base_url)",
    "api_key = os.environ['OPENROUTER_API_KEY']",
    "key = os.getenv('OPENROUTER_API_KEY')",
    "headers = {'Authorization': f'Bearer {api_key}'}",
    'curl -H "Authorization: Bearer $OPENROUTER_API_KEY" https://openrouter.ai/api/v1/models',
    "Set OPENROUTER_API_KEY=your-key-here (it starts with sk-or-v1-...)",
    "OPENAI_API_KEY=<your key>",
    "GITHUB_TOKEN=ghp_... and OPENAI_API_KEY='sk-proj-…' and ANTHROPIC_API_KEY: sk-ant-...",
    "{'pad_token': '<pad>', 'eos_token': '</s>', 'cls_token': '[CLS]'}",
    '{"token": "Hello", "logprob": -0.31, "bytes": [72, 101]}',
    '{"token": "Wonderful", "logprob": -0.2} {"token":"ization2"}',
    "tokenizer.pad_token = tokenizer.eos_token",
    "password: str",
    "def login(user: str, password: str | None = None) -> bool:",
    "if password == expected:",
    "PASSWORD_MIN_LENGTH = 12",
    "secret = None",
    "is_secret: false",
    "The secret: use vectorized operations instead of loops.",
    "Reset password: click the link we sent.",
    "passwords: many users reuse them",
    "http://localhost:8888/lab?token=abc",
    "ssh://git@github.com:22/org/repo.git and git@github.com:org/repo.git",
    "https://example.com:8443/path?q=a@b.com",
    "-----BEGIN RSA PRIVATE KEY----- is the first line of my key file; what does it mean?",
    "-----BEGIN CERTIFICATE-----\nMIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ\n-----END CERTIFICATE-----",
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9 is a base64 JSON header",
    "the bearer of bad news; Bearer tokens expire; use bearer authentication. Bearer access_token",
    'PASSWORD_SAFE = "".join(chars); password = password1; api_key = key2',
    'USER_PASSWD = "%s:%s" % (USER, PASSWD); auth_token = "{scheme} {value}".format(**parts)',
    "AKIA is the prefix of AWS access key ids; ASIAPACIFIC region; the ASIA2024 summit",
    "ghost_town = ghp_ or gho_",
    "model openai/o4-mini, reasoning effort high, top_p 0.9",
    "df.groupby('user_token_id').agg({'amount': 'sum'})",
    "Use `%config O4Magics.model = 'openai/o4-mini'` and `%o4 -n {df} why?`",
    "[redacted: api key] [redacted: password] https://u:[redacted: url password]@h",
    "0TOKEN:'://:[redacted: url password]@ and ://u:ab[redacted:@h",
    '\'GITHUB_TOKEN\': \'[redacted: token]… and "password": "[redacted: password]" and ""[redacted: x]',
]


@pytest.mark.parametrize("text", NOT_SECRETS)
def test_ordinary_text_and_code_are_left_alone(text):
    assert redact(text) == (text, 0)


def test_prose_and_code_at_length_are_left_alone():
    """Large ordinary text (this repository's own sources and README) keeps every character."""
    root = Path(__file__).resolve().parent.parent
    files = sorted((root / "o4_magics").rglob("*.py")) + [root / "README.md"]
    for path in files:
        if path.name == "redact.py":
            continue  # it names the shapes it looks for
        source = path.read_text(encoding="utf-8")
        redacted, count = redact(source)
        if count:
            changed = [line for line in redacted.splitlines() if "[redacted:" in line]
            pytest.fail(f"{path.name}: {changed[:5]}")


# ---- the API ----------------------------------------------------------------------------------------------------


def test_configured_secrets_are_redacted_exactly_stripped_and_when_cut():
    key = "  correct horse battery staple 42\n"
    redactor = Redactor([key, "short", ""])
    assert redactor.redact("pw is correct horse battery staple 42.") == ("pw is [redacted: api key].", 1)
    assert redactor.redact("pw is correct horse batt… (cut)") == ("pw is [redacted: api key]… (cut)", 1)
    assert redactor.redact("…orse battery staple 42 end") == ("…[redacted: api key] end", 1)
    assert redactor.redact("short stories") == ("short stories", 0)  # secrets under 8 characters are ignored
    assert redactor.redact("correct hor") == ("correct hor", 0)  # under 12 characters of it is not enough


def test_add_secret_and_module_level_redact():
    redactor = Redactor()
    text = "token zq-8Jk2-Lm9x-Pq7r in the log"
    assert redactor.redact(text) == (text, 0)
    redactor.add_secret("zq-8Jk2-Lm9x-Pq7r")
    assert redactor.redact(text) == ("token [redacted: api key] in the log", 1)
    assert redact(text, ["zq-8Jk2-Lm9x-Pq7r"]) == ("token [redacted: api key] in the log", 1)
    assert redact(text) == (text, 0)


def test_the_configured_key_is_named_api_key_even_when_key_shaped():
    redactor = Redactor([KEY])
    assert redactor.redact(f"k={KEY}") == ("k=[redacted: api key]", 1)
    other = "sk-or-v1-" + "1234abcd" * 8
    assert redactor.redact(other) == ("[redacted: openrouter key]", 1)


def test_counts_every_replacement():
    text = f"{KEY} and {KEY} and AKIAIOSFODNN7EXAMPLE and DB_PASSWORD=hunter2"
    redacted, count = redact(text)
    assert count == 4
    assert redacted.count("[redacted:") == 4


@pytest.mark.parametrize("maker", sorted(MAKERS))
def test_redacting_twice_changes_nothing(maker):
    sample = make_sample(maker, 7)
    redactor = Redactor(sample.configured)
    once, count = redactor.redact(f"see {sample.text} and {sample.text}!")
    assert count >= 2
    assert redactor.redact(once) == (once, 0)


def test_contains_secret():
    redactor = Redactor(["my-configured-secret"])
    assert redactor.contains_secret(f"x {KEY}")
    assert redactor.contains_secret("x my-configured-secret y")
    assert not redactor.contains_secret("password = input()")


def test_redact_value_walks_structures_and_keeps_other_leaves():
    Point = namedtuple("Point", "x label")
    value = {
        "n": 3,
        KEY: [None, 1.5, b"sk-raw-bytes", ("DB_PASSWORD=hunter2", Point(1, f"k {KEY}"))],
        "nested": {"deeper": [{"token": KEY}], "ok": "fine"},
    }
    redacted, count = Redactor().redact_value(value)
    assert count == 4
    assert redacted == {
        "n": 3,
        "[redacted: openrouter key]": [
            None,
            1.5,
            b"sk-raw-bytes",
            ("DB_PASSWORD=[redacted: password]", Point(1, "k [redacted: openrouter key]")),
        ],
        "nested": {"deeper": [{"token": "[redacted: openrouter key]"}], "ok": "fine"},
    }
    assert isinstance(redacted["[redacted: openrouter key]"][3][1], Point)
    assert value["nested"]["deeper"][0]["token"] == KEY  # the original is not modified


def test_redact_value_leaves_image_data_urls_untouched():
    png = base64.b64encode(random.Random(3).randbytes(30000)).decode()
    # base64 may hold anything, here an AWS-key-shaped run: inside a data URL it is image data, not a key
    data_url = "data:image/png;base64," + png[:9000] + "+AKIAIOSFODNN7EXAMPLE/" + png[9000:]
    messages = [
        {"role": "system", "content": "be brief"},
        {
            "role": "user",
            "content": [
                {
                    "type": "text",
                    "text": "why is my proxy not picked up? {'HTTPS_PROXY': 'http://u:pw1234@h:3128'}",
                },
                {"type": "image_url", "image_url": {"url": data_url, "detail": "auto"}},
            ],
        },
    ]
    redacted, count = Redactor().redact_value(messages)
    assert count == 1
    assert redacted[1]["content"][1]["image_url"]["url"] == data_url
    assert redacted[1]["content"][0]["text"] == (
        "why is my proxy not picked up? {'HTTPS_PROXY': 'http://u:[redacted: url password]@h:3128'}"
    )
    assert redacted[0] == messages[0]
    assert redacted is not messages and redacted[1] is not messages[1]


def test_a_secret_split_over_two_stream_chunks_is_caught_once_whole():
    """Documented: the caller redacts the whole text at each redraw, so a half-arrived key shows once complete."""
    first, second = KEY[:8], KEY[8:]
    assert redact(f"your key {first}") == (f"your key {first}", 0)  # 'sk-or-v1' alone is no key yet
    assert redact(f"your key {first}{second} is leaked") == (
        "your key [redacted: openrouter key] is leaked",
        1,
    )


def test_redact_is_a_leaf_module_of_the_standard_library_only():
    import o4_magics.redact as module

    tree = ast.parse(Path(module.__file__).read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, "no relative imports"
            imported.add((node.module or "").split(".")[0])
    assert imported <= set(sys.stdlib_module_names) | {"__future__"}


def test_remembered_texts_are_redacted_again_when_a_secret_is_added():
    """``redact_value`` remembers long texts (a conversation's history goes out on every call); a secret added
    later (a new key) still goes from them, and the remembered result equals a fresh scan."""
    from o4_magics.redact import Redactor

    secret = "plain-words-that-are-a-secret-1234"
    history = [{"role": "user", "content": "Context: " + "lorem ipsum " * 30 + secret}]
    redactor = Redactor()
    first, found = redactor.redact_value(history)
    assert secret in first[0]["content"] and found == 0
    assert redactor.redact_value(history) == (first, 0)  # remembered
    redactor.add_secret(secret)
    again, found = redactor.redact_value(history)
    assert secret not in again[0]["content"] and found == 1
    assert again[0]["content"] == Redactor([secret]).redact(history[0]["content"])[0]
