"""The text of a PDF's page as pypdf extracts it, its content stream read faster.

pypdf reads a page's content stream a few bytes at a time into its operations
(``ContentStream.operations``): about two thirds of the time it takes to
extract the text of the paper's PDF. :func:`page_text` reads the operations
with one regular expression instead, into the objects pypdf makes of them
(with its own constructors), and hands them to pypdf's own extraction, which
then gives the same text.

Only a stream made entirely of what the expression knows is read so:
numbers, names, literal strings (escapes that pypdf reads one way only),
hexadecimal strings, arrays of those, flat dictionaries (marked content,
read by pypdf itself) and operators. Anything else (a comment, an inline
image, a parenthesis nested in a string, a name with ``#``, a control byte,
an ``R`` that pypdf may read as a reference) and pypdf reads the stream
itself, as it does with a version of pypdf this reading was not checked
against (:data:`CHECKED_WITH`).
"""

from __future__ import annotations

import re
from typing import Any

#: The pypdf versions (prefixes) whose reading of content streams this one was checked against.
CHECKED_WITH = ("7.1.",)

#: Printable ASCII but PDF's delimiters: what names and operators are made of, here.
_REGULAR = rb"[!-$&-'*-.0-;=?-Z\\^-z|~]"
_WHITESPACE = b"\t\n\x0c\r "
#: What each token of a content stream may be (no part can be read two ways: atomic groups,
#: so that a string or dictionary that is not one is given up at once, whatever it holds).
_KIND_PATTERNS = (
    rb"(?P<num>[+\-.0-9][+,\-.0-9]*)",
    rb"(?P<name>/(?:(?!\#)" + _REGULAR + rb")*)",
    rb"(?P<str>\((?>(?:[^()\\]|\\[0-7]{1,3}|\\[nrtbf()/\\ %<>\[\]\#_&$])*)\))",
    rb"(?P<dict><<(?>(?:[^<>()\[\]{}%]|<[0-9A-Fa-f]*>|\((?>(?:[^()\\]|\\[^\n\r])*)\)"
    rb"|\[[^\[\]()<>{}%]*\])*)>>)",
    rb"(?P<hex><[0-9A-Fa-f]*>)",
    rb"(?P<open>\[)",
    rb"(?P<close>\])",
    rb"(?P<op>[A-Za-z'\"]" + _REGULAR + rb"*)",
    rb"(?P<nested>\()",  # a string holding parentheses: read by _string_end
)
#: One token of a content stream, or a run of whitespace (in a dictionary).
_TOKEN = re.compile(b"|".join((rb"(?P<ws>[\t\n\x0c\r ]+)", *_KIND_PATTERNS)))
#: One token of a content stream, with the whitespace before it.
_SPACED = re.compile(rb"[\t\n\x0c\r ]*(?:" + b"|".join(_KIND_PATTERNS) + rb")")
_KINDS = {i: kind for kind, i in _SPACED.groupindex.items()}
_OP, _OPEN, _CLOSE, _DICT, _NESTED = (
    _SPACED.groupindex[kind] for kind in ("op", "open", "close", "dict", "nested")
)
#: A piece of a literal string: bytes, an escape, or a parenthesis (counted).
_PIECE = re.compile(rb"[^()\\]+|\\[0-7]{1,3}|\\[nrtbf()/\\ %<>\[\]\#_&$]|[()]")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)


class _Unread(Exception):
    """The stream holds what this reading leaves to pypdf."""


def _escaped_table() -> dict[bytes, bytes]:
    """Each escape a literal string may hold here, and the byte pypdf reads it as."""
    table = {b"\\" + bytes([c]): bytes([c]) for c in b"()/\\ %<>[]#_&$"}
    table.update({b"\\n": b"\n", b"\\r": b"\r", b"\\t": b"\t", b"\\b": b"\b", b"\\f": b"\x0c"})
    for n in range(256):  # octal: one, two or three digits (above 255 pypdf reads otherwise)
        for width in (1, 2, 3):
            digits = f"{n:0{width}o}"
            if len(digits) == width:
                table[b"\\" + digits.encode()] = bytes([n])
    return table


_TABLE = _escaped_table()
#: An escape :func:`codecs.escape_decode` reads otherwise than pypdf, or may.
_NOT_PLAIN = re.compile(rb"\\(?:[^0-7nrtbf\\]|[4-7][0-7][0-7])")


def _unescape(m: re.Match[bytes]) -> bytes:
    try:
        return _TABLE[m.group()]
    except KeyError:
        raise _Unread from None


def _string(body: bytes) -> bytes:
    """The bytes of a literal string's body, as pypdf reads them."""
    if b"\\" not in body:
        return body
    if _NOT_PLAIN.search(body) is None:  # octal (to 255), n r t b f and backslash: as Python's
        import codecs

        return bytes(codecs.escape_decode(body)[0])
    return _ESCAPE.sub(_unescape, body)


class _Reader:
    """Makes pypdf's objects of the tokens of one content stream (its own constructors)."""

    def __init__(self) -> None:
        from pypdf._configuration import get_configuration
        from pypdf.generic import (
            ArrayObject,
            ByteStringObject,
            DictionaryObject,
            FloatObject,
            NameObject,
            NumberObject,
        )

        self.array, self.bytes, self.dictionary = ArrayObject, ByteStringObject, DictionaryObject
        self.float, self.number, self.name = FloatObject, NumberObject, NameObject
        config = get_configuration()
        self.budget = config.stream_parsing_work_maximum_count
        self.most = min(config.array_maximum_element_count, config.dictionary_maximum_element_count)
        self.names: dict[bytes, Any] = {}
        self.made_of: dict[bytes, Any] = {}
        self.operators: dict[bytes, bool] = {}

    def made(self, k: int, raw: bytes) -> Any:
        """The object a token of kind ``k`` (its group in :data:`_SPACED`) is.

        A number, name or string written again is the object made of it the
        first time (they do not change); a dictionary is made anew each time.
        """
        if k == _DICT:
            return self.flat_dictionary(raw)
        value = self.made_of.get(raw)
        if value is None:
            value = self.value(_KINDS[k], raw)
            if b"," not in raw:  # pypdf warns of a number with a comma each time
                self.made_of[raw] = value
        return value

    def plain(self, raw: bytes) -> bool:
        """:func:`_plain_operator`, worked out once per operator."""
        ok = self.operators.get(raw)
        if ok is None:
            ok = self.operators[raw] = _plain_operator(raw)
        return ok

    def close(self, items: list[Any], parents: list[list[Any]]) -> list[Any]:
        """Close the innermost array (``items``): put it in its parent, which is returned."""
        if not parents or len(items) >= self.most:
            raise _Unread
        parent = parents.pop()
        parent.append(self.array(items))
        return parent

    def value(self, kind: str | None, raw: bytes) -> Any:
        """The object a token is (not an operator, an array's bracket or whitespace)."""
        if kind == "num":
            return self.float(raw) if b"." in raw else self.number(raw)
        if kind == "str":
            return self.bytes(_string(raw[1:-1]))
        if kind == "name":
            if len(raw) > 64:
                raise _Unread
            name = self.names.get(raw)
            if name is None:
                name = self.names[raw] = self.name(raw.decode())
            return name
        if kind == "hex":
            digits = raw[1:-1] + b"0"[: len(raw) % 2]
            return self.bytes(bytes.fromhex(digits.decode()))
        return self.flat_dictionary(raw)

    def flat_dictionary(self, raw: bytes) -> Any:
        """A dictionary of names, numbers, strings and flat arrays, as pypdf reads it."""
        items: list[Any] = []
        array: list[Any] | None = None
        for m in _TOKEN.finditer(raw, 2, len(raw) - 2):
            kind = m.lastgroup
            if kind == "ws":
                continue
            if kind == "open" and array is None:
                array = []
            elif kind == "close" and array is not None:
                items.append(self.array(array))
                array = None
            elif kind in ("num", "name", "str", "hex"):
                (items if array is None else array).append(self.value(kind, m.group()))
            else:
                raise _Unread
        keys = items[::2]
        if (
            len(items) % 2
            or len(keys) >= self.most
            or not all(isinstance(k, self.name) for k in keys)
            or len(set(keys)) < len(keys)
        ):
            raise _Unread
        out = self.dictionary()
        out.update(zip(keys, items[1::2], strict=True))
        return out


def operations(data: bytes) -> list[tuple[Any, bytes]] | None:
    """The operations pypdf reads in a decoded content stream (None: left to pypdf).

    As ``ContentStream(stream, pdf, "bytes").operations`` reads them (its
    strings are byte strings): ``[(operands, operator), ...]``.
    """
    reader = _Reader()
    if len(data) >= reader.budget:
        return None  # pypdf may stop reading it: its error, not this reading's
    try:
        return _read(data, reader)
    except _Unread:
        return None


def _read(data: bytes, reader: _Reader) -> list[tuple[Any, bytes]]:
    """The operations of :func:`operations`, the tokens found by one search of the stream.

    Each token (:data:`_SPACED`) must start where the last one ended.
    """
    out: list[tuple[Any, bytes]] = []
    operands: list[Any] = []
    target = operands  # where the next operand goes: the innermost array open, or operands
    parents: list[list[Any]] = []  # the lists holding each array open, innermost last
    known = reader.made_of.get
    pos = 0
    while True:
        for m in _SPACED.finditer(data, pos):
            if m.start() != pos:
                raise _Unread  # what no token is, between two
            pos = m.end()
            k = m.lastindex or 0
            if k == _OP:
                raw = m.group(k)
                if parents or not reader.plain(raw):
                    raise _Unread
                out.append((operands, raw))
                operands = target = []
            elif k == _OPEN:
                parents.append(target)
                target = []
            elif k == _CLOSE:
                target = reader.close(target, parents)
            elif k == _NESTED:
                start = m.start(k)
                pos = _string_end(data, start)
                target.append(reader.value("str", data[start:pos]))
                break  # read on from the string's end
            else:
                raw = m.group(k)
                made = known(raw)  # made already (looked up here: most are)
                target.append(reader.made(k, raw) if made is None else made)
        else:
            break
    if parents or data[pos:].strip(_WHITESPACE):
        raise _Unread
    return out  # operands with no operator after them: dropped, as pypdf drops them


def _string_end(data: bytes, start: int) -> int:
    """Where the literal string opened at ``start`` ends, its parentheses balanced (as pypdf)."""
    depth, pos = 0, start
    while True:
        m = _PIECE.match(data, pos)
        if m is None:
            raise _Unread  # an escape pypdf reads another way, or the end of the stream
        pos = m.end()
        piece = m.group()
        if piece == b"(":
            depth += 1
        elif piece == b")":
            depth -= 1
            if depth == 0:
                return pos


def _plain_operator(raw: bytes) -> bool:
    """Whether pypdf reads this operator as one (not an inline image, a stream, a reference)."""
    if raw in (b"BI", b"ID", b"EI", b"stream", b"endstream") or len(raw) > 64:
        return False
    if raw[:1] == b"R" and not raw[1:2].isalpha():  # after two numbers: a reference to pypdf
        return False
    return raw[:1] not in b"'\"" or len(raw) == 1


def page_text(page: Any) -> str:
    """``page.extract_text() or ""``, the page's content stream read by :func:`operations`."""
    _read_ahead(page)
    return page.extract_text() or ""


def _read_ahead(page: Any) -> None:
    """Put the page's content stream, its operations read, where pypdf's extraction takes it."""
    import pypdf
    from pypdf.generic import ContentStream, NameObject

    if not pypdf.__version__.startswith(CHECKED_WITH) or "/Contents" not in page:
        return
    try:
        stream = ContentStream(page["/Contents"].get_object(), page.pdf, "bytes")
    except Exception:  # left to pypdf, which reports it
        return
    found = operations(stream.get_data())
    if found:
        stream._operations = found  # with its data kept: both, as ContentStream allows
        page[NameObject("/Contents")] = stream
