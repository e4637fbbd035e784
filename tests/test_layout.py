"""The package's shape: no import cycles (lazy and TYPE_CHECKING imports included), `models/`
depends only on leaf modules outside it, and no library module grows past MAX_MODULE_LINES."""

import ast
import pathlib

import pytest

PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "dvae_jax"
MAX_MODULE_LINES = 450
# What models/ may import from the rest of the package: modules that import nothing of it.
MODEL_DEPENDENCIES = ("dvae_jax.errors", "dvae_jax.losses", "dvae_jax.ops")


def module_name(path: pathlib.Path) -> str:
  parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
  return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imports(name: str) -> set[str]:
  """The package modules `name` imports anywhere in its file (`from a import b` counts as a.b when b
  is a module, else as a)."""
  path = MODULES[name]
  package = name if path.name == "__init__.py" else name.rpartition(".")[0]
  found = set()
  for node in ast.walk(ast.parse(path.read_text(), str(path))):
    if isinstance(node, ast.Import):
      found.update(alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom):
      base = node.module or ""
      if node.level:  # relative import
        base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
      for alias in node.names:
        found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
  return {module for module in found if module in MODULES and module != name}


GRAPH = {name: imports(name) for name in MODULES}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
  """One import cycle of `graph` (as a path that returns to its start), or None."""
  state: dict[str, str] = {}
  stack: list[str] = []

  def visit(node: str) -> list[str] | None:
    state[node] = "open"
    stack.append(node)
    for target in sorted(graph[node]):
      if state.get(target) == "open":
        return stack[stack.index(target) :] + [target]
      if target not in state and (cycle := visit(target)):
        return cycle
    state[node] = "done"
    stack.pop()
    return None

  for node in sorted(graph):
    if node not in state and (cycle := visit(node)):
      return cycle
  return None


def test_cycle_finder_finds_a_known_cycle():
  graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
  assert find_cycle(graph) == ["a", "b", "c", "a"]
  assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_the_package_has_no_import_cycle():
  assert find_cycle(GRAPH) is None, " -> ".join(find_cycle(GRAPH))


def test_the_import_graph_sees_the_package():
  """Guards the test itself: the graph holds the known edges."""
  assert "dvae_jax.experiment" in GRAPH["dvae_jax.train"]
  assert "dvae_jax.models.hparams" in GRAPH["dvae_jax.models.family"]
  assert "dvae_jax.configs.base" in GRAPH["dvae_jax.configs.io"]


@pytest.mark.parametrize("name", sorted(name for name in MODULES if name.startswith("dvae_jax.models")))
def test_models_import_only_leaf_modules_from_outside(name):
  outside = {module for module in GRAPH[name] if not module.startswith("dvae_jax.models")}
  assert all(module.startswith(MODEL_DEPENDENCIES) for module in outside), outside


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_a_hub(name):
  lines = len(MODULES[name].read_text().splitlines())
  assert lines <= MAX_MODULE_LINES, f"{MODULES[name]} has {lines} lines; split it by job"
