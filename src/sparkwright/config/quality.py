"""Data-quality rules of a project file (``quality:``), one model per ``rule`` kind.

The rules are evaluated in Spark by ``sparkwright.data.quality``; rows that break one are quarantined
with the rule's name.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, description="Shown in the quarantine and the report; default derived.")

    @property
    def display_name(self) -> str:
        return self.name or self.default_name()

    def default_name(self) -> str:  # pragma: no cover - every rule overrides it
        raise NotImplementedError


class NotNullRule(_Rule):
    rule: Literal["not_null"]
    column: str

    def default_name(self) -> str:
        return f"{self.column} not null"


class RangeRule(_Rule):
    rule: Literal["range"]
    column: str
    min: float | None = None
    max: float | None = None

    @model_validator(mode="after")
    def _has_a_bound(self) -> RangeRule:
        if self.min is None and self.max is None:
            raise ValueError("a range rule needs min, max or both")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self

    def default_name(self) -> str:
        low = "-inf" if self.min is None else f"{self.min:g}"
        high = "inf" if self.max is None else f"{self.max:g}"
        return f"{self.column} in [{low}, {high}]"


class AllowedValuesRule(_Rule):
    rule: Literal["allowed_values"]
    column: str
    values: list[Any] = Field(min_length=1)

    def default_name(self) -> str:
        return f"{self.column} in allowed values"


class UniqueRule(_Rule):
    rule: Literal["unique"]
    columns: list[str] = Field(min_length=1)

    def default_name(self) -> str:
        return f"{', '.join(self.columns)} unique"


class PatternRule(_Rule):
    rule: Literal["pattern"]
    column: str
    regex: str

    def default_name(self) -> str:
        return f"{self.column} matches {self.regex}"


QualityRule = Annotated[
    NotNullRule | RangeRule | AllowedValuesRule | UniqueRule | PatternRule, Field(discriminator="rule")
]
