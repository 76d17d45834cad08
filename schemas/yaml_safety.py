"""Reading untrusted YAML: size limit, UTF-8, no alias bombs, no duplicate keys, safe types only.

An integer too long for Python to convert (more than 4,300 digits) becomes a :class:`LongNumber`, not an error: the
file is still read and only the brief (or schedule) holding it is refused, by whoever validates that value.
"""

from __future__ import annotations

from collections.abc import Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cues.schemas.errors import echo

MAX_FILE_BYTES = 1024 * 1024  # a brief or schedule file above 1 MiB is refused unread
MAX_EXPANDED_NODES = 100_000  # values after expanding aliases; a "billion laughs" file has 10^9
MAX_INT_BITS = 14_000  # about 4,200 decimal digits: Python's int() and str() refuse more than 4,300


class LongNumber:
    """A YAML integer of ``digits`` digits, too long to be any value a brief or schedule takes (Python will not even
    convert it). Validation refuses it with a message that says so, instead of the whole file failing."""

    def __init__(self, digits: int):
        self.digits = digits

    def __repr__(self) -> str:
        return f"<a number of {self.digits:,} digits>"


class _Loader(yaml.SafeLoader):
    def construct_yaml_int(self, node: ScalarNode) -> int | LongNumber:
        digits = sum(ch.isalnum() for ch in node.value)
        try:
            value = super().construct_yaml_int(node)
        except ValueError:  # "Exceeds the limit (4300 digits) for integer string conversion"
            return LongNumber(digits)
        return LongNumber(digits) if value.bit_length() > MAX_INT_BITS else value


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)


class YamlInputError(ValueError):
    """The bytes are not acceptable YAML; the message says where and why."""


def load_documents(data: bytes) -> Iterator[object]:
    """Yield each YAML document of ``data`` as plain Python values (dict, list, str, int, float, bool, None, date,
    bytes for ``!!binary``, and :class:`LongNumber` for an integer too long to convert).

    Raises :class:`YamlInputError` for files over 1 MiB, invalid UTF-8, malformed YAML, duplicate mapping keys,
    aliases that expand past :data:`MAX_EXPANDED_NODES` values and values Python cannot hold (the date 2026-13-45,
    the escape "\\U99999999"). An integer too long to convert is a :class:`LongNumber`, which validation refuses
    for its brief alone.
    """
    if len(data) > MAX_FILE_BYTES:
        raise YamlInputError(f"file is {len(data):,} bytes; at most {MAX_FILE_BYTES:,} bytes (1 MiB) are accepted")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise YamlInputError(f"not UTF-8 text (byte {err.start}: {data[err.start : err.start + 1]!r})") from None
    loader = None
    try:
        loader = _Loader(text)  # the reader already rejects unprintable characters here
        while loader.check_node():
            node = loader.get_node()
            _check_node(node)
            yield loader.construct_document(node)
    except yaml.MarkedYAMLError as err:
        raise YamlInputError(f"malformed YAML{_where(err)}: {err.problem or err.context}") from None
    except yaml.reader.ReaderError as err:
        raise YamlInputError(f"not YAML text: character #x{err.character:04x} at position {err.position}") from None
    except yaml.YAMLError as err:
        raise YamlInputError(f"malformed YAML: {err}") from None
    except RecursionError:
        raise YamlInputError("nesting too deep") from None
    except YamlInputError:
        raise
    except (ValueError, OverflowError) as err:  # a value Python cannot hold: the date 2026-13-45, "\U99999999"
        raise YamlInputError(f"a value cannot be read: {err}") from None
    finally:
        if loader is not None:
            loader.dispose()


def _where(err: yaml.MarkedYAMLError) -> str:
    mark = err.problem_mark or err.context_mark
    return f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _check_node(root: Node) -> None:
    """Count values as if aliases were expanded (memoised, so the count itself stays cheap) and find repeated keys."""
    sizes: dict[int, int] = {}
    in_progress: set[int] = set()

    def size(node: Node) -> int:
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in in_progress:  # a recursive alias: its expansion is infinite
            raise YamlInputError(f"recursive alias at line {node.start_mark.line + 1}")
        in_progress.add(key)
        total = 1
        if isinstance(node, SequenceNode):
            total += sum(size(child) for child in node.value)
        elif isinstance(node, MappingNode):
            _check_duplicate_keys(node)
            total += sum(size(k) + size(v) for k, v in node.value)
        in_progress.discard(key)
        sizes[key] = total
        if total > MAX_EXPANDED_NODES:
            raise YamlInputError(
                f"aliases expand to more than {MAX_EXPANDED_NODES:,} values (an alias bomb?) "
                f"near line {node.start_mark.line + 1}"
            )
        return total

    size(root)


def _check_duplicate_keys(node: MappingNode) -> None:
    seen: dict[str, int] = {}
    for key_node, _ in node.value:
        if not isinstance(key_node, ScalarNode):
            continue
        line = key_node.start_mark.line + 1
        if key_node.value in seen:
            raise YamlInputError(
                f"key {echo(key_node.value)} appears twice in one mapping (lines {seen[key_node.value]} and {line})"
            )
        seen[key_node.value] = line
