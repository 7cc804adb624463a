"""Byte- and file-level mutations of the manifest fuzzer: garbage, control characters,
encodings, empty files, symbolic links, pipes and extra YAML documents (see fuzzgen.py)."""

from __future__ import annotations

import codecs
import random
import re

from fuzzgen import Base, Case, line_in, quoted, replace_value

from barecount.manifest.limits import MAX_DOCUMENTS

# YAML's printable characters (the spec's c-printable), and its line breaks.
REFUSED = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
BOMS = (codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
NAME_PATH = {
    "pipelines": ("metadata", "name"),
    "teams": ("metadata", "name"),
    "contracts": ("name",),
}


def make(index, kind, base: Base, texts, invalid, where, note, links=None, fifos=None) -> Case:
    files = {rel: t if isinstance(t, bytes) else t.encode("utf-8") for rel, t in texts.items()}
    return Case(index, kind, files, dict(links or {}), list(fifos or []), invalid, set(where), note)


def first_bad_line(data: bytes) -> int | None:
    """The line of the first byte or character a YAML reader must refuse, None if none is.
    A file starting with a byte order mark is read in another encoding: None."""
    if data.startswith(BOMS):
        return None
    try:
        text, bad_at = data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        text = data[: exc.start].decode("utf-8")
        bad_at = len(text)
    match = REFUSED.search(text)
    position = match.start() if match else bad_at
    if position is None:
        return None
    return 1 + len(BREAK.findall(text[:position]))


def m_garbage(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    data = base.texts[rel].encode("utf-8")
    junk = rng.randbytes(rng.choice([1, 8, 64, 4096]))
    how = rng.choice(["insert", "replace", "append"])
    if how == "insert":
        at = rng.randrange(len(data) + 1)
        data = data[:at] + junk + data[at:]
    elif how == "replace":
        data = junk
    else:
        data += junk
    line = first_bad_line(data)
    texts = dict(base.texts)
    texts[rel] = data
    where = {(rel, line)} if line else set()
    return make(index, "garbage", base, texts, True if line else None, where, f"{how} {len(junk)}")


CONTROLS = [
    chr(c) for c in [*range(0, 9), 11, 12, *range(14, 32), 127, *range(128, 133), *range(134, 160)]
]


def m_control(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    text = base.texts[rel]
    at = rng.randrange(len(text) + 1)
    char = rng.choice([*CONTROLS, "\ufffe", "\uffff"])
    texts = dict(base.texts)
    texts[rel] = text[:at] + char + text[at:]
    line = text.count("\n", 0, at) + 1
    return make(index, "control", base, texts, True, {(rel, line)}, f"U+{ord(char):04X}")


def m_encoding(rng: random.Random, base: Base, index: int) -> Case | None:
    how = rng.choice(
        [
            "latin-1",
            "cp1252",
            "utf-16-le",
            "utf-16-be",
            "utf-32-le",
            "utf-16",
            "utf-32",
            "utf-8-sig",
            "crlf",
            "cr",
        ]
    )
    texts = dict(base.texts)
    if how in ("latin-1", "cp1252"):
        slot = rng.choice(
            [s for s in base.slots if s.type == "text" and s.value.tag.endswith(":str")]
        )
        word = "Café" if how == "latin-1" else "5 €"
        texts[slot.rel] = replace_value(texts[slot.rel], slot, quoted(word)).encode(how)
        return make(index, "encoding", base, texts, True, {(slot.rel, slot.line)}, how)
    rel = rng.choice(sorted(base.texts))
    text = base.texts[rel]
    if how in ("crlf", "cr"):
        texts[rel] = text.replace("\n", "\r\n" if how == "crlf" else "\r")
        return make(index, "encoding", base, texts, False, set(), how)
    texts[rel] = text.encode(how)
    with_bom = how in ("utf-16", "utf-32", "utf-8-sig")
    where = set() if with_bom else {(rel, 1)}
    return make(index, "encoding", base, texts, not with_bom, where, how)


EMPTY = [b"", b"\n", b"   \n\n", b"# only a comment\n", b"---\n", b"~\n", b"null\n", b"---\n...\n"]


def m_empty(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    texts = dict(base.texts)
    texts[rel] = rng.choice(EMPTY)
    return make(index, "empty", base, texts, True, {(rel, 1)}, repr(texts[rel]))


def m_link(rng: random.Random, base: Base, index: int) -> Case | None:
    how = rng.choice(["outside", "broken", "loop", "devzero", "dir", "dirloop", "dup", "fifo"])
    texts: dict = dict(base.texts)
    links: dict[str, str] = {}
    fifos: list[str] = []
    invalid, where = True, set()
    if how == "outside":
        rel = rng.choice(sorted(base.texts))
        texts[f"../outside/{rel}"] = texts.pop(rel)
        links[rel] = "../" * rel.count("/") + f"../outside/{rel}"
        invalid = False
    elif how in ("broken", "loop", "devzero"):
        name = f"pipelines/{how}.yaml"
        links[name] = {"broken": "missing.yaml", "loop": f"{how}.yaml", "devzero": "/dev/zero"}[how]
        where = {(name, 1)}
    elif how in ("dir", "dirloop"):
        links["pipelines/dir.yaml" if how == "dir" else "pipelines/up"] = ".."
        invalid = False
    elif how == "dup":
        links["pipelines/aaa.yaml"] = "finance-kpi.yaml"
        line = line_in(base.texts["pipelines/finance-kpi.yaml"], ("metadata", "name"))
        where = {("pipelines/aaa.yaml", line), ("pipelines/finance-kpi.yaml", line)}
    else:
        fifos.append("pipelines/pipe.yaml")
        where = {("pipelines/pipe.yaml", 1)}
    return make(index, f"link_{how}", base, texts, invalid, where, how, links, fifos)


def m_documents(rng: random.Random, base: Base, index: int) -> Case | None:
    rel = rng.choice(sorted(base.texts))
    text = base.texts[rel]
    lines = text.count("\n")
    how = rng.choice(["copy", "mappings", "empties"])
    texts = dict(base.texts)
    if how == "copy":
        texts[rel] = text + "---\n" + text
        where = {(rel, line_in(texts[rel], NAME_PATH[rel.split("/")[0]], doc=1))}
        return make(index, "documents", base, texts, True, where, how)
    count = rng.choice([3, MAX_DOCUMENTS - 1, MAX_DOCUMENTS, MAX_DOCUMENTS + 50])
    over = 1 + count > MAX_DOCUMENTS
    if how == "mappings":
        texts[rel] = text + "---\n{}\n" * count
        # the document over budget starts at its '---'; otherwise each '{}' has no kind
        where = (
            {(rel, lines + 1 + 2 * (MAX_DOCUMENTS - 1))}
            if over
            else {(rel, lines + 2 + 2 * j) for j in range(count)}
        )
        return make(index, "documents", base, texts, True, where, f"{how} {count}")
    texts[rel] = text + "---\n" * count
    where = {(rel, lines + MAX_DOCUMENTS)} if over else set()
    return make(index, "documents", base, texts, over, where, f"{how} {count}")


BYTE_MUTATIONS = [
    (5, m_garbage),
    (4, m_control),
    (5, m_encoding),
    (3, m_empty),
    (4, m_link),
    (3, m_documents),
]
