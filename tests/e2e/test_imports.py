"""The import structure: fast commands stay fast, layers go one way, no module cycles.

The fast commands never load the Hub client or the download engine. Scenario 4 of the
benchmark (docs/performance.md) times them; these tests pin the cause, the import list, which
unlike a wall time does not depend on the machine. Each command runs in a real subprocess
under ``python -X importtime``, whose report lists every module imported.

The architecture (README, "Layout") is read from the source with :mod:`ast`: the CLI talks
only to the services, and no two of hfdl's modules import each other at import time.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.workspace import REPO_ROOT, Workspace

# The Hub client, its HTTP stack, and hfdl's engine.
HEAVY = (
    "huggingface_hub",
    "httpx",
    "httpx2",
    "httpcore",
    "httpcore2",
    "hfdl.hub.client",
    "hfdl.hub.transfer",
    "hfdl.hub.body",
    "hfdl.services.run",
    "hfdl.engine.download",
)
# What a run loads even with nothing to download: the use case and its download pipeline.
RUN_ITSELF = ("hfdl.services.run", "hfdl.engine.download")


def imported(workspace: Workspace, *command: str) -> set[str]:
    """Every module ``python -m hfdl --config <workspace> COMMAND`` imports."""
    argv = [sys.executable, "-X", "importtime", *command]
    completed = subprocess.run(
        argv,
        cwd=workspace.root,
        env=workspace.environment(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in completed.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    # A command that failed would import less than a working one: its list proves nothing.
    assert completed.returncode == 0, f"{argv} failed: {completed.stderr[-500:]}"
    assert names, f"no import report from {argv}: {completed.stderr[-500:]}"
    return names


def heavy(names: set[str]) -> list[str]:
    return sorted(
        name for name in names if any(name == h or name.startswith(h + ".") for h in HEAVY)
    )


def hfdl(workspace: Workspace, *arguments: str) -> tuple[str, ...]:
    return ("-m", "hfdl", "--config", str(workspace.config_path), *arguments)


def test_the_detection_sees_a_heavy_import(workspace: Workspace) -> None:
    """Control: the import report does show the Hub client when it is loaded."""
    assert "huggingface_hub" in heavy(imported(workspace, "-c", "import hfdl.hub.client"))


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("--help",), id="help"),
        pytest.param(("status", "--json"), id="status-json"),
        pytest.param(("models", "list"), id="models-list"),
    ],
)
def test_fast_commands_import_no_hub_client_nor_engine(
    workspace: Workspace, arguments: tuple[str, ...]
) -> None:
    workspace.write_catalog([{"name": "org/model"}])

    assert heavy(imported(workspace, *hfdl(workspace, *arguments))) == []


@pytest.mark.parametrize(
    "arguments",
    [
        pytest.param(("status", "--json"), id="status-json"),
        pytest.param(("models", "list"), id="models-list"),
        pytest.param(("models", "list", "--json"), id="models-list-json"),
    ],
)
def test_reports_read_an_existing_database_without_sqlalchemy(
    workspace: Workspace, arguments: tuple[str, ...]
) -> None:
    """With a state database to read, the reports still do not pay for SQLAlchemy."""
    workspace.write_catalog([{"name": "org/model", "enabled": False}])
    assert workspace.hfdl("run").returncode == 0  # creates and fills the database
    assert workspace.db_path.exists()

    names = imported(workspace, *hfdl(workspace, *arguments))

    assert "hfdl.store.reader" in names  # it did read the database
    assert sorted(name for name in names if name.split(".")[0] == "sqlalchemy") == []


def test_a_run_with_nothing_to_do_never_loads_the_hub_client(workspace: Workspace) -> None:
    """A run whose models are all disabled (or none due) asks the Hub nothing, loads nothing."""
    workspace.write_catalog([{"name": "org/model", "enabled": False}])

    names = imported(workspace, *hfdl(workspace, "run"))

    assert "hfdl.store" in names  # it did run: it synced the catalog
    assert [name for name in heavy(names) if name not in RUN_ITSELF] == []


# -- the architecture, from the source ---------------------------------------------------------

# What the CLI may import of hfdl: the use cases, itself, and the shared leaf modules it
# renders with (`from hfdl import __version__` too). Everything else (store, hub, engine,
# systemd, config, logs, token) is reached through a service.
CLI_MAY_IMPORT = ("hfdl.services", "hfdl.cli", "hfdl.errors", "hfdl.sizes")


def module_name(path: Path, root: Path) -> str:
    """``hfdl/cli/app.py`` -> ``hfdl.cli.app``; a package's ``__init__.py`` is the package."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def hfdl_modules(root: Path) -> dict[str, Path]:
    """Every module of the ``hfdl`` package under ``root`` (a checkout), by dotted name."""
    return {module_name(path, root): path for path in sorted((root / "hfdl").rglob("*.py"))}


def _package_of(name: str, path: Path) -> str:
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def imported_names(node: ast.Import | ast.ImportFrom, name: str, path: Path) -> list[str]:
    """The dotted names an import statement of module ``name`` (at ``path``) asks for.

    ``from X import y`` gives ``X.y`` (which may be a module or an attribute of ``X``);
    relative imports are resolved against the module's package.
    """
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = _package_of(name, path).split(".")
        anchor = ".".join(package[: len(package) - node.level + 1])
        base = f"{anchor}.{base}" if base else anchor
    return [f"{base}.{alias.name}" for alias in node.names]


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def import_time_imports(tree: ast.Module) -> Iterator[ast.Import | ast.ImportFrom]:
    """The import statements that run when the module is imported.

    Those at module level (also in ``if``/``try``/``with`` blocks and class bodies), except
    under ``if TYPE_CHECKING:``, and those in a module-level function the module itself calls
    at module level (how the old ``cli/app.py`` imported its commands). Imports inside other
    functions run only when called, and are left out.
    """
    functions = {
        node.name: node
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }
    pending: list[ast.stmt] = list(tree.body)
    while pending:
        node = pending.pop()
        if isinstance(node, ast.Import | ast.ImportFrom):
            yield node
        elif isinstance(node, ast.If):
            pending.extend(node.orelse if _is_type_checking(node) else [*node.body, *node.orelse])
        elif isinstance(node, ast.ClassDef | ast.With | ast.For | ast.While):
            pending.extend(node.body)
        elif isinstance(node, ast.Try):
            pending.extend([*node.body, *node.orelse, *node.finalbody])
            for handler in node.handlers:
                pending.extend(handler.body)
    for node in tree.body:
        call = node.value if isinstance(node, ast.Expr) else None
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Name)
            and call.func.id in functions
        ):
            for inner in ast.walk(functions[call.func.id]):
                if isinstance(inner, ast.Import | ast.ImportFrom):
                    yield inner


def import_graph(root: Path) -> dict[str, set[str]]:
    """Module -> the hfdl modules it imports at import time.

    Importing ``a.b.c`` also runs the packages ``a.b`` and ``a``: an edge goes to each, except
    to the packages the importing module is itself part of (they are already running).
    """
    modules = hfdl_modules(root)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges: set[str] = set()
        for node in import_time_imports(ast.parse(path.read_text(), str(path))):
            for target in imported_names(node, name, path):
                while target and target not in modules:  # `from X import attribute` -> X
                    target = target.rpartition(".")[0]
                parts = target.split(".")
                for depth in range(1, len(parts) + 1):
                    package = ".".join(parts[:depth])
                    own_package = name.startswith(package + ".")
                    if package in modules and package != name and not own_package:
                        edges.add(package)
        graph[name] = edges
    return graph


def import_cycles(graph: dict[str, set[str]]) -> set[tuple[str, ...]]:
    """The groups of modules that import one another (strongly connected, two or more)."""
    order: dict[str, int] = {}
    lowest: dict[str, int] = {}
    stack: list[str] = []
    cycles: set[tuple[str, ...]] = set()

    def visit(module: str) -> None:  # Tarjan's algorithm
        order[module] = lowest[module] = len(order)
        stack.append(module)
        for target in graph[module]:
            if target not in order:
                visit(target)
                lowest[module] = min(lowest[module], lowest[target])
            elif target in stack:
                lowest[module] = min(lowest[module], order[target])
        if lowest[module] == order[module]:
            group = [stack.pop()]
            while group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                cycles.add(tuple(sorted(group)))

    for module in sorted(graph):
        if module not in order:
            visit(module)
    return cycles


def cli_import_violations(root: Path) -> dict[str, list[str]]:
    """File -> what it imports that the CLI must not (every import statement, anywhere).

    Imports under ``if TYPE_CHECKING:`` and inside functions count: a type or a helper the
    CLI needs is re-exported by a service.
    """
    violations: dict[str, list[str]] = {}
    for path in sorted((root / "hfdl" / "cli").rglob("*.py")):
        name = module_name(path, root)
        found: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for target in imported_names(node, name, path):
                if target == "hfdl.__version__" or not (target + ".").startswith("hfdl."):
                    continue
                if not any((target + ".").startswith(allowed + ".") for allowed in CLI_MAY_IMPORT):
                    found.append(f"line {node.lineno}: {target}")
        if found:
            violations[str(path.relative_to(root))] = found
    return violations


def test_the_cli_imports_only_services_and_shared_modules() -> None:
    """The CLI talks only to the services (and errors, sizes); see ``CLI_MAY_IMPORT``.

    Checked against the code before issue 12's CLI part (commit 3f267e8, unpacked with
    ``git archive``): ``cli_import_violations`` listed 13 files and this
    test failed (``hfdl.config``, ``hfdl.store.rows``, ``hfdl.engine.events``, ``hfdl.token``,
    ``hfdl.logs.reader``...).
    """
    violations = cli_import_violations(REPO_ROOT)

    assert violations == {}


def test_no_import_cycles_among_hfdl_modules() -> None:
    """No two modules import each other, directly or through others, at import time.

    Checked against the code before issue 12's CLI part (commit 3f267e8, unpacked with
    ``git archive``): it failed on the nine-module cycle of ``hfdl.cli.app`` and the command
    modules that imported ``app``, which ``app`` imported in a function it called at once.
    """
    assert sorted(import_cycles(import_graph(REPO_ROOT))) == []


def test_the_graph_sees_a_cycle() -> None:
    """Control: two modules importing each other are found, and a chain is not a cycle."""
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}, "e": set()}

    assert import_cycles(graph) == {("a", "b", "c")}
