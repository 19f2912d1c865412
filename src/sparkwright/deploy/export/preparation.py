"""Converters of sparkwright's row-preparation stages (``PrepareRows``, ``RejectedRows``).

The preparation's rules become runtime checks whose reason texts are written here, from the same
rule objects the Spark stage reads, so the exported scorer refuses the same rows with the same words.
Filters (``cleanse.filters`` on feature columns) are evaluated by the runtime's Spark SQL subset; one
outside it is refused at export time with the subset listed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sparkwright.deploy.export import runtime as rt
from sparkwright.deploy.export.converters import UnsupportedStageError, _converts

if TYPE_CHECKING:
    from sparkwright.data.preparation import RowCheck, RowPreparation
    from sparkwright.deploy.export.converters import _Context

SQL_SUBSET = (
    "column names, numbers, 'strings', TRUE/FALSE/NULL, + - * /, = == <> != < <= > >=, AND/OR/NOT, "
    "IS [NOT] NULL, [NOT] IN (...), [NOT] BETWEEN .. AND .., parentheses"
)


@_converts("PrepareRows")
def _prepare_rows(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    from sparkwright.data.preparation import MISSING_SUFFIX, REASON_COL

    preparation = stage.getPreparation()
    for column in preparation.columns:
        context.require(where, column.name, (*rt.SCALAR_TYPES,))
    params = {
        "stage": where,
        "columns": [
            {"name": c.name, "source_type": c.source_type, "indicator": c.indicator, "optional": c.optional}
            for c in preparation.columns
        ],
        "missing_level": preparation.missing_level,
        "checks": [_check(check, preparation, where) for check in preparation.checks],
        "reason": REASON_COL,
        "ignored": preparation.ignored,
    }
    for column in preparation.columns:
        context.add(column.name, "string" if column.categorical else "double")
        if column.indicator:
            context.add(column.name + MISSING_SUFFIX, "double")
    context.add(REASON_COL, "string")
    return [rt.PrepareRowsStep(params)]


@_converts("RejectedRows")
def _rejected_rows(stage: Any, context: _Context, where: str) -> list[rt.Step]:
    from sparkwright.data.preparation import REASON_COL

    context.require(where, REASON_COL, ("string",))
    columns = [name for name in stage.getOutputCols() if name in context.columns]
    return [rt.RejectedRowsStep({"stage": where, "columns": columns, "reason": REASON_COL})]


def _check(check: RowCheck, preparation: RowPreparation, where: str) -> dict[str, Any]:
    """A rule as the runtime evaluates it; the constant parts of its reason as the Spark stage writes them."""
    from sparkwright.data.preparation import quality_rule
    from sparkwright.data.quality import allowed_values

    rule = dict(check.rule)
    kind = rule["rule"]
    if kind == "filter":
        expression = rule["expression"]
        try:
            condition = rt.SqlCondition(expression)
            unknown = [c for c in condition.columns() if c not in preparation.input_names]
            if unknown:
                raise ValueError(f"it reads {unknown}, which are not inputs of the model")
            condition.check_types({c.name: c.source_type for c in preparation.columns})
        except ValueError as exc:
            raise UnsupportedStageError(
                f"{where}: the filter {expression!r} cannot be exported ({exc}); the exported scorer reads "
                f"this Spark SQL subset: {SQL_SUBSET}."
            ) from None
        return {
            "kind": "filter",
            "expression": expression,
            "columns": condition.columns(),
            "suffix": f"filter {expression!r} is not true",
        }
    column = rule["column"]
    out: dict[str, Any] = {"kind": kind, "column": column}
    if kind == "range":
        low = "-inf" if rule.get("min") is None else f"{rule['min']:g}"
        high = "inf" if rule.get("max") is None else f"{rule['max']:g}"
        out.update(min=rule.get("min"), max=rule.get("max"), suffix=f" is outside [{low}, {high}]")
    elif kind == "allowed_values":
        source = next(c for c in preparation.columns if c.name == column)
        values = allowed_values(quality_rule(rule), 0, source.data_type)
        listing = ", ".join(repr(v) for v in values)
        if not source.categorical:  # compared as numbers; a boolean column's values are 0.0 / 1.0
            values = [float(v) for v in values]
        out.update(values=values, suffix=f" is not one of {listing}")
    elif kind == "pattern":
        out.update(regex=rule["regex"], suffix=f" does not match {rule['regex']!r}")
    elif kind != "not_null":
        raise UnsupportedStageError(f"{where}: the row rule {kind!r} cannot be exported.")
    return out
