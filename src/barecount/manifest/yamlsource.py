"""Safe YAML loading that remembers the line of every key and item."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

try:  # libyaml's composer is several times faster; the pure one gives the same nodes
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

Path_ = tuple[str | int, ...]
_CONSTRUCTOR = yaml.constructor.SafeConstructor()


class YamlProblem(Exception):
    """A file that is not valid YAML, or uses YAML we refuse (tags, duplicate keys)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass
class Document:
    """One YAML document of a file: its data and the line (1-based) of each path in it."""

    file: Path
    index: int
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, path: Path_) -> int:
        """Line of the deepest known prefix of ``path``: a missing key points at its parent."""
        for end in range(len(path), -1, -1):
            line = self.lines.get(tuple(path[:end]))
            if line is not None:
                return line
        return 1


def read_documents(file: Path) -> Iterator[Document]:
    """Yield the non-empty documents of a YAML file with their line maps."""
    text = file.read_text(encoding="utf-8")
    try:
        nodes = list(yaml.compose_all(text, Loader=_Loader))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, f"not valid YAML: {exc.problem or exc}") from None
    except yaml.YAMLError as exc:
        raise YamlProblem(1, f"not valid YAML: {exc}") from None
    for index, node in enumerate(nodes):
        if node is None:
            continue
        lines: dict[Path_, int] = {}
        data = _build(node, (), lines)
        if data is None:
            continue
        yield Document(file=file, index=index, data=data, lines=lines)


def _build(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> Any:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        _CONSTRUCTOR.flatten_mapping(node)  # resolves '<<' merge keys like safe_load does
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag.endswith(":bool"):
                # YAML 1.1 reads keys such as 'on' and 'yes' as booleans; a manifest means the word
                key: Any = key_node.value
            else:
                key = _build(key_node, (*path, "<key>"), {})
            if not isinstance(key, str | int | float | bool) and key is not None:
                raise YamlProblem(key_node.start_mark.line + 1, "mapping keys must be scalars")
            if key in result:
                raise YamlProblem(
                    key_node.start_mark.line + 1,
                    f"duplicate key {key!r} (first on line {lines[(*path, key)]}); keep one",
                )
            lines[(*path, key)] = key_node.start_mark.line + 1
            result[key] = _build(value_node, (*path, key), lines)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    construct = _CONSTRUCTOR.yaml_constructors.get(node.tag)
    if construct is None:
        raise YamlProblem(
            node.start_mark.line + 1, f"YAML tag {node.tag!r} is not allowed; use plain values"
        )
    return construct(_CONSTRUCTOR, node)
