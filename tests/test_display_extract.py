"""Code blocks and JSON taken out of replies (F18: ~~~ fences, fences in lists, bash blocks; prose + JSON)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from o4_magics.display.frontends import FRONTENDS, detect_frontend
from o4_magics.markdown.extract import code_blocks, parse_json_reply

REPLY = """Here is how:

1. Install it:

   ```bash
   pip install pandas
   ```
2. Then load the data:

   ~~~python
   import pandas as pd
   df = pd.read_csv("x.csv")
   ~~~

```
print(df.head())
```

> ```py
> df.describe()
> ```
"""


def test_code_blocks_finds_every_fence_and_prefers_python():
    assert code_blocks(REPLY) == [
        ("python", 'import pandas as pd\ndf = pd.read_csv("x.csv")'),
        ("", "print(df.head())"),
        ("py", "df.describe()"),
    ]


def test_code_blocks_returns_other_languages_with_their_language_when_no_python():
    assert code_blocks("Run:\n\n```bash\nls -la\n```\n") == [("bash", "ls -la")]
    assert code_blocks("no code here") == []
    assert code_blocks("```sh\nls\n```", preferred=("sh",)) == [("sh", "ls")]


@pytest.mark.parametrize(
    ("reply", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ("  [1, 2]\n", [1, 2]),
        ('Sure! Here it is:\n\n```json\n{"a": [1, 2]}\n```\n', {"a": [1, 2]}),
        ('Result:\n\n```\n{"b": true}\n```', {"b": True}),
        ('```json\nnot json\n```\n\n```json\n{"second": 2}\n```', {"second": 2}),
        ('The answer is {"x": "}"} and that is all.', {"x": "}"}),
        ("Broken {x} then [3, 4] works", [3, 4]),
    ],
)
def test_parse_json_reply(reply, expected):
    assert parse_json_reply(reply) == expected


@pytest.mark.parametrize("reply", ["", "just prose", "{unclosed", "```json\n{bad\n```"])
def test_parse_json_reply_says_why_it_failed(reply):
    with pytest.raises(ValueError, match=r"\w"):
        parse_json_reply(reply)


class _Shell:
    def __init__(self, user_ns=None):
        self.user_ns = user_ns or {}


class ZMQInteractiveShell(_Shell):
    pass


class TerminalInteractiveShell(_Shell):
    pass


def test_detect_frontend(monkeypatch):
    for name in [n for n in __import__("os").environ if n.startswith("VSCODE_")]:
        monkeypatch.delenv(name)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert detect_frontend(None) == "unknown"
    assert detect_frontend(_Shell()) == "unknown"
    assert detect_frontend(TerminalInteractiveShell()) == "terminal"
    assert detect_frontend(ZMQInteractiveShell()) == "jupyterlab"
    assert detect_frontend(ZMQInteractiveShell({"__vsc_ipynb_file__": "/x.ipynb"})) == "vscode"
    monkeypatch.setenv("VSCODE_PID", "123")
    assert detect_frontend(ZMQInteractiveShell()) == "vscode"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert detect_frontend(ZMQInteractiveShell()) == "colab"
    assert set(FRONTENDS) >= {"jupyterlab", "notebook7", "classic", "colab", "vscode", "terminal", "unknown"}


def test_importing_the_package_and_display_stays_light():
    """markdown_it and nh3 load at the first reply, never at import."""
    code = (
        "import sys, o4_magics, o4_magics.display.markdown, o4_magics.markdown.extract, "
        "o4_magics.display.sanitize, o4_magics.display.frontends, o4_magics.markdown.parser, "
        "o4_magics.display.edits, o4_magics.display.settle\n"
        "heavy = [m for m in ('markdown_it', 'nh3') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "o4_magics.display.markdown.to_display_markdown('x')\n"
        "assert 'markdown_it' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
