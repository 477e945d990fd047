"""One JSON line per example, in each tuning service's format, with loss on the target alone.

The paper trains on therapist turns of 50+ words; shorter turns are context
only. Each format says so with its own mechanism:

- **OpenAI** chat fine-tuning: ``messages`` (``system`` / ``user`` /
  ``assistant``); every assistant message but the last carries
  ``"weight": 0`` (not trained on), the target carries ``"weight": 1``.
- **Hugging Face / TRL**: the conversational prompt–completion form,
  ``{"prompt": [messages], "completion": [{"role": "assistant", ...}]}``;
  ``SFTTrainer`` computes the loss on the completion only
  (``completion_only_loss``, on by default for prompt–completion data).
- **Vertex AI Gemini** (``gemini-notes.md`` §2.1) has no per-turn weight, so by
  default (``transcript``) the context is one ``user`` message holding a
  labelled transcript (``Client: …`` / ``Therapist: …``, blank line between)
  and the target is the only ``model`` turn. ``multi_turn`` keeps the plain
  alternating ``user`` / ``model`` contents; Vertex then trains on every
  ``model`` turn, short context turns included (the card says so).

The prompt a model is given at generation time is built by the same function
(``_render``) as the training line, minus the target: ``prompt()``.

Lines are compact, keys in a fixed order, UTF-8: the same example always
gives the same bytes.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Protocol

FORMATS = ("vertex", "openai", "hf")
VERTEX_FORMS = ("transcript", "multi_turn")
DEFAULT_VERTEX_FORM = "transcript"

VERTEX_ROLES = {"client": "user", "therapist": "model"}
CHAT_ROLES = {"client": "user", "therapist": "assistant"}
LABELS = {"client": "Client", "therapist": "Therapist"}
TRANSCRIPT_SEPARATOR = "\n\n"

# What carries the loss, per format: the card and docs/datasets.md quote these.
LOSS = {
    "openai": "the final assistant message (the target, `\"weight\": 1`); every earlier assistant "
              "message has `\"weight\": 0` and is context only",
    "hf": "the `completion` (the target) only: TRL's `SFTTrainer` masks the `prompt` "
          "(`completion_only_loss`, the default for prompt–completion data)",
    "vertex:transcript": "the only `model` turn (the target); the context is one `user` message "
                         "holding a labelled transcript (`Client: …` / `Therapist: …`)",
    "vertex:multi_turn": "every `model` turn: the target AND each earlier therapist turn of the "
                         "context (Vertex AI has no per-turn weight), so short turns are trained on too",
}


class _Msg(Protocol):
    @property
    def role(self) -> str: ...
    @property
    def text(self) -> str: ...


def check_vertex_form(form: str) -> str:
    if form not in VERTEX_FORMS:
        raise ValueError(f"vertex form: one of {', '.join(VERTEX_FORMS)} (got {form!r})")
    return form


# json.dumps with options builds a new encoder per call; these are built once.
_DUMPS = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_DUMPS_ASCII = json.JSONEncoder(ensure_ascii=True, separators=(",", ":")).encode


def dumps_line(obj: Any) -> bytes:
    text = _DUMPS(obj)
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        # A lone surrogate cannot be UTF-8; \u escapes keep the line valid JSON.
        return _DUMPS_ASCII(obj).encode("ascii") + b"\n"


def transcript(context: Sequence[_Msg]) -> str:
    """The context as the Vertex transcript form's one user message."""
    return TRANSCRIPT_SEPARATOR.join(f"{LABELS[m.role]}: {m.text}" for m in context)


# Reference builders (plain dicts; the hot path below must give their bytes) ##


def _chat(system: str, context: Sequence[_Msg], *, weights: bool) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for m in context:
        msg: dict[str, Any] = {"role": CHAT_ROLES[m.role], "content": m.text}
        if weights and m.role == "therapist":
            msg["weight"] = 0
        messages.append(msg)
    return messages


def vertex_example(system: str, context: Sequence[_Msg], target: str,
                   form: str = DEFAULT_VERTEX_FORM) -> dict[str, Any]:
    if check_vertex_form(form) == "transcript":
        contents = [{"role": "user", "parts": [{"text": transcript(context)}]}]
    else:
        contents = [{"role": VERTEX_ROLES[m.role], "parts": [{"text": m.text}]} for m in context]
    contents.append({"role": "model", "parts": [{"text": target}]})
    if not system:
        return {"contents": contents}
    return {"systemInstruction": {"parts": [{"text": system}]}, "contents": contents}


def openai_example(system: str, context: Sequence[_Msg], target: str) -> dict[str, Any]:
    return {"messages": [*_chat(system, context, weights=True),
                         {"role": "assistant", "content": target, "weight": 1}]}


def hf_example(system: str, context: Sequence[_Msg], target: str) -> dict[str, Any]:
    return {"prompt": _chat(system, context, weights=False),
            "completion": [{"role": "assistant", "content": target}]}


def chat_messages(system: str, context: Sequence[_Msg], target: str | None) -> list[dict[str, str]]:
    """Plain chat messages (no weights): the prompt, plus the target as the last assistant message."""
    messages = _chat(system, context, weights=False)
    if target is not None:
        messages.append({"role": "assistant", "content": target})
    return messages


# The one renderer: training lines and generation prompts ######################
#
# A million-turn workspace yields tens of thousands of examples, each written in
# several formats; building dicts for json.dumps dominated the export. This
# builds the JSON text directly, escaping each text once (a test holds it to the
# reference builders above).

_ENCODE = json.encoder.encode_basestring  # type: ignore[attr-defined]  # what dumps uses with ensure_ascii=False
_ENCODE_ASCII = json.encoder.encode_basestring_ascii  # type: ignore[attr-defined]


# The fixed pieces around each message's text, looked up once per message
# rather than assembled for every line (the bytes are the same).
_TRANSCRIPT_LABEL = {role: label + ": " for role, label in LABELS.items()}
_CHAT_HEAD = {role: '{"role":"' + r + '","content":' for role, r in CHAT_ROLES.items()}
_VERTEX_HEAD = {role: '{"role":"' + r + '","parts":[{"text":' for role, r in VERTEX_ROLES.items()}


def _render(fmt: str, system: str, context: Sequence[_Msg], target: str | None,
            enc: Callable[[str], str], vertex_form: str = DEFAULT_VERTEX_FORM) -> str:
    """The JSON text of one example in ``fmt`` (no newline); ``target`` None gives the prompt.

    The prompt is exactly the training line without the target (and, for
    OpenAI, without the training-only ``weight`` marks): what a model is sent
    to generate a reply is what it was trained to continue.
    """
    training = target is not None
    if fmt == "vertex":
        head = '{"systemInstruction":{"parts":[{"text":' + enc(system) + '}]},"contents":[' if system \
            else '{"contents":['
        if vertex_form == "transcript":
            # enc(text)[1:-1] is the escaped text without its quotes; labels are ASCII.
            label = _TRANSCRIPT_LABEL
            body = "\\n\\n".join([label[m.role] + enc(m.text)[1:-1] for m in context])
            parts = ['{"role":"user","parts":[{"text":"' + body + '"}]}']
        else:
            vertex_head = _VERTEX_HEAD
            parts = [vertex_head[m.role] + enc(m.text) + "}]}" for m in context]
        if training:
            parts.append('{"role":"model","parts":[{"text":' + enc(target) + "}]}")  # type: ignore[arg-type]
        return head + ",".join(parts) + "]}"
    chat_head = _CHAT_HEAD
    if training and fmt == "openai":
        # earlier therapist turns are context only: weight 0
        items = [chat_head[m.role] + enc(m.text) + (',"weight":0}' if m.role == "therapist" else "}")
                 for m in context]
    else:
        items = [chat_head[m.role] + enc(m.text) + "}" for m in context]
    if system:
        items.insert(0, '{"role":"system","content":' + enc(system) + "}")
    if fmt == "openai":
        if training:
            items.append('{"role":"assistant","content":' + enc(target) + ',"weight":1}')  # type: ignore[arg-type]
        return '{"messages":[' + ",".join(items) + "]}"
    if fmt == "hf":
        out = '{"prompt":[' + ",".join(items) + "]"
        if training:
            out += ',"completion":[{"role":"assistant","content":' + enc(target) + "}]"  # type: ignore[arg-type]
        return out + "}"
    raise ValueError(f"unknown format {fmt!r} (one of {', '.join(FORMATS)})")


def prompt(fmt: str, system: str, context: Sequence[_Msg], vertex_form: str = DEFAULT_VERTEX_FORM) -> dict[str, Any]:
    """What to send a model for this context, in ``fmt``'s request shape.

    OpenAI: ``{"messages": [...]}`` (Chat Completions); Hugging Face:
    ``{"prompt": [...]}`` (apply the chat template with a generation prompt);
    Vertex: ``{"systemInstruction": ..., "contents": [...]}`` (generateContent).
    """
    return json.loads(_render(fmt, system, context, None, _ENCODE, check_vertex_form(vertex_form)))


def training_line(fmt: str, system: str, context: Sequence[_Msg], target: str,
                  vertex_form: str = DEFAULT_VERTEX_FORM) -> bytes:
    """One training line in ``fmt`` (the same renderer as ``prompt``)."""
    return _encode_line(_render(fmt, system, context, target, _ENCODE, vertex_form),
                        lambda: _render(fmt, system, context, target, _ENCODE_ASCII, vertex_form))


def _encode_line(text: str, ascii_text: Callable[[], str]) -> bytes:
    try:
        return text.encode("utf-8") + b"\n"
    except UnicodeEncodeError:
        return ascii_text().encode("ascii") + b"\n"


class _CachedEncoder(dict):
    """Escapes each distinct text once: a turn sits in the contexts of several examples."""

    def __missing__(self, text: str) -> str:
        encoded = self[text] = _ENCODE(text)
        return encoded


def encoder_cache() -> dict[str, str]:
    return _CachedEncoder()


def example_lines(
    system: str,
    context: Sequence[_Msg],
    target: str,
    cache: dict[str, str] | None = None,
    vertex_form: str = DEFAULT_VERTEX_FORM,
) -> tuple[bytes, bytes, bytes]:
    """(Vertex line, OpenAI line, Hugging Face line) for one example.

    ``cache`` (from ``encoder_cache()``) may be shared across the examples of one file set.
    """
    enc = cache.__getitem__ if cache is not None else _ENCODE
    try:
        return (
            (_render("vertex", system, context, target, enc, vertex_form) + "\n").encode(),
            (_render("openai", system, context, target, enc, vertex_form) + "\n").encode(),
            (_render("hf", system, context, target, enc, vertex_form) + "\n").encode(),
        )
    except UnicodeEncodeError:
        return tuple(  # type: ignore[return-value]
            _render(fmt, system, context, target, _ENCODE_ASCII, vertex_form).encode("ascii") + b"\n"
            for fmt in FORMATS
        )


def held_out_item(
    *,
    example_id: str,
    category: str,
    client_names: Sequence[str],
    system: str,
    context: Sequence[_Msg],
    reference: str,
    transcript_id: int,
    turn_id: int,
) -> dict[str, Any]:
    """A held-out item: what to send a model (the chat prompt), and the real therapist reply."""
    return {
        "example_id": example_id,
        "category": category,
        "client_names": list(client_names),
        "messages": prompt("openai", system, context)["messages"],
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
