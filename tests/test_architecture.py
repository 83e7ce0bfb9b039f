"""The package's import boundaries, read from the source (AST), so the layout in ARCHITECTURE.md
stays true: the pure layers import no I/O library, only ``net/`` talks to sockets, TLS and
resolvers, each layer imports only the layers it may, and mailtls modules import in no cycle.

Imports under ``if TYPE_CHECKING:`` are not counted (they never run); imports inside functions
are (they run, just later).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mailtls"

# I/O libraries: what a pure layer must never import.
IO_LIBRARIES = frozenset({
    "asyncio", "ssl", "socket", "selectors", "dns", "httpx", "aiosmtpd", "trustme",
    "urllib.request", "http.client", "smtplib", "imaplib", "poplib",
})
# The network edge: only net/ may import these ...
NETWORK_LIBRARIES = frozenset({"ssl", "socket", "selectors", "dns", "httpx"})
# ... except where declared, with the reason.
NETWORK_EXCEPTIONS: Mapping[str, frozenset[str]] = {
    # the loopback test servers (and the trustme PKI) are servers: they own their sockets
    "mailtls.testing": frozenset({"ssl", "socket"}),
    # ssl.SSLContext in signatures and ssl.CERT_REQUIRED read off the context net/ built
    "mailtls.probes.mailport": frozenset({"ssl"}),
    "mailtls.probes.login": frozenset({"ssl"}),
    # ssl.TLSVersion to configure the flawed demo server (a testing/ server)
    "mailtls.cli.demo": frozenset({"ssl"}),
    # mailtls serve's hostile servers are servers too (on testing/'s TLS switch)
    "mailtls.serve": frozenset({"ssl"}),
    # waits for the private redis-server / PostgreSQL it started to listen (tests, benchmark)
    "mailtls.fleet.instances": frozenset({"socket"}),
}

# The layers (first name below mailtls) and the mailtls layers each may import.
FOUNDATION = frozenset({"errors", "errortext", "model", "safetext"})
MAY_IMPORT: Mapping[str, frozenset[str]] = {
    "errors": frozenset(),
    "errortext": frozenset(),
    "safetext": frozenset(),
    "model": frozenset({"errors"}),
    "proto": FOUNDATION,
    "tls": FOUNDATION,
    "pki": FOUNDATION,
    "formats": FOUNDATION,
    "net": FOUNDATION,
    "checks": FOUNDATION | {"proto", "tls", "pki", "formats"},
    "render": FOUNDATION | {"tls", "pki", "formats", "checks", "regression"},
    "regression": FOUNDATION | {"tls", "pki", "checks"},
    "probes": FOUNDATION | {"proto", "tls", "pki", "formats", "net"},
    "scan": FOUNDATION | {"proto", "tls", "pki", "formats", "net", "probes", "checks", "render"},
    "testing": FOUNDATION | {"proto"},
    "serve": FOUNDATION | {"testing"},
    "api": FOUNDATION | {"tls", "pki", "net", "scan", "render"},
    "pytest_plugin": frozenset({"__init__", "api"}),
    "cli": FOUNDATION | {"__init__", "proto", "tls", "pki", "formats", "net", "probes", "checks",
                         "scan", "regression", "render", "testing", "fleet", "serve"},
    # many hosts on Celery/Redis with a results database (extra mailtls[fleet])
    "fleet": FOUNDATION | {"__init__", "net", "checks", "scan", "regression", "render"},
    "__init__": frozenset({"tls", "api"}),
    # the console script: blocks SIGINT/SIGTERM before importing the rest, then runs cli
    "launch": frozenset({"cli", "scan"}),
    "__main__": frozenset({"launch"}),
}
# Layers with no I/O at all: bytes, objects and `now` in, objects out.
PURE = frozenset({"errors", "errortext", "safetext", "model", "proto", "pki", "formats", "checks",
                  "render", "regression"})
# tls/ is pure except enumeration.py, which paces its injected exchanges with asyncio.sleep
PURE_MODULES_OUTSIDE_PURE_LAYERS = frozenset({
    "mailtls.tls", "mailtls.tls.hello", "mailtls.tls.suites", "mailtls.tls.versions",
})

@dataclass(frozen=True)
class Import:
    importer: str  # dotted module name
    target: str  # dotted name as imported (module, or module.attribute)
    line: int


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _type_checking_block(node: ast.AST) -> bool:
    if not isinstance(node, ast.If):
        return False
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _walk(node: ast.AST) -> Iterable[ast.AST]:
    for child in ast.iter_child_nodes(node):
        if _type_checking_block(child):
            assert isinstance(child, ast.If)
            for other in child.orelse:
                yield other
                yield from _walk(other)
            continue
        yield child
        yield from _walk(child)


def imports_of(path: Path, root: Path) -> list[Import]:
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: list[Import] = []
    for node in _walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.extend(Import(name, alias.name, node.lineno) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            for alias in node.names:
                found.append(Import(name, f"{source}.{alias.name}", node.lineno))
                found.append(Import(name, source, node.lineno))
    return found


def all_imports(root: Path) -> list[Import]:
    return [imp for path in sorted(root.rglob("*.py")) for imp in imports_of(path, root)]


def known_modules(root: Path) -> frozenset[str]:
    return frozenset(module_name(p, root) for p in root.rglob("*.py"))


def resolve(target: str, modules: frozenset[str]) -> str | None:
    """The mailtls module an import names (``mailtls.a.b.f`` -> ``mailtls.a.b``), or None."""
    while target:
        if target in modules:
            return target
        target = target.rpartition(".")[0]
    return None


def layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


def is_pure(module: str) -> bool:
    return layer(module) in PURE or module in PURE_MODULES_OUTSIDE_PURE_LAYERS


def library_of(target: str, libraries: frozenset[str]) -> str | None:
    for lib in libraries:
        if target == lib or target.startswith(lib + "."):
            return lib
    return None


def io_violations(imports: Iterable[Import]) -> list[str]:
    return sorted({
        f"{i.importer}:{i.line} imports {lib} (a pure layer)"
        for i in imports
        if is_pure(i.importer) and (lib := library_of(i.target, IO_LIBRARIES))
    })


def network_violations(imports: Iterable[Import]) -> list[str]:
    bad = set()
    for i in imports:
        lib = library_of(i.target, NETWORK_LIBRARIES)
        if lib is None or layer(i.importer) == "net":
            continue
        allowed = frozenset().union(*(libs for prefix, libs in NETWORK_EXCEPTIONS.items()
                                      if i.importer == prefix
                                      or i.importer.startswith(prefix + ".")))
        if lib not in allowed:
            bad.add(f"{i.importer}:{i.line} imports {lib} (only net/ may)")
    return sorted(bad)


def graph(imports: Iterable[Import], modules: frozenset[str]) -> dict[str, set[str]]:
    edges: dict[str, set[str]] = {m: set() for m in modules}
    for i in imports:
        target = resolve(i.target, modules)
        if target is not None and target != i.importer:
            edges[i.importer].add(target)
    return edges


def layer_violations(edges: Mapping[str, set[str]]) -> list[str]:
    bad = []
    for importer, targets in edges.items():
        own = layer(importer)
        allowed = MAY_IMPORT.get(own)
        if allowed is None:
            bad.append(f"{importer}: layer {own!r} is not in MAY_IMPORT (add it, and to "
                       "ARCHITECTURE.md)")
            continue
        for target in sorted(targets):
            theirs = layer(target)
            # a package's __init__ is part of it; mailtls/__init__ only for what it exports
            if theirs != own and theirs not in allowed:
                bad.append(f"{importer} imports {target}: {own}/ may not import {theirs}/")
    return bad


def cycles(edges: Mapping[str, set[str]]) -> set[frozenset[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: set[frozenset[str]] = set()

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = set()
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.add(w)
                if w == v:
                    break
            if len(component) > 1:
                found.add(frozenset(component))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return found


# A submodule imported through its package's __init__ is an edge to the package too; the
# packages of this project import none of their submodules except these re-exports.
def _strip_package_self_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    return {m: {t for t in ts if not m.startswith(t + ".")} for m, ts in edges.items()}


def check_tree(root: Path) -> dict[str, list[str]]:
    imports = all_imports(root)
    modules = known_modules(root)
    edges = _strip_package_self_edges(graph(imports, modules))
    found = cycles(edges)
    return {
        "io": io_violations(imports),
        "network": network_violations(imports),
        "layers": layer_violations(edges),
        "cycles": sorted(" <-> ".join(sorted(c)) for c in found),
    }


@pytest.fixture(scope="module")
def report() -> dict[str, list[str]]:
    return check_tree(PACKAGE)


@pytest.mark.parametrize("rule", ["io", "network", "layers", "cycles"])
def test_boundaries(report: dict[str, list[str]], rule: str) -> None:
    assert report[rule] == [], "\n".join(report[rule])


def test_every_layer_is_declared() -> None:
    layers = {layer(m) for m in known_modules(PACKAGE)}
    assert layers <= set(MAY_IMPORT), sorted(layers - set(MAY_IMPORT))


# The checker itself: a tree that breaks each rule once is caught.
def _tree(tmp_path: Path, files: Mapping[str, str]) -> Path:
    root = tmp_path / "mailtls"
    for rel, text in {"__init__.py": "", **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_checker_catches_each_kind_of_violation(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "model/__init__.py": "import asyncio\n",  # I/O in a pure layer
        "probes/__init__.py": "import socket\n",  # network outside net/
        "checks/__init__.py": "from mailtls.probes import x\n",  # checks may not import probes
        "scan/__init__.py": "",
        "scan/a.py": "from mailtls.scan import b\n",  # a cycle
        "scan/b.py": "def f() -> None:\n    from mailtls.scan.a import g\n",
        "net/__init__.py": "import ssl\nfrom typing import TYPE_CHECKING\n"
                           "if TYPE_CHECKING:\n    from mailtls.scan import a\n",  # not counted
    })
    found = check_tree(root)
    assert found["io"] == ["mailtls.model:1 imports asyncio (a pure layer)"]
    assert found["network"] == ["mailtls.probes:1 imports socket (only net/ may)"]
    assert found["layers"] == [
        "mailtls.checks imports mailtls.probes: checks/ may not import probes/"]
    assert found["cycles"] == ["mailtls.scan.a <-> mailtls.scan.b"]


def test_checker_passes_a_clean_tree(tmp_path: Path) -> None:
    root = _tree(tmp_path, {
        "model/__init__.py": "import enum\nfrom mailtls.errors import E\n",
        "errors.py": "class E(Exception): ...\n",
        "net/stream.py": "import asyncio, socket, ssl\nfrom .. import errors\n",
        "checks/judge.py": "from mailtls.model import X\nfrom mailtls.pki import x509\n",
        "pki/__init__.py": "", "pki/x509.py": "",
    })
    found = check_tree(root)
    assert all(v == [] for v in found.values()), found


def _asserts_on_events(root: Path) -> list[str]:
    """``assert isinstance(event, ...)`` on what a server sent: gone under ``python -O``."""
    found = []
    for layer_dir in ("probes", "proto", "net", "tls", "pki", "formats"):
        for path in sorted((root / layer_dir).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Assert):
                    continue
                names = {n.id for n in ast.walk(node.test) if isinstance(n, ast.Name)}
                if names & {"event", "reply", "status", "answer", "response"}:
                    found.append(f"{module_name(path, root)}:{node.lineno}")
    return found


def test_server_input_is_never_checked_with_assert() -> None:
    assert _asserts_on_events(PACKAGE) == [], "raise ProtocolError (probes.session.expect_event)"


def test_the_assert_check_catches_one(tmp_path: Path) -> None:
    root = _tree(tmp_path, {"probes/x.py": "def f(event: object) -> None:\n"
                                           "    assert isinstance(event, int)\n"})
    assert _asserts_on_events(root) == ["mailtls.probes.x:2"]
