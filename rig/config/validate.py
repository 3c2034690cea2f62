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
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rig.config.source import Pos, PosDict, PosList, YamlError, load_yaml

M = TypeVar("M", bound=BaseModel)


class ConfigFileError(ValueError):
    """A file the rig reads is wrong: `pos` (file:line:col), the dotted `field`, and what was expected."""

    def __init__(self, pos: Pos | str | None, field: str, message: str) -> None:
        # pos: where in a file; a str names data that never was a file (a dict built in code, a CLI word)
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
    # A misspelt key is both an unknown key and a missing one: the unknown one (with its suggestion) wins.
    return max(errors, key=lambda e: (len(e["loc"]), e.get("type") == "extra_forbidden")) if errors \
        else {"loc": (), "msg": "invalid", "type": ""}


def _locate(data: Any, loc: tuple, origin: Pos | str, *, at_key: bool = False) -> tuple[Pos | None, list, Any]:
    """Follow `loc` through the data: the position of the deepest value reached (of its key, `at_key`, for
    a key that should not be there), the path, its parent."""
    pos = getattr(data, "pos", None) or (origin if isinstance(origin, Pos) else Pos(str(origin), 1, 1))
    node, path, parent = data, [], None
    for step in loc:
        if isinstance(node, dict) and isinstance(step, str) and step in node:  # a plain dict: path only
            pos = getattr(node, "key_pos" if at_key else "value_pos", {}).get(step, pos)
            parent, node = node, node[step]
            path.append(step)
        elif isinstance(node, (list, tuple)) and isinstance(step, int) and 0 <= step < len(node):
            pos = node.item_pos[step] if isinstance(node, PosList) else pos
            parent, node = node, node[step]
            path.append(step)
        elif isinstance(node, dict) and isinstance(step, str) and step not in node and _is_field_name(step):
            parent = node  # a missing (or extra) key: point at the mapping, name the key
            path.append(step)
            key_pos = getattr(node, "key_pos", {})
            pos = key_pos.get(step, getattr(node, "pos", pos))
            node = None
        elif step == "[key]" and isinstance(parent, PosDict) and path and path[-1] in parent.key_pos:
            pos = parent.key_pos[path[-1]]  # a bad key of a dict[K, V]: point at the key, not at its value
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
        return f"found {_shown(found)}; {message}" if "expected" in message \
            else f"found {_shown(found)}; expected {message}"
    return f"found {_shown(found)}; expected {expected}"


def _shown(found: Any, limit: int = 200) -> str:
    # A value built from aliases can hold thousands of items: the message shows its start only.
    text = repr(found)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(text)} characters)"


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


# ------------------------------------------------------------------------------------------------
# Reading a whole file, and data that never was one (shared by the bench, profile and fixture readers)

E = TypeVar("E", bound=ConfigFileError)


def read_mapping(path: str | Path, what: str) -> PosDict:
    """The positioned top-level mapping of the YAML file at `path` (an empty file is an empty mapping);
    ConfigFileError naming file:line:col for unreadable text, YAML syntax or a document that is not a
    mapping. `what` says what the mapping holds ("bench settings"), for that last error."""
    try:
        data = load_yaml(path)
    except YamlError as exc:
        message = exc.message
        if "could not determine a constructor" in message:  # a !!python/... tag: refused, said plainly
            message = message.removeprefix("YAML syntax: ") + "; expected plain YAML values (no tags)"
        raise ConfigFileError(exc.pos, "", message) from None
    if data is None:
        data = PosDict()
        data.pos, data.key_pos, data.value_pos = Pos(str(path), 1, 1), {}, {}
    if not isinstance(data, PosDict):
        raise ConfigFileError(getattr(data, "pos", Pos(str(path), 1, 1)), "",
                              f"found a {type(data).__name__.removeprefix('Pos').lower()}; expected a mapping of {what}")
    return data


def validate_any(model: type[M], data: Any, *, origin: Pos | str, prefix: str = "", context: Any = None) -> M:
    """`validate` for data that may have been built in code rather than read from a file: without
    positions the error names `origin` (a str: where the data came from) and the field, not a made-up
    line 1:1."""
    if isinstance(data, (PosDict, PosList)) or isinstance(origin, Pos):
        return validate(model, data, origin=origin, prefix=prefix, context=context)
    try:
        return model.model_validate(data, context=context)
    except ValidationError as exc:
        err = to_config_error(model, exc, data, origin=origin, prefix=prefix)
        raise ConfigFileError(origin, err.field, err.message) from None  # type: ignore[arg-type] # str(pos)


def recast(cls: type[E], exc: ConfigFileError) -> E:
    """The same error as one of the callers' own classes (ConfigError, ProfileError, ...)."""
    return cls(exc.pos, exc.field, exc.message)


def renamed_keys(data: Any, names: dict[str, str]) -> Any:
    """A copy of a mapping with some keys renamed, positions kept (YAML 1.1 reads a bare `on:` key as
    true, which the loader keeps as 'True'; a file kind that means the word renames it back)."""
    if not isinstance(data, PosDict):
        return {names.get(k, k): v for k, v in data.items()} if isinstance(data, dict) else data
    out = PosDict((names.get(k, k), v) for k, v in data.items())
    out.pos = data.pos
    out.key_pos = {names.get(k, k): p for k, p in data.key_pos.items()}
    out.value_pos = {names.get(k, k): p for k, p in data.value_pos.items()}
    return out


def close_key(key: str, known: list[str] | set[str] | tuple[str, ...]) -> str | None:
    """The known key `key` is probably a misspelling of, if any (for keys a model lets through)."""
    close = difflib.get_close_matches(key, list(known), n=1, cutoff=0.8)
    return close[0] if close else None
