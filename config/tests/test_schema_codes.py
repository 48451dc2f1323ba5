"""The schema lists, on every operation, each error code its view can answer.

The codes are read from the source, not copied: from each operation's handler, everything it
calls in the project (services, selectors, the gate, their helpers, the permission classes)
is walked with `ast` for the refusals raised on the way (`DomainError(code)`, `not_found()`,
DRF's exceptions) and for the backing services touched (the ORM, Redis: 503 `unavailable`
when either drops its connections). A service that learns a new refusal, or a view that
starts touching Redis, fails here until config.openapi lists it on the operation.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from core.errors import ErrorCode

E = ErrorCode
ROOT = Path(__file__).resolve().parents[2]
APPS = ("config", "core", "shop", "antiscalper", "sales")
# DRF's and Django's exceptions, as the exception handler answers them.
RAISED = {"AuthenticationFailed": E.UNAUTHENTICATED, "NotAuthenticated": E.UNAUTHENTICATED,
          "PermissionDenied": E.FORBIDDEN, "NotFound": E.NOT_FOUND, "Http404": E.NOT_FOUND,
          "ValidationError": E.INVALID, "ParseError": E.INVALID, "Throttled": E.RATE_LIMITED,
          "Ratelimited": E.RATE_LIMITED}
# What a handler that lives in a library answers by itself (simplejwt's token views: a wrong
# password or a bad token, and the user or the token blacklist read from the database). The
# project's serializer such a view uses is walked like any handler.
LIBRARY = {"auth_token_create": {E.UNAUTHENTICATED, E.UNAVAILABLE},
           "auth_token_refresh_create": {E.UNAUTHENTICATED, E.UNAVAILABLE}}
# Codes the walk finds on a path no request takes, each with the reason.
NOT_ANSWERED = {
    ("ops_sales_create", E.NOT_FOUND): "the sale it has just created, read back to answer",
}


@dataclass
class Module:
    name: str
    path: Path
    defs: dict[str, ast.AST] = field(default_factory=dict)      # functions and classes
    imports: dict[str, str] = field(default_factory=dict)       # local name -> dotted name
    constants: dict[str, ast.AST] = field(default_factory=dict)  # module-level assignments


def _module_name(path: Path) -> str:
    return ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")


def _index() -> dict[str, Module]:
    modules = {}
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            parts = path.relative_to(ROOT).parts
            if "tests" in parts or "migrations" in parts:
                continue
            module = Module(_module_name(path), path)
            package = module.name if path.name == "__init__.py" else module.name.rpartition(".")[0]
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ImportFrom):
                    base = node.module or ""
                    if node.level:
                        head = package.split(".")[:len(package.split(".")) - node.level + 1]
                        base = ".".join([*head, *([node.module] if node.module else [])])
                    for alias in node.names:
                        module.imports[alias.asname or alias.name] = f"{base}.{alias.name}"
                elif isinstance(node, ast.Import):
                    for alias in node.names:
                        module.imports[alias.asname or alias.name.split(".")[0]] = (
                            alias.name if alias.asname else alias.name.split(".")[0])
            for node in tree.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                    module.defs[node.name] = node
                elif isinstance(node, ast.Assign):
                    for target in node.targets:
                        if isinstance(target, ast.Name):
                            module.constants[target.id] = node.value
            modules[module.name] = module
    return modules


MODULES = _index()


@dataclass(frozen=True)
class Def:
    """A function, a method or a class of the project's source."""

    module: str
    node: ast.AST = field(compare=False)
    qualname: str
    owner: str | None = None  # the qualname of a method's class

    def __str__(self) -> str:
        return f"{self.module}.{self.qualname}"


def _dotted(dotted: str, seen: frozenset = frozenset()) -> Module | Def | None:
    """`sales.services.purchase_admit` as the module or definition it names, following the
    re-exports (`from sales.gate.lifecycle import gate_load` in sales.services)."""
    if dotted in MODULES:
        return MODULES[dotted]
    head, _, name = dotted.rpartition(".")
    if dotted in seen or head not in MODULES:
        return None
    return _member(MODULES[head], name, seen | {dotted})


def _member(module: Module, name: str, seen: frozenset = frozenset()) -> Module | Def | None:
    if name in module.defs:
        return Def(module.name, module.defs[name], name)
    if name in module.imports:
        return _dotted(module.imports[name], seen)
    return _dotted(f"{module.name}.{name}", seen)


def _method(cls: Def, name: str) -> Def | None:
    """A method of a project class or of its project bases."""
    for node in cls.node.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name == name:
            return Def(cls.module, node, f"{cls.qualname}.{name}", owner=cls.qualname)
    for base in cls.node.bases:
        found = _resolve(cls.module, None, base)
        if isinstance(found, Def) and isinstance(found.node, ast.ClassDef):
            if method := _method(found, name):
                return method
    return None


def _class(module: str, qualname: str) -> Def | None:
    node: ast.AST | None = None
    for part in qualname.split("."):
        scope = MODULES[module].defs if node is None else {
            n.name: n for n in node.body if isinstance(n, ast.ClassDef)}
        node = scope.get(part)
        if node is None:
            return None
    return Def(module, node, qualname)


def _resolve(module: str, owner: str | None, expr: ast.AST) -> Module | Def | None:
    """What a name or attribute in `module` (inside class `owner`) refers to, if it is the
    project's: `services`, `services.purchase_admit`, `Purchase.of_request`, `self._row_lock`."""
    if isinstance(expr, ast.Name):
        if expr.id in ("self", "cls") and owner:
            return _class(module, owner)
        return _member(MODULES[module], expr.id)
    if isinstance(expr, ast.Attribute):
        base = _resolve(module, owner, expr.value)
        if isinstance(base, Module):
            return _member(base, expr.attr)
        if isinstance(base, Def) and isinstance(base.node, ast.ClassDef):
            return _method(base, expr.attr)
    return None


def _is_code(node: ast.AST) -> ErrorCode | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return ErrorCode(node.value) if node.value in set(ErrorCode) else None
    if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
            and node.value.id in ("ErrorCode", "E") and node.attr in ErrorCode.__members__):
        return ErrorCode[node.attr]
    return None


def _codes_in(nodes) -> set[ErrorCode]:
    return {code for node in nodes for sub in ast.walk(node) if (code := _is_code(sub))}


@dataclass
class Walk:
    """Everything reachable from some entry points, and what it can answer."""

    codes: set[ErrorCode] = field(default_factory=set)
    storage: set[str] = field(default_factory=set)     # where the ORM or Redis is touched
    unread: list[str] = field(default_factory=list)   # DomainErrors whose code is not read
    seen: set[Def] = field(default_factory=set)

    def visit(self, item: Def) -> None:
        if item in self.seen:
            return
        self.seen.add(item)
        if isinstance(item.node, ast.ClassDef):  # built or used: any of its methods may run
            for node in item.node.body:
                if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    self.visit(Def(item.module, node, f"{item.qualname}.{node.name}",
                                   owner=item.qualname))
                else:
                    self._scan(item, node)
            for base in item.node.bases:
                if isinstance(found := _resolve(item.module, None, base), Def):
                    self.visit(found)
            return
        self._scan(item, item.node)

    def _scan(self, item: Def, root: ast.AST) -> None:
        for node in ast.walk(root):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "id", None) or getattr(node.func, "attr", None)
                if name == "DomainError":
                    self._domain_error(item, node)
            if isinstance(node, ast.Raise) and node.exc is not None:
                raised = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                name = getattr(raised, "id", None) or getattr(raised, "attr", None)
                if name in RAISED:
                    self.codes.add(RAISED[name])
            if isinstance(node, ast.Attribute) and node.attr in ("objects", "from_url"):
                self.storage.add(f"{item}: .{node.attr}")
            if isinstance(node, ast.Attribute) or (
                    isinstance(node, ast.Name) and node.id not in ("self", "cls")):
                found = _resolve(item.module, item.owner, node)
                if isinstance(found, Def):
                    self.visit(found)

    def _domain_error(self, item: Def, call: ast.Call) -> None:
        """The code of `DomainError(code, ...)`: written there, assigned to the name passed
        in the same function, or the keys of the module's table the message is read from
        (`DomainError(verdict, REFUSALS[verdict])`)."""
        first = call.args[0] if call.args else next(
            (k.value for k in call.keywords if k.arg == "code"), None)
        if first is None or _is_code(first) is not None:
            self.codes |= {_is_code(first)} if first is not None else set()
            return
        found = set()
        if isinstance(first, ast.Name):
            found = _codes_in(node.value for node in ast.walk(item.node)
                              if isinstance(node, ast.Assign)
                              and any(isinstance(t, ast.Name) and t.id == first.id
                                      for t in node.targets))
        if not found:
            constants = MODULES[item.module].constants
            found = _codes_in(key for arg in call.args[1:] for sub in ast.walk(arg)
                              if isinstance(sub, ast.Subscript) and isinstance(sub.value, ast.Name)
                              and isinstance(constants.get(sub.value.id), ast.Dict)
                              for key in constants[sub.value.id].keys if key is not None)
        if not found:
            self.unread.append(f"{item} line {call.lineno}")
        self.codes |= found


def _routes(patterns, prefix: str = ""):
    for pattern in patterns:
        route = prefix + str(pattern.pattern)
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, route)
        elif isinstance(pattern, URLPattern) and hasattr(pattern.callback, "cls"):
            yield "/" + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route), pattern.callback.cls


def _project_class(cls) -> Def | None:
    module = cls.__module__
    return _class(module, cls.__qualname__) if module in MODULES else None


def _decorated_with_ratelimit(view: Def | None, method: str) -> bool:
    if view is None:
        return False
    nodes = [d for d in view.node.decorator_list
             if any(k.arg == "name" and getattr(k.value, "value", None) == method
                    for k in getattr(d, "keywords", []))]
    handler = _method(view, method)
    if handler is not None and handler.owner == view.qualname:
        nodes += handler.node.decorator_list
    return any(getattr(n.func, "id", None) == "ratelimit"
               for d in nodes for n in ast.walk(d) if isinstance(n, ast.Call))


def answers(operation_id: str, cls, method: str) -> Walk:
    """What the view `cls` can answer to `method`, read from the source."""
    walk, view = Walk(), _project_class(cls)
    handler = _method(view, method) if view else None
    if handler is not None:
        walk.visit(handler)
    else:
        assert operation_id in LIBRARY, f"{cls.__name__}.{method} is a library's: say in LIBRARY"
        walk.codes |= LIBRARY[operation_id]
        serializer = cls().get_serializer_class()
        if found := _project_class(serializer):
            walk.visit(found)
    if view is not None and (found := _method(view, "get_permissions")):
        walk.visit(found)
        if "staff_with" in ast.unparse(found.node):
            walk.codes.add(E.FORBIDDEN)
    for permission in cls.permission_classes:
        if found := _project_class(permission):
            walk.visit(found)
        if permission.__name__.startswith("StaffWith"):  # core.permissions: a right needed
            walk.codes.add(E.FORBIDDEN)
    if _decorated_with_ratelimit(view, method):  # counted in the Redis cache
        walk.codes.add(E.RATE_LIMITED)
        walk.storage.add(f"{cls.__name__}: ratelimit")
    if cls.authentication_classes:
        walk.codes.add(E.UNAUTHENTICATED)
    if walk.storage:
        walk.codes.add(E.UNAVAILABLE)
    walk.codes |= {E.INVALID, E.NOT_ACCEPTABLE, E.INTERNAL}  # parsers, negotiation, the rest
    return walk


def _operations(schema):
    classes = dict(_routes(get_resolver().url_patterns))
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            yield operation["operationId"], classes[path], method, operation


@pytest.fixture
def schema(anon, db):
    return anon.get("/api/v1/schema/?format=json").json()


def _listed(operation: dict) -> dict[str, int]:
    """The codes the schema lists on an operation, with the status each is listed under."""
    return {code: int(status) for status, response in operation["responses"].items()
            if int(status) >= 400
            for code in re.findall(r"`([a-z_]+)`", response.get("description", ""))}


def test_the_schema_lists_every_code_each_view_can_answer(schema):
    missing, unread = [], []
    for operation_id, cls, method, operation in _operations(schema):
        walk, listed = answers(operation_id, cls, method), _listed(operation)
        unread += walk.unread
        missing += [f"{operation_id}: {code.status or 409} {code}" for code in sorted(walk.codes)
                    if listed.get(code) != (code.status or 409)
                    and (operation_id, code) not in NOT_ANSWERED]
    assert unread == [], "DomainError codes the walk cannot read; write them as ErrorCode"
    assert missing == []


# Listed on every operation by the schema's defaults, each answered by the framework rather
# than the view: an outage, content negotiation, authentication and permissions, validation.
FRAMEWORK = {E.UNAVAILABLE, E.NOT_ACCEPTABLE, E.INVALID,
             E.NOT_FOUND, E.RATE_LIMITED}


def test_the_schema_promises_no_code_a_view_cannot_answer(schema):
    """The other way round: a code the schema names for an operation is one its view can
    raise (the defaults every operation carries aside)."""
    promised = []
    for operation_id, cls, method, operation in _operations(schema):
        codes = answers(operation_id, cls, method).codes | LIBRARY.get(operation_id, set())
        promised += [f"{operation_id}: {code}" for code in _listed(operation)
                     if code in E._value2member_map_
                     and E(code) not in FRAMEWORK and E(code) not in codes]
    assert promised == []


def test_an_operation_documented_without_unavailable_touches_no_backing_service(schema):
    for operation_id, cls, method, operation in _operations(schema):
        if "unavailable" not in _listed(operation):
            assert answers(operation_id, cls, method).storage == set(), operation_id


def test_the_walk_finds_what_the_purchase_and_the_payment_answer(schema):
    """The walk itself: it reaches the gate's script refusals through the service, the
    payment's through its helpers, and sees Redis and the database being used."""
    operations = {op_id: (cls, method) for op_id, cls, method, _ in _operations(schema)}
    purchase = answers("sales_purchase_create", *operations["sales_purchase_create"])
    assert {E.SOLD_OUT, E.BUSY, E.BLOCKED, E.NO_PURCHASE_RIGHT, E.RATE_LIMITED,
            E.UNAVAILABLE, E.NOT_FOUND} <= purchase.codes
    assert any("from_url" in where for where in purchase.storage)
    pay = answers("orders_pay_create", *operations["orders_pay_create"])
    assert {E.PAYMENT_FAILED, E.PAYMENT_IN_PROGRESS, E.IDEMPOTENCY_KEY_REUSED,
            E.PAYMENT_EXPIRED, E.NOT_PAYABLE, E.ALREADY_PAID} <= pay.codes
    whoami = answers("auth_whoami_retrieve", *operations["auth_whoami_retrieve"])
    assert whoami.storage == set() and E.UNAVAILABLE not in whoami.codes
