"""YAML events to node trees, without recursion and within the reading budgets.

libyaml parses; this module composes its event stream into ``yaml.Node`` trees the way
PyYAML's composer does, but with an explicit stack and with every budget of
:mod:`barecount.manifest.limits` checked as events arrive: nesting depth (an alias counts as
deep as what it expands to), documents, alias uses, and the values and characters a file
holds once aliases are expanded. An alias bomb is refused at the alias that crosses the
budget, long before anything is expanded. Aliases to an anchor that is still open
(recursive structures) and anchors defined twice are refused too.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import yaml
from yaml import events as ev
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from barecount.manifest.limits import (
    MAX_ALIASES,
    MAX_CHARS,
    MAX_DEPTH,
    MAX_DOCUMENTS,
    MAX_VALUES,
    YamlProblem,
)

try:  # libyaml's parser is several times faster; the pure one gives the same events
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_RESOLVER = yaml.resolver.Resolver()
_STR = "tag:yaml.org,2002:str"
_AS_TEXT = {"tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:value"}
_SCALAR_TAGS: dict[tuple[str, object], str] = {}


@dataclass
class _Open:
    """A mapping or sequence whose end event has not arrived yet."""

    node: MappingNode | SequenceNode
    anchor: str | None
    size: int = 1  # values inside, itself included, aliases expanded
    height: int = 1  # collections on the longest path down, itself included
    chars: int = 0
    key: Node | None = None  # a mapping's key waiting for its value


@dataclass
class _Budget:
    documents: int = 0
    aliases: int = 0
    values: int = 0
    chars: int = 0
    anchors: dict[str, tuple[Node, int, int, int]] = field(default_factory=dict)


def compose_documents(text: str) -> Iterator[Node | None]:
    """Each document's root node (None for an empty document), in order.

    Raises:
        YamlProblem: a budget is exceeded or an alias or anchor is refused.
        yaml.MarkedYAMLError: libyaml found the text is not YAML.
    """
    budget = _Budget()
    stack: list[_Open] = []
    root: list[tuple[Node, int, int, int]] = []
    for event in _events(text):
        kind = type(event)
        if kind is ev.ScalarEvent:  # most events: kept inline
            value = event.value
            tag = event.tag
            if tag is None or tag == "!":
                tag = _scalar_tag(value, event.implicit)
            node = ScalarNode(tag, value, event.start_mark, event.end_mark, style=event.style)
            budget.values += 1
            budget.chars += len(value)
            if budget.values > MAX_VALUES or budget.chars > MAX_CHARS:
                _count(budget, 0, 0, event)  # raises the budget's problem
            made = (node, 1, 0, len(value))
            _attach(stack, root, made if event.anchor is None else _anchor(made, event, budget))
        elif kind is ev.MappingStartEvent or kind is ev.SequenceStartEvent:
            stack.append(_open(event, len(stack), budget))
        elif kind is ev.MappingEndEvent or kind is ev.SequenceEndEvent:
            done = stack.pop()
            done.node.end_mark = event.end_mark
            made = (done.node, done.size, done.height, done.chars)
            _attach(stack, root, _anchor(made, done, budget))
        elif kind is ev.AliasEvent:
            _attach(stack, root, _alias(event, stack, budget))
        elif kind is ev.DocumentStartEvent:
            _start_document(event, budget)
            root.clear()
        elif kind is ev.DocumentEndEvent:
            yield root[0][0] if root else None


def _events(text: str) -> Iterator[ev.Event]:
    """libyaml's events, pulled directly (yaml.parse's generator costs twice as much)."""
    loader = _Loader(text)
    try:
        while True:
            event = loader.get_event()
            if event is None or type(event) is ev.StreamEndEvent:
                return
            yield event
    finally:
        loader.dispose()


def _scalar_tag(value: str, implicit: object) -> str:
    key = (value, implicit)
    tag = _SCALAR_TAGS.get(key)
    if tag is None:
        tag = _tag(ScalarNode, None, value, implicit)
        if len(value) <= 32 and len(_SCALAR_TAGS) < 4096:  # words repeat; long text does not
            _SCALAR_TAGS[key] = tag
    return tag


def _start_document(event: ev.DocumentStartEvent, budget: _Budget) -> None:
    budget.documents += 1
    budget.anchors.clear()  # anchors do not reach across documents
    if budget.documents > MAX_DOCUMENTS:
        raise YamlProblem(
            event.start_mark.line + 1,
            f"more than {MAX_DOCUMENTS} YAML documents in one file (the documents budget); "
            "split the file",
        )


def _open(event: ev.CollectionStartEvent, depth: int, budget: _Budget) -> _Open:
    if depth + 1 > MAX_DEPTH:
        raise YamlProblem(
            event.start_mark.line + 1,
            f"nested deeper than {MAX_DEPTH} levels (the nesting budget) at column "
            f"{event.start_mark.column + 1}; flatten the structure",
        )
    _count(budget, 1, 0, event)
    kind = MappingNode if isinstance(event, ev.MappingStartEvent) else SequenceNode
    tag = _tag(kind, event.tag, None, event.implicit)
    node = kind(tag, [], event.start_mark, None, flow_style=event.flow_style)
    return _Open(node, event.anchor)


def _alias(event: ev.AliasEvent, stack: list[_Open], budget: _Budget) -> tuple:
    line = event.start_mark.line + 1
    name = event.anchor
    if name not in budget.anchors:
        if any(frame.anchor == name for frame in stack):
            raise YamlProblem(
                line,
                f"alias *{name} refers to the anchor &{name} that contains it (a recursive "
                "structure); manifests cannot be recursive, so write the value out",
            )
        raise YamlProblem(line, f"alias *{name} has no anchor &{name} before it; define it first")
    budget.aliases += 1
    if budget.aliases > MAX_ALIASES:
        raise YamlProblem(
            line,
            f"more than {MAX_ALIASES} aliases in one file (the alias budget); "
            "write the values out instead of repeating *aliases",
        )
    made = budget.anchors[name]
    if len(stack) + made[2] > MAX_DEPTH:
        raise YamlProblem(
            line,
            f"alias *{name} nests deeper than {MAX_DEPTH} levels once expanded (the nesting "
            "budget); flatten the structure",
        )
    _count(budget, made[1], made[3], event, alias=True)
    return made


def _count(budget: _Budget, values: int, chars: int, event: ev.Event, alias: bool = False) -> None:
    budget.values += values
    budget.chars += chars
    if budget.values <= MAX_VALUES and budget.chars <= MAX_CHARS:
        return
    what = (
        f"more than {MAX_VALUES} values"
        if budget.values > MAX_VALUES
        else f"more than {MAX_CHARS} characters of text"
    )
    if alias or budget.aliases:
        raise YamlProblem(
            event.start_mark.line + 1,
            f"aliases expand this file to {what} (the alias expansion budget); "
            "use fewer *aliases or write the values out",
        )
    raise YamlProblem(
        event.start_mark.line + 1, f"{what} in one file (the size budget); split the file"
    )


def _anchor(made: tuple, source: ev.NodeEvent | _Open, budget: _Budget) -> tuple:
    name = source.anchor
    if name is not None:
        if name in budget.anchors:
            first = budget.anchors[name][0].start_mark.line + 1
            raise YamlProblem(
                made[0].start_mark.line + 1,
                f"anchor &{name} is defined twice (first on line {first}); rename one",
            )
        budget.anchors[name] = made
    return made


def _attach(stack: list[_Open], root: list, made: tuple) -> None:
    node, size, height, chars = made
    if not stack:
        root.append(made)
        return
    parent = stack[-1]
    parent.size += size
    parent.height = max(parent.height, height + 1)
    parent.chars += chars
    if isinstance(parent.node, SequenceNode):
        parent.node.value.append(node)
    elif parent.key is None:
        parent.key = node
    else:
        parent.node.value.append((parent.key, node))
        parent.key = None


def _tag(kind: type, tag: str | None, value: str | None, implicit: object) -> str:
    if tag is not None and tag != "!":
        return tag  # written out: the builder allows only a few
    # no tag, or the non-specific one: resolve as PyYAML does, except that dates and times
    # and the YAML 1.1 '=' stay the text written (ODCS and our models hold dates as text)
    resolved = _RESOLVER.resolve(kind, value, implicit)
    return _STR if resolved in _AS_TEXT else resolved
