"""The package shows its floors: imports only go down (fronts -> call -> accounting/store/context; display never
imports call), nothing outside tests imports the emulator, every public error is exported, and
``%unload_ext`` undoes ``%load_ext``."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import o4_magics

PACKAGE = Path(o4_magics.__file__).parent
FRONTS = {"ipython", "widgets", "api"}
#: floor -> floors it must never import
FORBIDDEN = {
    "display": FRONTS | {"call", "accounting", "store", "context", "testing"},
    "markdown": FRONTS | {"call", "display", "accounting", "store", "context", "testing"},
    "call": FRONTS | {"display", "testing"},
    "accounting": FRONTS | {"call", "display", "store", "testing"},
    "store": FRONTS | {"call", "display", "accounting", "context", "testing"},
    "context": FRONTS | {"call", "display", "accounting", "store", "testing"},
    "errors": FRONTS | {"call", "display", "accounting", "store", "context", "testing", "redact"},
    "redact": FRONTS | {"call", "display", "accounting", "store", "context", "testing", "errors"},
    "ipython": {"testing"},
    "widgets": {"testing"},
    "api": {"testing"},
}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the o4_magics modules ``path`` imports (relative imports resolved)."""
    module = _module_name(path)
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
                names = [f"{target}.{alias.name}" for alias in node.names] if not node.module else []
                found.update([target, *names])
            elif node.module and node.module.startswith("o4_magics"):
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("o4_magics"))
    return found


def floor(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "root"


def test_imports_only_go_down():
    wrong = []
    for path in sorted(PACKAGE.rglob("*.py")):
        source = floor(_module_name(path))
        if source == "testing":
            continue
        for target in _imports(path):
            if floor(target) in FORBIDDEN.get(source, set()):
                wrong.append(f"{_module_name(path)} imports {target}")
    assert wrong == []


def test_the_rule_catches_a_wrong_import(tmp_path, monkeypatch):
    """The check itself works: a display module importing call is reported."""
    fake = PACKAGE / "display" / "_probe_wrong_import.py"
    fake.write_text("from ..call import engine\n")
    try:
        with pytest.raises(AssertionError):
            test_imports_only_go_down()
    finally:
        fake.unlink()


def test_only_tests_import_the_emulator():
    users = [
        _module_name(path)
        for path in PACKAGE.rglob("*.py")
        if floor(_module_name(path)) != "testing" and any(floor(t) == "testing" for t in _imports(path))
    ]
    assert users == []


def test_each_floor_has_a_docstring_and_its_modules_too():
    missing = [
        _module_name(path)
        for path in PACKAGE.rglob("*.py")
        if not ast.get_docstring(ast.parse(path.read_text()))
    ]
    assert missing == []


def test_every_public_error_is_exported_and_an_o4_error():
    from o4_magics import errors

    for name in errors.PUBLIC_ERRORS:
        cls = getattr(o4_magics, name)
        assert name in o4_magics.__all__ and issubclass(cls, o4_magics.O4Error)
    assert issubclass(o4_magics.ContextError, o4_magics.O4Error)
    assert issubclass(o4_magics.BudgetExceeded, o4_magics.ConfigError)


def test_load_ext_stays_light():
    code = (
        "import sys; from IPython.core.interactiveshell import InteractiveShell;"
        "sh = InteractiveShell.instance(); sh.run_line_magic('load_ext', 'o4_magics');"
        "heavy = ('openai', 'ipywidgets', 'pandas', 'matplotlib', 'PIL', 'numpy', 'httpx', 'httpx2', "
        "'markdown_it', 'nh3', 'psycopg', 'mdit_py_plugins');"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_unload_undoes_load_and_load_works_again(bare_shell, keyed_env):
    shell = bare_shell
    before = {
        "line": set(shell.magics_manager.magics["line"]),
        "cell": set(shell.magics_manager.magics["cell"]),
        "transformers": list(shell.input_transformers_cleanup),
        "pre": list(shell.events.callbacks["pre_run_cell"]),
        "post": list(shell.events.callbacks["post_run_cell"]),
        "configurables": [c for c in shell.configurables if type(c).__name__ == "O4Magics"],
        "publish": shell.display_pub.publish,
    }
    shell.run_line_magic("load_ext", "o4_magics")
    assert "o4" in shell.magics_manager.magics["line"] and "o4" in shell.magics_manager.magics["cell"]
    shell.run_line_magic("unload_ext", "o4_magics")
    after = {
        "line": set(shell.magics_manager.magics["line"]),
        "cell": set(shell.magics_manager.magics["cell"]),
        "transformers": list(shell.input_transformers_cleanup),
        "pre": list(shell.events.callbacks["pre_run_cell"]),
        "post": list(shell.events.callbacks["post_run_cell"]),
        "configurables": [c for c in shell.configurables if type(c).__name__ == "O4Magics"],
        "publish": shell.display_pub.publish,
    }
    assert after == before
    import warnings

    assert not getattr(warnings.showwarning, "_o4_hook", False)
    formatter = shell.display_formatter.formatters["text/markdown"]
    assert ("o4_magics.call.reply", "Reply") not in formatter.deferred_printers
    shell.run_line_magic("load_ext", "o4_magics")
    result, _ = shell.run("%o4 hello again")
    assert result.success and len(keyed_env.chat_requests) == 1


@pytest.mark.parametrize("floor_name", ["call", "accounting", "store", "display", "ipython", "markdown", "widgets"])
def test_each_floor_exports_a_few_names(floor_name):
    import importlib

    package = importlib.import_module(f"o4_magics.{floor_name}")
    assert 1 <= len(package.__all__) <= 8
    for name in package.__all__:
        assert getattr(package, name) is not None
