"""One import's settings as one value: what the CLI flags, a saved mapping file, the HTTP endpoint's
query and the dashboard's form all turn into.

>>> spec = ImportSpec.from_dict({"map": {"score": "Rating"}, "delimiter": ";", "dayfirst": True})
>>> spec.read_options().delimiter, spec.validate_options().dates.order, spec.map
(';', 'dmy', {'score': 'Rating'})
>>> ImportSpec.from_dict(spec.to_dict()) == spec
True
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import yaml

from cxlens.errors import ParameterError
from cxlens.ingest.files import ReadOptions, parse_mapping
from cxlens.schema.dates import EPOCH_UNITS, DateOptions
from cxlens.schema.validate import ValidateOptions

__all__ = ["ImportSpec"]

_BOOLS = ("dayfirst", "monthfirst", "any_date", "skip_incomplete")
_INTS = ("header_row", "skip_rows")


@dataclass
class ImportSpec:
    """Everything an import can be told (each field has the CLI flag of the same name).

    ``map`` is canonical column → source column (or a dotted path into nested JSON), ``set`` gives
    a column one value on every row, ``drop`` leaves source columns out. ``score``/``comment``/
    ``metric`` choose the question of a survey export when a preset cannot tell.
    """

    map: dict[str, str] = field(default_factory=dict)
    set: dict[str, Any] = field(default_factory=dict)
    drop: list[str] = field(default_factory=list)
    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    decimal: str = "."
    thousands: str | None = None
    timezone: str = "UTC"
    dayfirst: bool = False
    monthfirst: bool = False
    epoch: str | None = None
    any_date: bool = False
    header_row: int = 1
    skip_rows: int = 0
    skip_incomplete: bool = False
    records: str | None = None
    sheet: str | None = None
    score: str | None = None
    comment: str | None = None
    metric: str | None = None

    def __post_init__(self) -> None:
        if self.dayfirst and self.monthfirst:
            raise ParameterError("dayfirst", "--dayfirst and --monthfirst contradict each other; give one")
        if self.decimal not in (".", ","):
            raise ParameterError("decimal", f"--decimal {self.decimal!r}; expected '.' or ','")
        if self.thousands not in (None, ",", ".", " ", "'", "\u00a0"):
            raise ParameterError("thousands", f"--thousands {self.thousands!r}; expected ',', '.', ' ' or \"'\"")
        if self.thousands is not None and self.thousands == self.decimal:
            raise ParameterError("thousands", "--thousands and --decimal must differ")
        if self.epoch is not None and self.epoch not in EPOCH_UNITS:
            raise ParameterError("epoch", f"--epoch {self.epoch!r}; expected one of {', '.join(EPOCH_UNITS)}")

    # -- building ---------------------------------------------------------------------------------
    @classmethod
    def from_dict(cls, d: dict[str, Any], *, where: str = "import settings") -> ImportSpec:
        """From a mapping file, a form or query parameters (unknown keys are refused by name)."""
        names = {f.name for f in fields(cls)}
        kw: dict[str, Any] = {}
        for key, value in d.items():
            k = str(key).replace("-", "_")
            if k not in names:
                import difflib

                near = difflib.get_close_matches(k, sorted(names), n=1)
                hint = f"; did you mean {near[0]!r}?" if near else ""
                raise ParameterError(
                    k, f"{where} has an unknown setting {key!r}{hint} (expected {', '.join(sorted(names))})"
                )
            if value is None or value == "":
                continue
            if k == "map":
                value = parse_mapping(value if isinstance(value, dict | list) else str(value))
            elif k == "set":
                value = _pairs(value, "set")
            elif k == "drop":
                value = [value] if isinstance(value, str) else [str(v) for v in value]
            elif k in _BOOLS:
                value = _bool(value, k)
            elif k in _INTS:
                try:
                    value = int(value)
                except (TypeError, ValueError):
                    raise ParameterError(k, f"{k} is {value!r}; expected a whole number") from None
            else:
                value = str(value)
            kw[k] = value
        return cls(**kw)

    @classmethod
    def load_yaml(cls, path: str | Path) -> ImportSpec:
        """A saved mapping file (``--mapping map.yaml``)."""
        p = Path(path)
        try:
            doc = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
        except OSError as e:
            raise ParameterError("mapping", f"cannot read mapping file {str(p)!r}: {e.strerror}") from None
        except yaml.YAMLError as e:
            raise ParameterError(
                "mapping", f"mapping file {p.name} is not valid YAML: {str(e).splitlines()[0]}"
            ) from None
        if not isinstance(doc, dict):
            raise ParameterError(
                "mapping", f"mapping file {p.name} must be a YAML mapping such as 'map: {{score: Rating}}'"
            )
        return cls.from_dict(doc, where=f"mapping file {p.name}")

    def merged(self, other: ImportSpec) -> ImportSpec:
        """This spec with every field ``other`` sets differently from the default taken from ``other``."""
        default = ImportSpec()
        out = {}
        for f in fields(self):
            mine, theirs = getattr(self, f.name), getattr(other, f.name)
            if f.name in ("map", "set"):
                out[f.name] = {**mine, **theirs}
            elif f.name == "drop":
                out[f.name] = list(dict.fromkeys([*mine, *theirs]))
            else:
                out[f.name] = theirs if theirs != getattr(default, f.name) else mine
        return ImportSpec(**out)

    def to_dict(self) -> dict[str, Any]:
        """Only the settings that differ from the defaults (what a saved mapping file holds)."""
        default = asdict(ImportSpec())
        return {k: v for k, v in asdict(self).items() if v != default[k]}

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True)

    # -- for the library ----------------------------------------------------------------------------
    def read_options(self) -> ReadOptions:
        return ReadOptions(
            format=self.format,
            delimiter=self.delimiter,
            encoding=self.encoding,
            header_row=self.header_row,
            skip_rows=self.skip_rows,
            records=self.records,
            sheet=self.sheet,
        )

    def date_options(self) -> DateOptions:
        order = "dmy" if self.dayfirst else "mdy" if self.monthfirst else None
        return DateOptions(order=order, epoch=self.epoch, timezone=self.timezone, any_date=self.any_date)

    def validate_options(self) -> ValidateOptions:
        return ValidateOptions(
            dates=self.date_options(),
            decimal=self.decimal,
            thousands=self.thousands,
            skip_incomplete=self.skip_incomplete,
        )


def _bool(v: Any, name: str) -> bool:
    if isinstance(v, bool):
        return v
    text = str(v).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ParameterError(name, f"{name} is {v!r}; expected true or false")


def _pairs(v: Any, name: str) -> dict[str, Any]:
    if isinstance(v, dict):
        return {str(k): x for k, x in v.items()}
    items = [v] if isinstance(v, str) else list(v)
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in str(item):
            raise ParameterError(name, f"--{name} {item!r} has no '='; expected column=value, e.g. metric=nps")
        k, x = (s.strip() for s in str(item).split("=", 1))
        out[k] = x
    return out
