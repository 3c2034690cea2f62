"""YAML loading that remembers where every key and value came from, so errors can say file:line:col."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml


@dataclasses.dataclass(frozen=True)
class Pos:
    file: str
    line: int  # 1-based
    column: int  # 1-based

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class PosDict(dict):
    """A mapping that knows the position of itself, of each key and of each value."""

    pos: Pos
    key_pos: dict[str, Pos]
    value_pos: dict[str, Pos]


class PosList(list):
    pos: Pos
    item_pos: list[Pos]


class YamlError(Exception):
    def __init__(self, pos: Pos, message: str) -> None:
        super().__init__(f"{pos}: {message}")
        self.pos = pos
        self.message = message


def _pos(file: str, node: yaml.Node) -> Pos:
    return Pos(file, node.start_mark.line + 1, node.start_mark.column + 1)


def _convert(file: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        out = PosDict()
        out.pos, out.key_pos, out.value_pos = _pos(file, node), {}, {}
        for key_node, value_node in node.value:
            key = _convert(file, key_node)
            if not isinstance(key, (str, int, float, bool)):
                raise YamlError(_pos(file, key_node), "a mapping key must be a plain scalar")
            key = str(key)
            if key in out:
                raise YamlError(_pos(file, key_node), f"key '{key}' appears twice in this mapping")
            out[key] = _convert(file, value_node)
            out.key_pos[key] = _pos(file, key_node)
            out.value_pos[key] = _pos(file, value_node)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = PosList(_convert(file, item) for item in node.value)
        seq.pos, seq.item_pos = _pos(file, node), [_pos(file, item) for item in node.value]
        return seq
    # Scalars: the safe constructor resolves ints (0x.. too), bools, floats and nulls.
    return yaml.SafeLoader("").construct_object(node, deep=True)


def load_yaml(path: str | Path, text: str | None = None) -> Any:
    """Load one YAML document with positions. Raises YamlError for syntax errors."""
    file = str(path)
    if text is None:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise YamlError(Pos(file, 1, 1), f"cannot read the file: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise YamlError(Pos(file, 1, 1), f"not UTF-8 text (byte offset {exc.start})") from None
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        raise YamlError(pos, f"YAML syntax: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(Pos(file, 1, 1), f"YAML: {exc}") from None
    if node is None:
        return None
    return _convert(file, node)
