"""The package's modules import each other downwards only: every relative
import names a module of the package (nothing is taken from the package
root, ``mlpx/__init__.py``), and the import graph, lazy imports inside
functions included, has no cycle."""

import ast
import glob
import os
import re

import mlpx

PKG = os.path.dirname(os.path.abspath(mlpx.__file__))


def _imports():
    """module name -> the package modules it imports (relative or ``mlpx.``)."""
    files = glob.glob(os.path.join(PKG, "*.py")) + glob.glob(os.path.join(PKG, "*.pyx"))
    graph = {}
    for path in files:
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8") as f:
            text = f.read()
        deps = set()
        if path.endswith(".pyx"):  # Cython: read the Python-level imports as text
            deps.update(re.findall(r"^\s*from \.(\w+) import", text, re.M))
            deps.update("__init__" for _ in re.findall(r"^\s*from \. import (?!_)", text, re.M))
        else:
            for node in ast.walk(ast.parse(text)):
                if not isinstance(node, ast.ImportFrom):
                    continue
                if node.level == 1 and node.module:
                    deps.add(node.module.split(".")[0])
                elif node.level == 1:
                    deps.update(a.name for a in node.names)
                elif node.level == 0 and (node.module or "").split(".")[0] == "mlpx":
                    parts = node.module.split(".")
                    deps.update([parts[1]] if len(parts) > 1 else [a.name for a in node.names])
        graph[name] = deps
    return graph


def test_relative_imports_name_modules_never_the_package_root():
    graph = _imports()
    modules = set(graph) | {"_core", "_build_info"}  # built or generated at install
    for name, deps in graph.items():
        if name == "__init__":
            continue
        assert deps <= modules, (name, deps - modules)


def test_no_import_cycles():
    graph = _imports()
    state = {}

    def visit(node, path):
        state[node] = "open"
        for dep in sorted(graph.get(node, ())):
            assert state.get(dep) != "open", " -> ".join(path + [dep])
            if dep not in state:
                visit(dep, path + [dep])
        state[node] = "done"

    for name in sorted(graph):
        if name not in state:
            visit(name, [name])
