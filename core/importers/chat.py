"""JSON and JSONL chat transcripts.

Accepted shapes (one conversation each):

* OpenAI: ``{"messages": [{"role": "user", "content": "..."}, ...]}``;
  ``content`` may also be a list of ``{"type": "text", "text": ...}`` parts.
* ShareGPT: ``{"conversations": [{"from": "human", "value": "..."}, ...]}``.
* a bare list of such messages.

A file holds one conversation, a list of conversations, or (JSONL) one
conversation per line. assistant/gpt → therapist, user/human → client; system
and tool messages are not turns (the first system prompt is kept in metadata).
Optional per-conversation ``title``, ``id``, ``category``, ``client_names``
and ``client_id`` fields are used when present.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from core.errors import ImportFailed
from core.importers.base import ImportOptions
from core.importers.decoding import decode_text, peek_text
from core.importers.text import category_from_text
from core.importers.turns import SpeakerRoles, assemble_turns
from core.models import Category, ParsedTranscript, Role
from core.text_safety import storable

_CHAT_ROLES = {
    "assistant": Role.THERAPIST,
    "gpt": Role.THERAPIST,
    "bot": Role.THERAPIST,
    "model": Role.THERAPIST,
    "chatgpt": Role.THERAPIST,
    "user": Role.CLIENT,
    "human": Role.CLIENT,
}
_NOT_TURNS = {"system", "developer", "tool", "function", "function_call", "observation", "ipython"}


class _Bad(Exception):
    """A structural problem inside one conversation; the caller adds where it is."""


class _NotJsonNumber(ValueError):
    """Python's json accepts NaN and Infinity; JSON does not, and "nan" is no one's words."""


def _refuse_constant(name: str) -> Any:
    raise _NotJsonNumber(f"{name} is not valid JSON")


def _finite(literal: str) -> float:
    value = float(literal)
    if math.isinf(value):  # 1e999: JSON has no infinity either
        raise _NotJsonNumber(f"{literal[:20]} is out of range")
    return value


def _loads(text: str) -> Any:
    return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)


def _json_problem(exc: BaseException) -> str:
    """One line for what json.loads raised beyond a syntax error."""
    if isinstance(exc, RecursionError):
        return "invalid JSON (nested too deeply)"
    if isinstance(exc, _NotJsonNumber):
        return f"invalid JSON ({exc})"
    if "digits" in str(exc):  # int('9' * 5000): CPython's limit on integer digits
        return "invalid JSON (a number with too many digits)"
    return f"invalid JSON ({type(exc).__name__}: {exc})"[:200]


def _text(value: Any) -> str:
    if isinstance(value, str):
        text = value
    elif value is None:
        text = ""
    elif isinstance(value, list):  # OpenAI content parts
        parts = []
        for part in value:
            if isinstance(part, str):
                parts.append(part)
            elif isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
        text = "\n".join(parts)
    elif isinstance(value, int | float | bool):
        text = str(value)
    else:
        raise _Bad(f"content must be text, found {type(value).__name__}")
    # JSON escapes can spell lone surrogates (SQLite cannot store them) and NULs.
    return storable(text)


def _is_message(item: Any) -> bool:
    return isinstance(item, dict) and ("role" in item or "from" in item)


def _conversations(doc: Any) -> list[Any]:
    """The conversations in one JSON value (each still unchecked)."""
    if isinstance(doc, list):
        if doc and all(_is_message(m) for m in doc):
            return [doc]
        return doc
    if isinstance(doc, dict):
        convs = doc.get("conversations")
        if isinstance(convs, list) and convs and not all(_is_message(m) for m in convs):
            return convs  # {"conversations": [conversation, ...]}
        return [doc]
    raise _Bad(f"expected a JSON object or list, found {type(doc).__name__}")


class ChatImporter:
    name = "chat"

    def sniff(self, path: Path, head: bytes) -> bool:
        if path.suffix.lower() in (".json", ".jsonl", ".ndjson"):
            return True
        text = peek_text(head[:4096]).lstrip("\ufeff \t\r\n")
        if text.startswith("{"):
            return True
        # "[00:01:23] THERAPIST: ..." is a text transcript, "[{" or '["' is JSON.
        return text.startswith("[") and text[1:].lstrip()[:1] in ("{", "[", "]", '"')

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        text = decode_text(path, data)
        roles = SpeakerRoles(options.speaker_map)
        found: list[tuple[str, Any]] = []  # (where, conversation)
        try:
            doc = _loads(text)
        except json.JSONDecodeError as exc:
            if exc.msg != "Extra data" and path.suffix.lower() not in (".jsonl", ".ndjson"):
                raise ImportFailed(
                    path, f"line {exc.lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
                ) from None
            found = self._jsonl(path, text)
        except (ValueError, RecursionError) as exc:
            raise ImportFailed(path, _json_problem(exc)) from None
        else:
            try:
                convs = _conversations(doc)
            except _Bad as exc:
                raise ImportFailed(path, str(exc)) from None
            found = [(f"conversation {i}", c) for i, c in enumerate(convs, start=1)]
            if len(found) == 1:
                found = [("", found[0][1])]

        out = []
        for where, conv in found:
            try:
                out.append(self._conversation(path, conv, roles, options, len(found), where))
            except _Bad as exc:
                raise ImportFailed(path, f"{where}: {exc}" if where else str(exc)) from None
        return out

    def _jsonl(self, path: Path, text: str) -> list[tuple[str, Any]]:
        found = []
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                doc = _loads(line)
            except json.JSONDecodeError as exc:
                raise ImportFailed(
                    path, f"line {lineno}, column {exc.colno}: invalid JSON ({exc.msg})"
                ) from None
            except (ValueError, RecursionError) as exc:
                raise ImportFailed(path, f"line {lineno}: {_json_problem(exc)}") from None
            try:
                convs = _conversations(doc)
            except _Bad as exc:
                raise ImportFailed(path, f"line {lineno}: {exc}") from None
            found.extend((f"line {lineno}", c) for c in convs)
        return found

    def _conversation(
        self,
        path: Path,
        conv: Any,
        roles: SpeakerRoles,
        options: ImportOptions,
        total: int,
        where: str,
    ) -> ParsedTranscript:
        if isinstance(conv, list):
            conv = {"messages": conv}
        if not isinstance(conv, dict):
            raise _Bad(f"expected a conversation object, found {type(conv).__name__}")
        messages = conv.get("messages")
        if messages is None:
            messages = conv.get("conversations")
        if not isinstance(messages, list):
            raise _Bad("no 'messages' or 'conversations' list (expected OpenAI or ShareGPT chat JSON)")
        utterances: list[tuple[Role, str, str]] = []
        unknown: list[str] = []
        system: str | None = None
        for n, message in enumerate(messages, start=1):
            if not isinstance(message, dict):
                raise _Bad(f"message {n} is not an object")
            who = message.get("role", message.get("from"))
            if not isinstance(who, str) or not who.strip():
                raise _Bad(f"message {n} has no 'role' (or 'from')")
            who = _text(who).strip()
            try:
                said = _text(message.get("content", message.get("value")))
            except _Bad as exc:
                raise _Bad(f"message {n}: {exc}") from None
            key = who.lower()
            if key in _NOT_TURNS:
                if key in ("system", "developer") and system is None and said.strip():
                    system = said
                continue
            role = _CHAT_ROLES.get(key) or roles.known(who)
            if role is None:
                role = Role.OTHER
                if who not in unknown:
                    unknown.append(who)
            utterances.append((role, who, said))

        title = conv.get("title") if isinstance(conv.get("title"), str) else None
        conv_id = conv.get("id")
        if not title:
            title = path.stem if total == 1 else f"{path.stem} {where or ''}".strip()
        metadata: dict[str, Any] = {}
        if isinstance(conv_id, str | int) and not isinstance(conv_id, bool):
            metadata["chat_id"] = _text(str(conv_id))
        if system is not None:
            metadata["system_prompt"] = system
        category = None
        if isinstance(conv.get("category"), str):
            category = category_from_text(conv["category"])
        names = conv.get("client_names")
        client_names = (
            [_text(n).strip() for n in names if isinstance(n, str) and n.strip()]
            if isinstance(names, list)
            else []
        )
        client_id = conv.get("client_id")
        if isinstance(client_id, bool) or not isinstance(client_id, str | int):
            client_id = None
        return ParsedTranscript(
            title=_text(title).strip() or path.stem,
            format=self.name,
            turns=assemble_turns(utterances),
            category=options.category or category or Category.OTHER,
            client_key=None if client_id is None else _text(str(client_id)),
            client_names=client_names,
            metadata=metadata,
            unknown_labels=unknown,
        )


IMPORTER = ChatImporter()
