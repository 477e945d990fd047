"""One JSON line per example, in each tuning service's format.

- Vertex AI Gemini supervised tuning: ``systemInstruction`` + ``contents`` with
  roles ``user`` / ``model``, ending with the model's target
  (``/work/shared/reference/gemini-notes.md`` §2.1).
- OpenAI chat fine-tuning and Hugging Face (``datasets`` / TRL ``SFTTrainer``
  conversational format): ``messages`` with ``system`` / ``user`` /
  ``assistant``, ending with the assistant's target.

Lines are compact, keys in a fixed order, UTF-8: the same example always
gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from core.datasets.targets import Message

VERTEX_ROLES = {"client": "user", "therapist": "model"}
CHAT_ROLES = {"client": "user", "therapist": "assistant"}


def dumps_line(obj: Any) -> bytes:
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8; \u escapes keep the line valid JSON.
        return json.dumps(obj, ensure_ascii=True, separators=(",", ":")).encode("ascii") + b"\n"


def vertex_example(system: str, context: Sequence[Message], target: str) -> dict[str, Any]:
    contents = [{"role": VERTEX_ROLES[m.role], "parts": [{"text": m.text}]} for m in context]
    contents.append({"role": "model", "parts": [{"text": target}]})
    if not system:
        return {"contents": contents}
    return {"systemInstruction": {"parts": [{"text": system}]}, "contents": contents}


def chat_messages(system: str, context: Sequence[Message], target: str | None) -> list[dict[str, str]]:
    messages = [{"role": "system", "content": system}] if system else []
    messages += [{"role": CHAT_ROLES[m.role], "content": m.text} for m in context]
    if target is not None:
        messages.append({"role": "assistant", "content": target})
    return messages


def openai_example(system: str, context: Sequence[Message], target: str) -> dict[str, Any]:
    return {"messages": chat_messages(system, context, target)}


def hf_example(system: str, context: Sequence[Message], target: str) -> dict[str, Any]:
    # TRL's conversational format is the same ``messages`` list; kept separate
    # so either can change without touching the other.
    return {"messages": chat_messages(system, context, target)}


def held_out_item(
    *,
    example_id: str,
    category: str,
    client_names: Sequence[str],
    system: str,
    context: Sequence[Message],
    reference: str,
    transcript_id: int,
    turn_id: int,
) -> dict[str, Any]:
    """A held-out item: what to send a model, and the real therapist reply to compare with."""
    return {
        "example_id": example_id,
        "category": category,
        "client_names": list(client_names),
        "messages": chat_messages(system, context, None),
        "reference": reference,
        "transcript_id": transcript_id,
        "turn_id": turn_id,
    }


def manifest_entry(
    *, example_id: str, split: str, transcript_id: int, turn_id: int, category: str, target_words: int
) -> dict[str, Any]:
    return {
        "example_id": example_id,
        "split": split,
        "transcript_id": transcript_id,
        "turn_id": turn_id,
        "category": category,
        "target_words": target_words,
    }


# The hot path #################################################################
#
# A million-turn workspace yields tens of thousands of examples, each written in
# several formats; building dicts for json.dumps dominated the export. These
# produce the same bytes as ``dumps_line`` of the builders above (a test holds
# them to it) while escaping each text once.

_ENCODE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # what dumps uses with ensure_ascii=False
_ENCODE_ASCII = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


def _lines(system: str, context: Sequence[Message], target: str, enc: Any) -> tuple[str, str]:
    vertex: list[str] = []
    chat: list[str] = []
    if system:
        s = enc(system)
        chat.append('{"role":"system","content":' + s + "}")
        head = '{"systemInstruction":{"parts":[{"text":' + s + '}]},"contents":['
    else:
        head = '{"contents":['
    for m in context:
        e = enc(m.text)
        vertex.append('{"role":"' + VERTEX_ROLES[m.role] + '","parts":[{"text":' + e + "}]}")
        chat.append('{"role":"' + CHAT_ROLES[m.role] + '","content":' + e + "}")
    e = enc(target)
    vertex.append('{"role":"model","parts":[{"text":' + e + "}]}")
    chat.append('{"role":"assistant","content":' + e + "}")
    return head + ",".join(vertex) + "]}\n", '{"messages":[' + ",".join(chat) + "]}\n"


class _CachedEncoder(dict):
    """Escapes each distinct text once: a turn sits in the contexts of several examples."""

    def __missing__(self, text: str) -> str:
        encoded = self[text] = _ENCODE(text)
        return encoded


def example_lines(
    system: str, context: Sequence[Message], target: str, cache: dict[str, str] | None = None
) -> tuple[bytes, bytes]:
    """(Vertex line, chat line) for one example; the chat line serves OpenAI and Hugging Face.

    ``cache`` (from ``encoder_cache()``) may be shared across the examples of one file set.
    """
    vertex, chat = _lines(system, context, target, cache.__getitem__ if cache is not None else _ENCODE)
    try:
        return vertex.encode("utf-8"), chat.encode("utf-8")
    except UnicodeEncodeError:
        vertex, chat = _lines(system, context, target, _ENCODE_ASCII)
        return vertex.encode("ascii"), chat.encode("ascii")


def encoder_cache() -> dict[str, str]:
    return _CachedEncoder()


def manifest_line(
    *, example_id: str, split: str, transcript_id: int, turn_id: int, category: str, target_words: int
) -> bytes:
    line = (
        f'{{"example_id":{_ENCODE(example_id)},"split":{_ENCODE(split)},"transcript_id":{int(transcript_id)},'
        f'"turn_id":{int(turn_id)},"category":{_ENCODE(category)},"target_words":{int(target_words)}}}\n'
    )
    try:
        return line.encode("utf-8")
    except UnicodeEncodeError:
        return dumps_line(manifest_entry(example_id=example_id, split=split, transcript_id=transcript_id,
                                         turn_id=turn_id, category=category, target_words=target_words))
