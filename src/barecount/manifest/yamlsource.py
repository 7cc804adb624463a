"""Safe YAML loading that remembers the line of every key and item.

A file goes through three steps, each of which reports what it refuses as a
:class:`YamlProblem` at a line, with the fix: :func:`read_text` (bytes to text),
:func:`compose_documents` (YAML syntax and the reading budgets) and :func:`_build` (values:
tags, merge keys, duplicate keys). Nothing past this module sees YAML errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, SequenceNode

from barecount.manifest.compose import compose_documents
from barecount.manifest.limits import MAX_DEPTH, YamlProblem, shown
from barecount.manifest.textsource import read_text

__all__ = ["Document", "Path_", "YamlProblem", "read_documents"]

Path_ = tuple[str | int, ...]
_CONSTRUCTOR = yaml.constructor.SafeConstructor()
_RESOLVER = yaml.resolver.Resolver()
_CORE = "tag:yaml.org,2002:"
_MERGE = f"{_CORE}merge"
_SCALARS = {f"{_CORE}{name}" for name in ("str", "int", "float", "bool", "null")}
_EMPTY = (
    "no manifest in this file (it is empty or holds only comments); "
    "add a manifest or delete the file"
)


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
    """Yield the non-empty documents of a YAML file with their line maps.

    Raises:
        YamlProblem: the file cannot be read as YAML, or holds no manifest at all.
    """
    text = read_text(file)
    try:
        nodes = list(compose_documents(text))
    except yaml.MarkedYAMLError as exc:
        raise _syntax_problem(exc, text) from None
    except yaml.YAMLError as exc:  # pragma: no cover - libyaml marks every error it raises
        raise YamlProblem(1, f"not valid YAML: {exc}; check the file") from None
    documents = []
    for index, node in enumerate(nodes):
        if node is None:
            continue
        lines: dict[Path_, int] = {}
        data = _build(node, (), lines)
        if data is not None:
            documents.append(Document(file=file, index=index, data=data, lines=lines))
    if not documents:
        raise YamlProblem(1, _EMPTY)
    yield from documents


def _syntax_problem(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    mark = exc.problem_mark or exc.context_mark
    if mark is None:  # pragma: no cover - libyaml marks every error it raises
        return YamlProblem(1, f"not valid YAML: {exc}; check the file")
    line, column = mark.line + 1, mark.column + 1
    problem = exc.problem or exc.context or "not YAML"
    if "nesting depth" in problem:
        return YamlProblem(
            line,
            f"nested deeper than {MAX_DEPTH} levels (the nesting budget) at column {column}; "
            "flatten the structure",
        )
    rows = text.splitlines()
    row = rows[mark.line] if mark.line < len(rows) else ""
    if row[mark.column : mark.column + 1] == "\t" or "tab" in problem:
        return YamlProblem(
            line,
            f"not valid YAML: a tab at column {column} where YAML needs spaces; "
            "indent with spaces, not tabs",
        )
    what = f"{problem} at column {column}"
    if exc.context and exc.problem and exc.context_mark is not None:
        what += f" ({exc.context} on line {exc.context_mark.line + 1})"
    return YamlProblem(line, f"not valid YAML: {what}; {_syntax_fix(problem)}")


def _syntax_fix(problem: str) -> str:
    if "mapping values are not allowed" in problem:
        return "quote the value if it holds ': ', or fix the indentation"
    if "end of stream" in problem or "expected ','" in problem:
        return "close the quote or bracket, or quote a value that holds ',' '[' ']' '{' '}'"
    if "expected" in problem:
        return "check the indentation of this line against the lines above"
    if "tag" in problem:
        return "remove the tag and write a plain value"
    if "alias" in problem or "anchor" in problem:
        return "write anchors as &name and aliases as *name, with letters, digits, '-' or '_'"
    return "check the quoting and indentation on this line"


def _build(node: Node, path: Path_, lines: dict[Path_, int]) -> Any:
    """Data of ``node``. Recursive: the composer keeps nesting within MAX_DEPTH."""
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, MappingNode):
        _expect_tag(node, "map")
        return _build_mapping(node, path, lines)
    if isinstance(node, SequenceNode):
        _expect_tag(node, "seq")
        return [_build(item, (*path, i), lines) for i, item in enumerate(node.value)]
    return _scalar(node)


def _build_mapping(node: MappingNode, path: Path_, lines: dict[Path_, int]) -> dict[Any, Any]:
    result: dict[Any, Any] = {}
    for key, key_node, value_node in _entries(node):
        lines[(*path, key)] = key_node.start_mark.line + 1
        result[key] = _build(value_node, (*path, key), lines)
    return result


def _entries(node: MappingNode) -> list[tuple[Any, Node, Node]]:
    """(key, key node, value node) with '<<' merge keys resolved as PyYAML does: the
    mapping's own keys win over merged ones, and an earlier merged mapping over a later one.
    Recursive through merges of merges, which the alias budget keeps few.
    """
    own: dict[Any, tuple[Node, Node]] = {}
    merged: dict[Any, tuple[Node, Node]] = {}
    for key_node, value_node in node.value:
        if key_node.tag == _MERGE:
            for source in _merge_sources(value_node):
                for key, k, v in _entries(source):
                    merged.setdefault(key, (k, v))
            continue
        key = _key(key_node)
        if key in own:
            first = own[key][0].start_mark.line + 1
            raise YamlProblem(
                key_node.start_mark.line + 1,
                f"duplicate key {shown(key)} (first on line {first}); keep one",
            )
        own[key] = (key_node, value_node)
    return [(key, k, v) for key, (k, v) in {**merged, **own}.items()]


def _merge_sources(node: Node) -> list[MappingNode]:
    if isinstance(node, MappingNode):
        return [node]
    if isinstance(node, SequenceNode) and all(isinstance(n, MappingNode) for n in node.value):
        return node.value
    raise YamlProblem(
        node.start_mark.line + 1,
        "merge key '<<' takes a mapping or a list of mappings (such as *defaults); "
        "fix or remove the merge key",
    )


def _key(node: Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        raise YamlProblem(
            node.start_mark.line + 1, "mapping keys must be plain words; write the key as text"
        )
    if node.tag == f"{_CORE}bool":
        # YAML 1.1 reads keys such as 'on' and 'yes' as booleans; a manifest means the word
        return node.value
    return _scalar(node)


def _scalar(node: Node) -> Any:
    tag = node.tag
    if tag not in _SCALARS:
        raise YamlProblem(
            node.start_mark.line + 1,
            f"YAML tag {_short(tag)!r} is not allowed; remove it and write a plain value",
        )
    try:
        return _CONSTRUCTOR.yaml_constructors[tag](_CONSTRUCTOR, node)
    except (ValueError, TypeError, KeyError, OverflowError, yaml.YAMLError) as exc:
        explicit = not _plain_resolves_to(node)
        fix = f"fix the value or remove the {_short(tag)} tag" if explicit else "quote it"
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        raise YamlProblem(
            node.start_mark.line + 1,
            f"{shown(node.value)} is not a valid {_short(tag)} ({reason}); {fix}",
        ) from None


def _plain_resolves_to(node: Node) -> bool:
    """Whether YAML picked ``node``'s tag from its text (no tag was written)."""
    resolved = _RESOLVER.resolve(yaml.ScalarNode, node.value, (True, False))
    return resolved == node.tag


def _expect_tag(node: Node, kind: str) -> None:
    if node.tag != f"{_CORE}{kind}":
        raise YamlProblem(
            node.start_mark.line + 1,
            f"YAML tag {_short(node.tag)!r} is not allowed; remove it and write a plain value",
        )


def _short(tag: str) -> str:
    return "!!" + tag[len(_CORE) :] if tag.startswith(_CORE) else tag
