"""The API surface of one Python source file, extracted with `ast` (nothing is imported).

A surface is a flat, ordered mapping ``qualname -> Obj``: top-level classes, functions and
constants, and for each class its methods, properties and class-level constants
(``"CatLSTM.export"``). Flat keys make diffing and conformance a dictionary walk.
Defaults, bases and constants are kept as source text (``ast.unparse``), so equal text means
equal API whatever the formatting was.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple

# Names of the functions whose reads of their config argument we record.
CONFIG_READERS = ("parse_config", "init_from_config")

@dataclass(frozen=True)
class Param:
    name: str
    kind: str  # positional-only | positional-or-keyword | var-positional | keyword-only | var-keyword
    default: Optional[str] = None  # source text; None when there is no default


@dataclass(frozen=True)
class Obj:
    """One API object. Fields that do not apply to its `type` stay empty."""

    type: str  # class | function | method | property | constant
    name: str  # qualified: "CatLSTM" or "CatLSTM.export"
    line: int
    params: Tuple[Param, ...] = ()
    decorators: Tuple[str, ...] = ()  # staticmethod, classmethod, abstractmethod, setter, ...
    bases: Tuple[str, ...] = ()
    abstract: bool = False  # for members: decorated abstract; for classes: see `abstract_members`
    abstract_members: Tuple[str, ...] = ()
    value: Optional[str] = None  # constants: source text of the value
    config_keys: Tuple[str, ...] = ()  # sorted reads of the config argument

    def signature(self) -> str:
        parts = []
        for p in self.params:
            prefix = {"var-positional": "*", "var-keyword": "**"}.get(p.kind, "")
            parts.append(prefix + p.name + ("" if p.default is None else "=" + p.default))
        return "(" + ", ".join(parts) + ")"


@dataclass
class Surface:
    path: str
    objects: Dict[str, Obj] = field(default_factory=dict)
    error: Optional[str] = None  # a blob that does not parse: recorded, not raised


def _decorator_name(node: ast.expr) -> str:
    if isinstance(node, ast.Call):
        node = node.func
    if isinstance(node, ast.Attribute):
        # `abc.abstractmethod` -> abstractmethod; `sample_rate.setter` -> setter
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    return ast.unparse(node)


def _params(args: ast.arguments) -> Tuple[Param, ...]:
    out = []
    positional = list(args.posonlyargs) + list(args.args)
    # Defaults align with the *last* positional parameters.
    defaults = [None] * (len(positional) - len(args.defaults)) + list(args.defaults)
    for i, (a, d) in enumerate(zip(positional, defaults)):
        kind = "positional-only" if i < len(args.posonlyargs) else "positional-or-keyword"
        out.append(Param(a.arg, kind, None if d is None else ast.unparse(d)))
    if args.vararg is not None:
        out.append(Param(args.vararg.arg, "var-positional"))
    for a, d in zip(args.kwonlyargs, args.kw_defaults):
        out.append(Param(a.arg, "keyword-only", None if d is None else ast.unparse(d)))
    if args.kwarg is not None:
        out.append(Param(args.kwarg.arg, "var-keyword"))
    return tuple(out)


def _config_keys(fn: ast.AST, params: Tuple[Param, ...], is_method: bool) -> Tuple[str, ...]:
    """String keys read from the config argument: config["k"], config.get/pop("k", ...)."""
    candidates = [p.name for p in params if p.kind != "var-keyword"]
    if is_method and candidates and candidates[0] in ("self", "cls"):
        candidates = candidates[1:]
    if not candidates:
        return ()
    cfg = candidates[0]
    keys = set()
    for node in ast.walk(fn):
        if isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name) and node.value.id == cfg:
            if isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
                keys.add(node.slice.value)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and node.func.value.id == cfg
            and node.func.attr in ("get", "pop", "setdefault")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            keys.add(node.args[0].value)
    return tuple(sorted(keys))


def _function(node, qualname: str, is_method: bool) -> Obj:
    decorators = tuple(_decorator_name(d) for d in node.decorator_list)
    params = _params(node.args)
    is_property = any(d in ("property", "abstractproperty", "cached_property") for d in decorators)
    abstract = any(d.startswith("abstract") for d in decorators)
    keys = _config_keys(node, params, is_method) if node.name in CONFIG_READERS else ()
    return Obj(
        type="property" if is_property else ("method" if is_method else "function"),
        name=qualname,
        line=node.lineno,
        params=params,
        decorators=decorators,
        abstract=abstract,
        config_keys=keys,
    )


def _assigned_names(node: ast.stmt):
    if isinstance(node, ast.Assign):
        for t in node.targets:
            if isinstance(t, ast.Name):
                yield t.id, node.value
    elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
        yield node.target.id, node.value


def _constant(name: str, value: Optional[ast.expr], line: int) -> Obj:
    return Obj(type="constant", name=name, line=line, value=None if value is None else ast.unparse(value))


def _class(node: ast.ClassDef, objects: Dict[str, Obj]) -> None:
    members: Dict[str, Obj] = {}
    for item in node.body:
        if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)):
            qual = f"{node.name}.{item.name}"
            obj = _function(item, qual, is_method=True)
            if qual in members and members[qual].type == "property":
                # `@x.setter` / `@x.deleter` extend the property; keep one object, note the accessor.
                prev = members[qual]
                extra = tuple(d for d in obj.decorators if d in ("setter", "deleter"))
                members[qual] = Obj(**{**prev.__dict__, "decorators": prev.decorators + extra})
                continue
            members[qual] = obj
        else:
            for name, value in _assigned_names(item):
                members[f"{node.name}.{name}"] = _constant(f"{node.name}.{name}", value, item.lineno)
    bases = tuple(ast.unparse(b) for b in node.bases) + tuple(
        f"{k.arg}={ast.unparse(k.value)}" for k in node.keywords
    )
    abstract = tuple(sorted(m.name.split(".", 1)[1] for m in members.values() if m.abstract))
    objects[node.name] = Obj(
        type="class", name=node.name, line=node.lineno, bases=bases, abstract_members=abstract
    )
    objects.update(members)


def extract(source: str, path: str = "<string>") -> Surface:
    """The surface of one module's source text."""
    surface = Surface(path=path)
    try:
        tree = ast.parse(source, filename=path)
    except SyntaxError as e:
        surface.error = f"SyntaxError: {e.msg} (line {e.lineno})"
        return surface
    objects = surface.objects
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            _class(node, objects)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            objects[node.name] = _function(node, node.name, is_method=False)
        else:
            for name, value in _assigned_names(node):
                # Module loggers and dunders are plumbing, not API.
                if name == "logger" or name.startswith("__"):
                    continue
                objects[name] = _constant(name, value, node.lineno)
    return surface


class SurfaceCache:
    """Parse each distinct blob once: identical content has an identical SHA."""

    def __init__(self):
        self._by_sha: Dict[Tuple[str, str], Surface] = {}
        self.parses = 0

    def get(self, sha: str, path: str, read) -> Surface:
        """`read()` returns the blob's bytes; it is called only on a cache miss."""
        hit = self._by_sha.get((sha, path))
        if hit is None:
            self.parses += 1
            hit = extract(read().decode("utf-8", errors="replace"), path)
            self._by_sha[(sha, path)] = hit
        return hit
