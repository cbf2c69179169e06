"""The conventions of README's "How the code is organised" that a machine can check: domain
code speaks neither HTTP nor commits, and never reaches for the wiring; the packages depend on
each other in one direction; routes get collaborators only through app/dependencies.py."""

import ast
import re
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

import pytest

APP = Path(__file__).resolve().parents[2] / "app"
# What is not a domain: the framework (core), the wiring and the admin site, the migrations.
NOT_DOMAINS = {"core", "admin", "migrations"}
WIRING = ("app.container", "app.dependencies", "app.main", "app.jobs", "app.cli", "app.admin")
# The HTTP edge of a domain: its routes, their dependencies, and the catalogue's HTTP cache.
HTTP_EDGE = {"router.py", "dependencies.py", "cache.py"}
HTTP_PACKAGES = ("fastapi", "starlette")


def package_of(path: Path) -> str:
    parts = path.relative_to(APP).parts
    return parts[0] if len(parts) > 1 else path.stem


def domain_modules() -> list[Path]:
    return sorted(
        path
        for path in APP.glob("*/*.py")
        if package_of(path) not in NOT_DOMAINS and path.name not in HTTP_EDGE
    )


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


def package_graph() -> dict[str, set[str]]:
    """Which of our packages (or top-level modules) each one imports, from every module but the
    HTTP edge's (a route may use any domain)."""
    graph: dict[str, set[str]] = {}
    for path in APP.rglob("*.py"):
        if path.name in HTTP_EDGE or package_of(path) == "migrations":
            continue
        package = package_of(path)
        imported = imported_modules(ast.parse(path.read_text()))
        graph.setdefault(package, set()).update(
            module.split(".")[1]
            for module in imported
            if module.startswith("app.") and module.split(".")[1] != package
        )
    return graph


DOMAIN = domain_modules()
IDS = [str(path.relative_to(APP)) for path in DOMAIN]


def test_the_domain_modules_are_found():
    assert {"events/service.py", "registrations/lifecycle.py", "provider/records.py"} <= set(IDS)
    assert "events/router.py" not in IDS


@pytest.mark.parametrize("path", DOMAIN, ids=IDS)
def test_domain_code_neither_speaks_http_nor_commits(path):
    tree = ast.parse(path.read_text())

    http = {module for module in imported_modules(tree) if module.startswith(HTTP_PACKAGES)}
    assert not http, f"{path.name} imports {http}"
    assert "commit" not in method_calls(tree)


@pytest.mark.parametrize("path", DOMAIN, ids=IDS)
def test_domain_code_never_imports_the_wiring(path):
    wiring = {
        module
        for module in imported_modules(ast.parse(path.read_text()))
        if module.startswith(WIRING)
    }

    assert not wiring, f"{path.name} imports {wiring}: take the collaborator as an argument"


def test_the_packages_depend_on_each_other_in_one_direction():
    try:
        order = list(TopologicalSorter(package_graph()).static_order())
    except CycleError as cycle:
        pytest.fail(f"a package cycle: {' -> '.join(cycle.args[1])}")

    assert order.index("provider") < order.index("events") < order.index("registrations")
    assert order.index("registrations") < order.index("flows") < order.index("sync")


def test_only_the_lifespan_and_the_dependencies_touch_the_app_state():
    touching = sorted(
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if ".state.container" in path.read_text()
    )

    assert touching == ["admin/site.py", "dependencies.py", "main.py"]


def test_collaborators_reach_routes_through_the_dependencies_alone():
    readers = sorted(
        str(path.relative_to(APP))
        for path in APP.rglob("*.py")
        if re.search(r"\bcontainer_of\(", path.read_text())
    )

    # The admin site is Starlette's, not FastAPI's: it has no dependencies to take them from.
    assert readers == ["admin/auth.py", "admin/site.py", "admin/views.py", "dependencies.py"]
