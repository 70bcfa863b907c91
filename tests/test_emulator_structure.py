"""The emulator's modules form layers: no import cycles, no hidden imports, no private names across modules."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

import o4_magics.testing

PACKAGE = "o4_magics.testing"
FOLDER = Path(o4_magics.testing.__file__).parent
MODULES = sorted(path.stem for path in FOLDER.glob("*.py") if path.stem != "__main__")
#: modules allowed to import a third-party package (the pytest plugin needs pytest)
THIRD_PARTY_ALLOWED = {"pytest_plugin": {"pytest"}}


def parse(module: str) -> ast.Module:
    return ast.parse((FOLDER / f"{module}.py").read_text(), filename=f"{module}.py")


def sibling_of(node: ast.Import | ast.ImportFrom) -> list[str]:
    """The sibling modules an import statement names ('' for the package itself)."""
    if isinstance(node, ast.ImportFrom):
        if node.level == 1:
            return [node.module.split(".")[0]] if node.module else [alias.name for alias in node.names]
        if node.level == 0 and node.module and node.module.startswith(PACKAGE):
            rest = node.module[len(PACKAGE) :].lstrip(".")
            return [rest.split(".")[0] if rest else ""]
        return []
    return [
        alias.name[len(PACKAGE) :].lstrip(".").split(".")[0]
        for alias in node.names
        if alias.name.startswith(PACKAGE)
    ]


def imports(module: str) -> list[tuple[ast.Import | ast.ImportFrom, bool]]:
    """Every import statement of ``module``, with whether it sits at the module's top level."""
    tree = parse(module)
    top = {id(node) for node in tree.body}
    return [
        (node, id(node) in top) for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
    ]


def graph() -> dict[str, set[str]]:
    return {
        module: {name for node, _ in imports(module) for name in sibling_of(node) if name and name != module}
        for module in MODULES
    }


@pytest.mark.parametrize("module", MODULES)
def test_sibling_imports_are_top_level_public_and_within_the_package(module: str) -> None:
    problems = []
    for node, top_level in imports(module):
        siblings = sibling_of(node)
        line = f"{module}.py:{node.lineno}"
        if siblings and not top_level:
            problems.append(f"{line}: imports {siblings} inside a function, class or if-block")
        if isinstance(node, ast.ImportFrom) and siblings:
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            if private:
                problems.append(f"{line}: imports private names {private}")
        if isinstance(node, ast.ImportFrom) and (
            node.level > 1 or (node.module or "").startswith("o4_magics")
        ):
            if not siblings:
                problems.append(f"{line}: imports o4_magics outside the testing package")
    assert problems == []


@pytest.mark.parametrize("module", MODULES)
def test_no_private_attribute_of_another_module_is_used(module: str) -> None:
    """``obj._name`` is allowed on ``self``/``cls`` or when ``_name`` is defined in the same module."""
    tree = parse(module)
    own = {node.name for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    own |= {
        node.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self"
    }
    own |= {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    problems = [
        f"{module}.py:{node.lineno}: .{node.attr}"
        for node in ast.walk(tree)
        if isinstance(node, ast.Attribute)
        and node.attr.startswith("_")
        and not node.attr.startswith("__")
        and not (isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"))
        and node.attr not in own
    ]
    assert problems == []


def test_the_import_graph_has_no_cycle_even_counting_type_checking_imports() -> None:
    edges = graph()
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, "import cycle: " + " -> ".join([*path, module])
        if module in done:
            return
        for target in sorted(edges.get(module, ())):
            visit(target, [*path, module])
        done.add(module)

    for module in MODULES:
        visit(module, [])


@pytest.mark.parametrize("module", MODULES)
def test_only_the_standard_library_is_imported(module: str) -> None:
    allowed = set(sys.stdlib_module_names) | {"__future__"} | THIRD_PARTY_ALLOWED.get(module, set())
    outside = {
        name.split(".")[0]
        for node, _ in imports(module)
        if not sibling_of(node)
        for name in (
            [alias.name for alias in node.names] if isinstance(node, ast.Import) else [node.module or ""]
        )
        if not (isinstance(node, ast.ImportFrom) and node.level)
    } - allowed
    assert outside == set()


IMPORT_CHECK = """
import importlib, json, sys
import o4_magics
package_level = set(sys.modules)


def found():
    new = set(sys.modules) - package_level
    upper = sorted(m for m in new if m.startswith("o4_magics.") and not m.startswith("o4_magics.testing"))
    third = sorted({m.split(".")[0] for m in new} - set(sys.stdlib_module_names) - {"o4_magics"})
    return {"upper": upper, "third": third}


first, *rest = json.loads(sys.argv[1])
importlib.import_module("o4_magics.testing." + first)
alone = found()
for name in rest:
    importlib.import_module("o4_magics.testing." + name)
print(json.dumps({"alone": alone, "all": found()}))
"""

PAIRS_CHECK = """
import importlib, itertools, json, sys
names = json.loads(sys.argv[1])
failures = []
for first, second in itertools.permutations(names, 2):
    for key in [k for k in sys.modules if k.startswith("o4_magics.testing")]:
        del sys.modules[key]
    try:
        importlib.import_module("o4_magics.testing." + first)
        importlib.import_module("o4_magics.testing." + second)
    except Exception as error:
        failures.append(f"{first} then {second}: {error!r}")
print(json.dumps(failures))
"""


def run_python(code: str, argument: list[str]) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code, json.dumps(argument)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_each_module_imports_first_in_a_fresh_interpreter_stdlib_only() -> None:
    for module in MODULES:
        order = [module, *(other for other in reversed(MODULES) if other != module)]
        found = json.loads(run_python(IMPORT_CHECK, order))
        assert found["alone"]["upper"] == found["all"]["upper"] == [], (module, found)
        if module != "pytest_plugin":
            assert found["alone"]["third"] == [], (module, found)


def test_every_ordered_pair_of_modules_imports_cleanly() -> None:
    assert json.loads(run_python(PAIRS_CHECK, MODULES)) == []
