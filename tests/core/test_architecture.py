"""The conventions of README's "How the code is organised" that a machine can check: services
and repositories speak neither HTTP nor commit; routes get the container only through
app/dependencies.py."""

import ast
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
DOMAIN_LOGIC = sorted([*APP.glob("*/service.py"), *APP.glob("*/repository.py")])
HTTP_PACKAGES = ("fastapi", "starlette")


def imported_modules(tree: ast.AST) -> set[str]:
    modules = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
    return modules


def method_calls(tree: ast.AST) -> set[str]:
    return {
        node.func.attr
        for node in ast.walk(tree)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }


@pytest.mark.parametrize("path", DOMAIN_LOGIC, ids=lambda path: str(path.relative_to(APP)))
def test_services_and_repositories_neither_speak_http_nor_commit(path):
    tree = ast.parse(path.read_text())

    http = {module for module in imported_modules(tree) if module.startswith(HTTP_PACKAGES)}
    assert not http, f"{path.name} imports {http}"
    assert "commit" not in method_calls(tree)


def test_only_the_lifespan_and_the_dependencies_touch_the_app_state():
    touching = sorted(
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if ".state.container" in path.read_text()
    )

    assert touching == ["admin/site.py", "dependencies.py", "main.py"]
