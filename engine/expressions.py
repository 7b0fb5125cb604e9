"""Safe evaluation of the expressions a BPMN diagram carries (conditions, timers, assignees).

BPMN text never reaches Python's ``eval``/``exec``. :func:`compile_expression` parses the text with
``ast.parse`` and accepts only an allow-list of node types; :func:`evaluate` then walks the tree
itself. What is allowed: names (not starting with ``_``), constants, comparisons, ``and``/``or``/
``not``, bounded arithmetic, conditional expressions, list/tuple/dict literals, subscripts and
attribute-style access to record fields (``consent.status`` reads ``consent["status"]``), and calls
to the helpers in :data:`HELPERS`. There are no loops, comprehensions, lambdas, imports or attribute
access on objects, so evaluation time is bounded by the size of the tree; sizes of numbers, strings
and lists are capped, and a wall-clock budget (1 s by default) stops anything that slips through.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import ExpressionError
from .expression_helpers import HELPERS, number

MAX_SOURCE = 2000
MAX_NODES = 400
MAX_DEPTH = 40
MAX_INT = 10**18
MAX_SEQUENCE = 10_000
MAX_POW_EXPONENT = 64
DEFAULT_BUDGET_S = 1.0


_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
}
_CMPOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge, ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b, ast.Is: operator.is_, ast.IsNot: operator.is_not,
}
_ALLOWED = (
    ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.BinOp, ast.UnaryOp, ast.Not, ast.USub, ast.UAdd,
    ast.Compare, ast.IfExp, ast.Name, ast.Load, ast.Constant, ast.Attribute, ast.Subscript, ast.List,
    ast.Tuple, ast.Dict, ast.Call, *_BINOPS, *_CMPOPS,
)
_FRIENDLY = {
    ast.Lambda: "lambda is", ast.ListComp: "comprehensions are", ast.SetComp: "comprehensions are",
    ast.DictComp: "comprehensions are", ast.GeneratorExp: "generator expressions are",
    ast.NamedExpr: "assignment (:=) is", ast.JoinedStr: "f-strings are", ast.Starred: "* unpacking is",
    ast.Slice: "slices are", ast.Await: "await is", ast.Yield: "yield is", ast.Set: "set literals are",
}


@dataclass(frozen=True)
class Expression:
    """A checked expression, ready to evaluate any number of times."""

    source: str
    tree: ast.Expression
    names: frozenset[str]
    fields: frozenset[tuple[str, str | None]]


def _reject(node: ast.AST, why: str) -> ExpressionError:
    col = getattr(node, "col_offset", None)
    where = f" (column {col + 1})" if col is not None else ""
    return ExpressionError(f"{why}{where}")


def _check_node(node: ast.AST, depth: int) -> None:  # noqa: C901, PLR0912 - one branch per node kind
    if depth > MAX_DEPTH:
        raise _reject(node, "expression is nested too deeply")
    if not isinstance(node, _ALLOWED):
        what = _FRIENDLY.get(type(node), f"{type(node).__name__} is")
        raise _reject(node, f"{what} not allowed in an expression")
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise _reject(node, f"name {node.id!r} is not allowed (names may not start with '_')")
    if isinstance(node, ast.Attribute) and node.attr.startswith("_"):
        raise _reject(node, f"field {node.attr!r} is not allowed (fields may not start with '_')")
    if isinstance(node, ast.Constant):
        if not isinstance(node.value, str | int | float | bool | type(None)):
            raise _reject(node, f"constant of type {type(node.value).__name__} is not allowed")
        if isinstance(node.value, str) and len(node.value) > MAX_SEQUENCE:
            raise _reject(node, "string constant is too long")
        if isinstance(node.value, int) and abs(node.value) > MAX_INT:
            raise _reject(node, "number is too large")
    if isinstance(node, ast.Call):
        if not isinstance(node.func, ast.Name) or node.func.id not in HELPERS:
            name = node.func.id if isinstance(node.func, ast.Name) else ast.unparse(node.func)
            raise _reject(node, f"call to {name!r} is not allowed; helpers: {', '.join(sorted(HELPERS))}")
        if node.keywords:
            raise _reject(node, "keyword arguments are not allowed")
    if isinstance(node, ast.Dict) and any(k is None for k in node.keys):
        raise _reject(node, "** unpacking is not allowed")
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Pow):
        exp = node.right
        if not (isinstance(exp, ast.Constant) and isinstance(exp.value, int)
                and 0 <= exp.value <= MAX_POW_EXPONENT):
            raise _reject(node, f"** needs a constant whole exponent from 0 to {MAX_POW_EXPONENT}")
    for child in ast.iter_child_nodes(node):
        _check_node(child, depth + 1)


def _referenced(tree: ast.AST) -> tuple[frozenset[str], frozenset[tuple[str, str | None]]]:
    names: set[str] = set()
    fields: set[tuple[str, str | None]] = set()
    consumed: set[int] = set()
    for node in ast.walk(tree):
        base, key = None, None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base, key = node.value, node.attr
        elif (isinstance(node, ast.Subscript) and isinstance(node.value, ast.Name)
              and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str)):
            base, key = node.value, node.slice.value
        if base is not None:
            fields.add((base.id, key))
            consumed.add(id(base))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            names.add(node.id)
            if id(node) not in consumed:
                fields.add((node.id, None))
    calls = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    names -= calls
    fields = {f for f in fields if f[0] not in calls}
    return frozenset(names), frozenset(fields)


def _fold_constants(tree: ast.Expression) -> None:
    """Evaluate subtrees made only of constants, so ``'a' * 10**10`` fails when the diagram is checked."""
    funcs = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    for node in ast.walk(tree):
        if isinstance(node, ast.BinOp | ast.UnaryOp | ast.Compare | ast.Call) and not any(
                isinstance(n, ast.Name) and id(n) not in funcs for n in ast.walk(node)):
            try:
                _Evaluator({}, DEFAULT_BUDGET_S).run(node)
            except ExpressionError as exc:
                raise _reject(node, exc.message) from None
            except Exception as exc:  # noqa: BLE001 - a constant that cannot be computed is refused
                raise _reject(node, f"cannot be computed ({type(exc).__name__})") from None


@lru_cache(maxsize=4096)
def compile_expression(source: str) -> Expression:
    """Parse and check ``source``; raise :class:`ExpressionError` naming what is not allowed."""
    if not isinstance(source, str) or not source.strip():
        raise ExpressionError("expression is empty")
    if len(source) > MAX_SOURCE:
        raise ExpressionError(f"expression is longer than {MAX_SOURCE} characters")
    text = source.strip()
    if "\x00" in text:
        raise ExpressionError("expression contains a NUL character")
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"syntax error at column {exc.offset or 0}: {exc.msg}{_hint(text)}") from None
    except (ValueError, MemoryError, RecursionError):
        raise ExpressionError("expression cannot be read") from None
    count = sum(1 for _ in ast.walk(tree))
    if count > MAX_NODES:
        raise ExpressionError(f"expression has {count} parts; the limit is {MAX_NODES}")
    _check_node(tree, 0)
    _fold_constants(tree)
    names, fields = _referenced(tree)
    return Expression(source=text, tree=tree, names=names, fields=fields)


class _Evaluator:
    __slots__ = ("context", "deadline")

    def __init__(self, context: Mapping[str, Any], budget_s: float) -> None:
        self.context = context
        self.deadline = time.monotonic() + budget_s

    def run(self, node: ast.AST) -> Any:  # noqa: C901, PLR0911, PLR0912 - a dispatch over node kinds
        if time.monotonic() > self.deadline:
            raise ExpressionError("expression took longer than its time budget")
        match node:
            case ast.Expression(body=body):
                return self.run(body)
            case ast.Constant(value=value):
                return value
            case ast.Name(id=name):
                return self.context.get(name)
            case ast.Attribute(value=value, attr=attr):
                return _field(self.run(value), attr)
            case ast.Subscript(value=value, slice=index):
                return _item(self.run(value), self.run(index))
            case ast.BoolOp(op=ast.And(), values=values):
                result: Any = True
                for v in values:
                    result = self.run(v)
                    if not result:
                        return result
                return result
            case ast.BoolOp(op=ast.Or(), values=values):
                result = False
                for v in values:
                    result = self.run(v)
                    if result:
                        return result
                return result
            case ast.UnaryOp(op=op, operand=operand):
                value = self.run(operand)
                if isinstance(op, ast.Not):
                    return not value
                _number(value, "unary minus or plus")
                return -value if isinstance(op, ast.USub) else +value
            case ast.BinOp(left=left, op=op, right=right):
                return _binop(op, self.run(left), self.run(right))
            case ast.Compare(left=left, ops=ops, comparators=comparators):
                current = self.run(left)
                for op, comp in zip(ops, comparators, strict=True):
                    other = self.run(comp)
                    try:
                        ok = _CMPOPS[type(op)](current, other)
                    except TypeError:
                        raise ExpressionError(
                            f"cannot compare {_kind(current)} with {_kind(other)}") from None
                    if not ok:
                        return False
                    current = other
                return True
            case ast.IfExp(test=test, body=body, orelse=orelse):
                return self.run(body) if self.run(test) else self.run(orelse)
            case ast.List(elts=elts) | ast.Tuple(elts=elts):
                return [self.run(e) for e in elts]
            case ast.Dict(keys=keys, values=values):
                out = {}
                for k, v in zip(keys, values, strict=True):
                    key = self.run(k)
                    if not isinstance(key, str | int | float | bool | type(None)):
                        raise ExpressionError(f"a record key cannot be a {_kind(key)}")
                    out[key] = self.run(v)
                return out
            case ast.Call(func=ast.Name(id=name), args=args):
                values = [self.run(a) for a in args]
                for value in values:
                    if _size(value) > MAX_SEQUENCE:
                        raise ExpressionError(f"{name}() was given more than {MAX_SEQUENCE:,} items")
                try:
                    return _bounded(HELPERS[name](*values))
                except ExpressionError:
                    raise
                except Exception as exc:
                    raise ExpressionError(f"{name}() failed: {type(exc).__name__}") from None
        raise ExpressionError(f"{type(node).__name__} is not allowed in an expression")


def _kind(value: Any) -> str:
    return "nothing (None)" if value is None else type(value).__name__


def _field(record: Any, name: str) -> Any:
    if record is None:
        return None
    if isinstance(record, Mapping):
        return record.get(name)
    raise ExpressionError(f"field {name!r} read from a {_kind(record)}; only records have fields")


def _item(container: Any, index: Any) -> Any:
    if container is None:
        return None
    if isinstance(container, Mapping) and isinstance(index, str | int | float | bool | type(None)):
        return container.get(index)
    if isinstance(container, list | tuple | str) and isinstance(index, int) and not isinstance(index, bool):
        return container[index] if -len(container) <= index < len(container) else None
    raise ExpressionError(f"cannot index a {_kind(container)} with a {_kind(index)}")


def _number(value: Any, what: str) -> None:
    number(value, what)


def _size(value: Any, limit: int = MAX_SEQUENCE) -> int:
    """Items in ``value`` counted through nested lists and records, stopping soon after ``limit``."""
    if isinstance(value, str):
        return len(value)
    if not isinstance(value, list | tuple | dict):
        return 1
    total, todo = 0, [value]
    while todo and total <= limit:
        current = todo.pop()
        items = list(current.values()) if isinstance(current, dict) else current
        total += len(items)
        todo.extend(v for v in items if isinstance(v, list | tuple | dict))
        total += sum(len(v) for v in items if isinstance(v, str))
    return total


def _bounded(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > MAX_INT:
        raise ExpressionError("number result is too large")
    if isinstance(value, float) and not math.isfinite(value):
        raise ExpressionError("number result is not finite")
    if isinstance(value, str | list | tuple | dict) and _size(value) > MAX_SEQUENCE:
        raise ExpressionError("result is too long")
    return value


def _binop(op: ast.operator, left: Any, right: Any) -> Any:  # noqa: C901 - one guard per operator
    if isinstance(op, ast.Mod) and not isinstance(left, int | float):
        raise ExpressionError("% works on numbers only (text formatting is not allowed)")
    if isinstance(op, ast.Mult):
        for seq, n in ((left, right), (right, left)):
            if isinstance(seq, str | list) and isinstance(n, int):
                if n * _size(seq) > MAX_SEQUENCE:
                    raise ExpressionError("repeated text or list would be too long")
    if isinstance(op, ast.Pow):
        _number(left, "**")
        if isinstance(left, int) and left not in (0, 1, -1) and abs(left) > 1 and \
                right * math.log2(abs(left)) > 63:
            raise ExpressionError("power result would be too large")
    if isinstance(op, ast.Add) and isinstance(left, str | list) and isinstance(right, str | list):
        if _size(left) + _size(right) > MAX_SEQUENCE:
            raise ExpressionError("joined text or list would be too long")
    try:
        return _bounded(_BINOPS[type(op)](left, right))
    except ExpressionError:
        raise
    except ZeroDivisionError:
        raise ExpressionError("division by zero") from None
    except (TypeError, ValueError, OverflowError):
        raise ExpressionError(
            f"cannot apply {type(op).__name__} to {_kind(left)} and {_kind(right)}") from None


def evaluate(expression: Expression | str, context: Mapping[str, Any],
             budget_s: float = DEFAULT_BUDGET_S) -> Any:
    """Evaluate a checked expression over ``context`` (task data); never calls eval."""
    compiled = compile_expression(expression) if isinstance(expression, str) else expression
    try:
        return _Evaluator(context, budget_s).run(compiled.tree)
    except ExpressionError:
        raise
    except RecursionError:
        raise ExpressionError("data is nested too deeply") from None
    except Exception as exc:  # noqa: BLE001 - an expression fails with ExpressionError, never anything else
        raise ExpressionError(f"expression failed: {type(exc).__name__}") from None


def _hint(text: str) -> str:
    """Plain hints for the syntax other modelling tools use (FEEL, XPath, '=' for comparison, spaces)."""
    stripped = text.strip()
    hints = []
    if stripped.startswith("="):
        hints.append("a leading '=' marks a FEEL expression from Camunda 8; FEEL is not supported")
    elif re.search(r"\w:\w+\(", stripped):
        hints.append("this looks like XPath; write conditions in Tsunagu's expression syntax")
    elif re.search(r"(?<![=!<>])=(?!=)", stripped):
        hints.append("use == to compare; a single = is not allowed")
    if re.search(r"^[A-Za-z_]\w*( [A-Za-z_]\w*)+\s*(==|!=|<|>|=)", stripped):
        hints.append("names cannot contain spaces; use the form field name, e.g. service_level")
    return f" ({'; '.join(hints)})" if hints else ""


_JUEL = re.compile(r"^\s*[$#]\{(?P<body>.*)\}\s*$", re.S)
_JUEL_WORDS = [
    (r"&&", " and "), (r"\|\|", " or "), (r"!(?!=)", " not "), (r"\beq\b", "=="), (r"\bne\b", "!="),
    (r"\blt\b", "<"), (r"\bgt\b", ">"), (r"\ble\b", "<="), (r"\bge\b", ">="), (r"\btrue\b", "True"),
    (r"\bfalse\b", "False"), (r"\bnull\b", "None"), (r"\bempty\s+(\w[\w.]*)", r"not \1"),
]


def from_camunda(text: str) -> str:
    """Translate a simple Camunda/JUEL expression (``${approved && amount > 10}``) to our syntax.

    Text that is not wrapped in ``${...}`` is returned unchanged.
    """
    m = _JUEL.match(text)
    if not m:
        return text
    body = m["body"]
    for pattern, repl in _JUEL_WORDS:
        body = re.sub(pattern, repl, body)
    return " ".join(body.split())
