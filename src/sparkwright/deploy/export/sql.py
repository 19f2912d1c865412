"""The few ``SQLTransformer`` statements sparkwright writes, parsed strictly; any other statement is refused.

- ``SELECT *, CAST(<number> AS DOUBLE) AS `out` FROM __THIS__`` (the mean baseline, a constant column),
- ``SELECT *, EXP(`in`) AS `out` FROM __THIS__`` (predictions of a model trained on log(label)),
- ``SELECT *, CASE CAST(`in` AS INT) WHEN 0 THEN CAST('a' AS string) ... END AS `out` FROM __THIS__``
  (class index -> the label's own value and type).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from sparkwright.deploy.export.runtime import INTEGRAL_TYPES

SQL_FORMS = (
    "SELECT *, CAST(<number> AS DOUBLE) AS `<col>` FROM __THIS__",
    "SELECT *, EXP(`<col>`) AS `<col>` FROM __THIS__",
    "SELECT *, CASE CAST(`<col>` AS INT) WHEN 0 THEN CAST('<label>' AS <type>) ... END AS `<col>` FROM __THIS__",
)
LABEL_TYPES = ("string", "boolean", "double", "float", *INTEGRAL_TYPES)

_IDENT = r"`((?:[^`]|``)+)`"
_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)"
_HEAD = r"\s*SELECT\s+\*\s*,\s*"
_TAIL = rf"\s+AS\s+{_IDENT}\s+FROM\s+__THIS__\s*"
_CONSTANT = re.compile(rf"{_HEAD}CAST\(\s*{_NUMBER}\s+AS\s+DOUBLE\s*\){_TAIL}", re.IGNORECASE)
_EXP = re.compile(rf"{_HEAD}EXP\(\s*{_IDENT}\s*\){_TAIL}", re.IGNORECASE)
_WHEN = r"WHEN\s+\d+\s+THEN\s+CAST\(\s*'(?:[^'\\]|\\.)*'\s+AS\s+\w+\s*\)\s*"
_CASE = re.compile(rf"{_HEAD}CASE\s+CAST\(\s*{_IDENT}\s+AS\s+INT\s*\)\s+((?:{_WHEN})+)END{_TAIL}", re.IGNORECASE)
_ONE_WHEN = re.compile(r"WHEN\s+(\d+)\s+THEN\s+CAST\(\s*'((?:[^'\\]|\\.)*)'\s+AS\s+(\w+)\s*\)", re.IGNORECASE)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"'}
_TRUE, _FALSE = ("t", "true", "y", "yes", "1"), ("f", "false", "n", "no", "0")


class UnsupportedStatement(ValueError):
    """A statement none of :data:`SQL_FORMS` matches; the message says which part is not supported."""


@dataclass(frozen=True)
class ParsedStatement:
    """``kind`` is ``constant`` (``value``), ``exp`` (``input``) or ``index_to_label`` (``input``, ``labels``,
    ``label_type``); ``output`` is the column the statement adds."""

    kind: str
    output: str
    input: str | None = None
    value: float | None = None
    labels: dict[int, Any] | None = None
    label_type: str | None = None


def parse_statement(statement: str) -> ParsedStatement:
    """Parse one of sparkwright's own statements.

    Raises:
        UnsupportedStatement: Any other statement, or a CASE with an unsupported type or escape.
    """
    found = _CONSTANT.fullmatch(statement)
    if found:
        return ParsedStatement("constant", output=_unquote(found.group(2)), value=float(found.group(1)))
    found = _EXP.fullmatch(statement)
    if found:
        return ParsedStatement("exp", output=_unquote(found.group(2)), input=_unquote(found.group(1)))
    found = _CASE.fullmatch(statement)
    if found:
        labels: dict[int, Any] = {}
        types = set()
        for index, text, type_name in _ONE_WHEN.findall(found.group(2)):
            type_name = type_name.lower()
            if type_name not in LABEL_TYPES:
                raise UnsupportedStatement(f"labels of type {type_name!r}; supported: {', '.join(LABEL_TYPES)}")
            types.add(type_name)
            labels[int(index)] = _cast_literal(_unescape(text), type_name)
        if len(types) != 1:
            raise UnsupportedStatement(f"labels cast to several types {sorted(types)}")
        return ParsedStatement(
            "index_to_label",
            output=_unquote(found.group(3)),
            input=_unquote(found.group(1)),
            labels=labels,
            label_type=types.pop(),
        )
    raise UnsupportedStatement("the statement is none of the supported forms")


def _unquote(identifier: str) -> str:
    return identifier.replace("``", "`")


def _unescape(text: str) -> str:
    """Spark's unescaping of a string literal, for the escapes sparkwright writes (backslash and quotes)."""
    out, i = [], 0
    while i < len(text):
        char = text[i]
        if char == "\\":
            escaped = text[i + 1]
            if escaped not in _ESCAPES:
                raise UnsupportedStatement(f"the escape \\{escaped} in a string literal")
            out.append(_ESCAPES[escaped])
            i += 2
            continue
        out.append(char)
        i += 1
    return "".join(out)


def _cast_literal(text: str, type_name: str) -> Any:
    """``CAST('<text>' AS <type>)`` for the texts Spark's own cast to string writes."""
    try:
        if type_name == "string":
            return text
        if type_name in INTEGRAL_TYPES:
            return int(text.strip())
        if type_name in ("double", "float"):
            return float(text.strip())
        lowered = text.strip().lower()
        if lowered in _TRUE or lowered in _FALSE:
            return lowered in _TRUE
    except ValueError:
        pass
    raise UnsupportedStatement(f"CAST({text!r} AS {type_name}) does not give a {type_name}")
