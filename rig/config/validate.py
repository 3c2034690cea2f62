"""Typed models for the rig's YAML files, with pydantic's errors put back on the file's lines.

Every file kind (plan, bench, device profile, back-end fixtures) is read by `rig.config.source.load_yaml`,
which keeps `file:line:col` for every key and value, and checked by a pydantic model derived from
`FileModel`. pydantic says *what* is wrong and *where in the data* (`loc`); `validate` walks that `loc`
through the positioned data and turns the first error into one line a person can act on:

    fixtures/benches/lab.yaml:7:18: hub.block_period.ppmid: found 'fast'; expected a number of seconds

A field's `description` is the "expected" text when it has one, so each model says in its own words what
it wants; otherwise pydantic's message is used, lightly reworded.
"""

from __future__ import annotations

import difflib
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rig.config.source import Pos, PosDict, PosList

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A file the rig reads is wrong: `pos` (file:line:col), the dotted `field`, and what was expected."""

    def __init__(self, pos: Pos | None, field: str, message: str) -> None:
        where = str(pos) if pos is not None else "?"
        super().__init__(f"{where}: {field + ': ' if field else ''}{message}")
        self.pos, self.field, self.message = pos, field, message


class FileModel(BaseModel):
    """Base of every file model: unknown keys are errors (a typo is not silently ignored), values are
    not coerced across types (a quoted "10" is not the number 10, `yes` is not 1), models are immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=True)


def validate(model: type[M], data: Any, *, origin: Pos | str, prefix: str = "", context: Any = None) -> M:
    """`model` checked against positioned `data` (from load_yaml); raises ConfigFileError on the first error.

    `origin` is where `data` starts (used when it carries no position of its own, e.g. an empty file);
    `prefix` is the dotted path of `data` inside its file (`hub` for a bench's hub: section)."""
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        raise to_config_error(model, exc, data, origin=origin, prefix=prefix) from None


def to_config_error(model: type[BaseModel], exc: ValidationError, data: Any, *, origin: Pos | str,
                    prefix: str = "") -> ConfigFileError:
    """The first of pydantic's errors, placed on its line, worded for a person."""
    err = _first(exc.errors(include_url=False))
    pos, path, parent = _locate(data, err["loc"], origin, at_key=err.get("type") == "extra_forbidden")
    field = ".".join(p for p in (prefix, *map(str, path)) if p)
    return ConfigFileError(pos, field, _wording(model, err, path, parent))


def _first(errors: list[dict]) -> dict:
    # A union reports one error per member; the member that got furthest (longest loc) says the most.
    return max(errors, key=lambda e: len(e["loc"])) if errors else {"loc": (), "msg": "invalid", "type": ""}


def _locate(data: Any, loc: tuple, origin: Pos | str, *, at_key: bool = False) -> tuple[Pos | None, list, Any]:
    """Follow `loc` through the data: the position of the deepest value reached (of its key, `at_key`, for
    a key that should not be there), the path, its parent."""
    pos = getattr(data, "pos", None) or (origin if isinstance(origin, Pos) else Pos(str(origin), 1, 1))
    node, path, parent = data, [], None
    for step in loc:
        if isinstance(node, PosDict) and isinstance(step, str) and step in node:
            pos = (node.key_pos if at_key else node.value_pos).get(step, pos)
            parent, node = node, node[step]
            path.append(step)
        elif isinstance(node, PosList) and isinstance(step, int) and 0 <= step < len(node):
            pos = node.item_pos[step]
            parent, node = node, node[step]
            path.append(step)
        elif isinstance(node, dict) and not isinstance(node, PosDict) and isinstance(step, str) and step in node:
            parent, node = node, node[step]  # data built in code has no positions: name the field, keep the place
            path.append(step)
        elif isinstance(node, dict) and isinstance(step, str) and step not in node and _is_field_name(step):
            parent = node  # a missing (or extra) key: point at the mapping, name the key
            path.append(step)
            key_pos = getattr(node, "key_pos", {})
            pos = key_pos.get(step, getattr(node, "pos", pos))
            node = None
        # else: a union member or validator tag (`function-after[...]`, a model name): not a place in the file
    return pos, path, parent


def _is_field_name(step: str) -> bool:
    return not any(c in step for c in "[]()'\"") and " " not in step


def _wording(model: type[BaseModel], err: dict, path: list, parent: Any) -> str:
    kind, found = err.get("type", ""), err.get("input")
    if kind == "extra_forbidden":
        key = str(path[-1]) if path else "?"
        allowed = _allowed_keys(model, path[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f" (did you mean '{close[0]}'?)" if close else ""
        return f"unknown key '{key}'{hint}; expected one of: {', '.join(sorted(allowed))}" if allowed \
            else f"unknown key '{key}'{hint}"
    if kind == "missing":
        expected = _description(model, path)
        return f"missing; expected {expected}" if expected else "missing (required)"
    expected = _description(model, path) or _reworded(err.get("msg", ""))
    if kind.startswith("value_error") or kind == "assertion_error":
        message = str(err.get("msg", "")).removeprefix("Value error, ").removeprefix("Assertion failed, ")
        return f"found {found!r}; {message}" if "expected" in message else f"found {found!r}; expected {message}"
    return f"found {found!r}; expected {expected}"


def _reworded(msg: str) -> str:
    text = msg.removeprefix("Input should be ").removeprefix("input should be ")
    return text[:1].lower() + text[1:] if text else "a valid value"


def _walk(model: type[BaseModel], path: list) -> tuple[Any, Any]:
    """(FieldInfo at `path`, the model it leads into); (None, None) when the path leaves the models."""
    current: Any = model
    info = None
    keyed = False  # the last field was a dict[str, X]: the next step is a key of the file's choosing
    for step in path:
        if isinstance(step, int) or keyed:
            keyed = False
            continue
        fields = getattr(current, "model_fields", None)
        if not fields:
            return None, None
        info = fields.get(step) or next((f for f in fields.values() if f.alias == step), None)
        if info is None:
            return None, None
        keyed = _is_mapping(info.annotation)
        current = _model_in(info.annotation)
    return info, current


def _is_mapping(annotation: Any) -> bool:
    origin = getattr(annotation, "__origin__", None)
    if origin is dict:
        return True
    return any(_is_mapping(a) for a in getattr(annotation, "__args__", ()) or () if a is not type(None))


def _field_at(model: type[BaseModel], path: list) -> Any:
    return _walk(model, path)[0]


def _model_in(annotation: Any) -> Any:
    """The BaseModel inside an annotation such as `X | None`, `list[X]`, `dict[str, X]` (or the annotation)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in(arg)
        if isinstance(found, type) and issubclass(found, BaseModel):
            return found
    return annotation


def _description(model: type[BaseModel], path: list) -> str | None:
    info = _field_at(model, path)
    return info.description if info is not None else None


def _allowed_keys(model: type[BaseModel], path: list) -> list[str]:
    current = _walk(model, path)[1] if path else model
    fields = getattr(current, "model_fields", None) or {}
    return [f.alias or name for name, f in fields.items()]


def all_errors(model: type[BaseModel], data: Any, *, origin: Pos | str, prefix: str = "",
               context: Any = None) -> list[ConfigFileError]:
    """Every problem pydantic finds in `data`, each placed on its line and worded like `validate`'s one
    (for files whose problems are all reported at once, such as plans); [] when `data` is valid."""
    try:
        model.model_validate(data, context=context)
    except ValidationError as exc:
        return errors_of(model, exc, data, origin=origin, prefix=prefix)
    return []


def errors_of(model: type[BaseModel], exc: ValidationError, data: Any, *, origin: Pos | str,
              prefix: str = "") -> list[ConfigFileError]:
    """All of `exc`'s errors as ConfigFileErrors, in pydantic's order, each once. A model checked this way
    should avoid unions of models: every member of a union reports its own error."""
    out, seen = [], set()
    for err in exc.errors(include_url=False):
        pos, path, parent = _locate(data, err["loc"], origin, at_key=err.get("type") == "extra_forbidden")
        field = ".".join(p for p in (prefix, *map(str, path)) if p)
        error = ConfigFileError(pos, field, _wording(model, err, path, parent))
        if str(error) not in seen:
            seen.add(str(error))
            out.append(error)
    return out
