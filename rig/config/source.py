"""YAML loading that remembers where every key and value came from, so errors can say file:line:col."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import yaml

# A plan, bench or profile is a few kB. These bounds make a hostile or runaway file (a "billion laughs"
# of nested aliases, a multi-GB file) an error naming the file instead of a hang while memory grows.
MAX_DOCUMENT_BYTES = 1 << 20  # 1 MiB
MAX_ALIASES = 100  # `*name` references in one document
MAX_VALUES = 50_000  # values after aliases are expanded (positions are kept per value, so they are copies)


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


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, counting alias references as it composes."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.aliases = 0

    def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
        if self.check_event(yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise _Bounded(mark, f"more than {MAX_ALIASES} aliases (*name); expand them by hand or split the file")
        return super().compose_node(parent, index)


class _Bounded(Exception):
    def __init__(self, mark, message: str) -> None:  # noqa: ANN001
        super().__init__(message)
        self.mark, self.message = mark, message


class _Budget:
    def __init__(self, file: str) -> None:
        self.file, self.left = file, MAX_VALUES

    def spend(self, node: yaml.Node) -> None:
        self.left -= 1
        if self.left < 0:
            raise YamlError(_pos(self.file, node), f"the document expands to more than {MAX_VALUES} values "
                                                   "(aliases repeated inside aliases?)")


def _convert(file: str, node: yaml.Node, budget: _Budget | None = None) -> Any:
    budget = budget or _Budget(file)
    budget.spend(node)
    if isinstance(node, yaml.MappingNode):
        out = PosDict()
        out.pos, out.key_pos, out.value_pos = _pos(file, node), {}, {}
        for key_node, value_node in node.value:
            key = _convert(file, key_node, budget)
            if not isinstance(key, (str, int, float, bool)):
                raise YamlError(_pos(file, key_node), "a mapping key must be a plain scalar")
            key = str(key)
            if key in out:
                raise YamlError(_pos(file, key_node), f"key '{key}' appears twice in this mapping")
            out[key] = _convert(file, value_node, budget)
            out.key_pos[key] = _pos(file, key_node)
            out.value_pos[key] = _pos(file, value_node)
        return out
    if isinstance(node, yaml.SequenceNode):
        seq = PosList(_convert(file, item, budget) for item in node.value)
        seq.pos, seq.item_pos = _pos(file, node), [_pos(file, item) for item in node.value]
        return seq
    # Scalars: the safe constructor resolves ints (0x.. too), bools, floats and nulls.
    try:
        return yaml.SafeLoader("").construct_object(node, deep=True)
    except ValueError as exc:  # a date-shaped scalar that is no date (9002-00-00: month 0), or the like
        raise YamlError(_pos(file, node), f"'{node.value}' reads as a {node.tag.rsplit(':', 1)[-1]} but is not a "
                        f"valid one ({exc}); quote it if it is text") from None


def load_yaml(path: str | Path, text: str | None = None) -> Any:
    """Load one YAML document with positions. Raises YamlError for syntax errors."""
    file = str(path)
    too_big = f"the file is larger than {MAX_DOCUMENT_BYTES // 1024} KiB; a plan, bench or profile is a few kB"
    if text is None:
        try:
            if Path(path).stat().st_size > MAX_DOCUMENT_BYTES:
                raise YamlError(Pos(file, 1, 1), too_big)
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise YamlError(Pos(file, 1, 1), f"cannot read the file: {exc.strerror or exc}") from None
        except UnicodeDecodeError as exc:
            raise YamlError(Pos(file, 1, 1), f"not UTF-8 text (byte offset {exc.start})") from None
    if len(text) > MAX_DOCUMENT_BYTES:
        raise YamlError(Pos(file, 1, 1), too_big)
    loader = None
    try:
        loader = _BoundedLoader(text)  # its reader refuses control characters here already
        node = loader.get_single_node()
        return None if node is None else _convert(file, node)
    except _Bounded as exc:
        raise YamlError(Pos(file, exc.mark.line + 1, exc.mark.column + 1), exc.message) from None
    except RecursionError:
        raise YamlError(Pos(file, 1, 1), "nested too deeply (hundreds of levels of [ or {)") from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        pos = Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)
        raise YamlError(pos, f"YAML syntax: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise YamlError(Pos(file, 1, 1), f"YAML: {exc}") from None
    finally:
        if loader is not None:
            loader.dispose()
