"""JSON / JSONL chat transcripts (OpenAI and ShareGPT shapes)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ImportFailed
from core.importers import ImportOptions, detect_format, parse_bytes
from core.models import Category, Role

OPENAI = {
    "messages": [
        {"role": "system", "content": "You are a supportive counsellor."},
        {"role": "user", "content": "I can't sleep. [sighs]"},
        {"role": "assistant", "content": "That sounds hard. What keeps you up?"},
        {"role": "user", "content": [{"type": "text", "text": "Work."}, {"type": "text", "text": "Mostly."}]},
    ]
}
SHAREGPT = {
    "id": "conv-42",
    "conversations": [
        {"from": "system", "value": "Be kind."},
        {"from": "human", "value": "Hello"},
        {"from": "gpt", "value": "Hi, how are you feeling today?"},
        {"from": "gpt", "value": "Take your time."},
    ],
}


def parse(obj_or_text, name: str = "chat.json", **options):
    data = obj_or_text if isinstance(obj_or_text, bytes) else (
        obj_or_text if isinstance(obj_or_text, str) else json.dumps(obj_or_text)
    ).encode("utf-8")
    return parse_bytes(Path(name), data, options=ImportOptions(**options))


def test_openai_shape() -> None:
    [t] = parse(OPENAI)
    assert t.format == "chat"
    assert t.title == "chat"
    assert [(u.role, u.speaker, u.text) for u in t.turns] == [
        (Role.CLIENT, "user", "I can't sleep."),
        (Role.THERAPIST, "assistant", "That sounds hard. What keeps you up?"),
        (Role.CLIENT, "user", "Work. Mostly."),
    ]
    assert t.turns[0].raw_text == "I can't sleep. [sighs]"
    assert t.metadata["system_prompt"] == "You are a supportive counsellor."
    assert t.category is Category.OTHER


def test_sharegpt_shape_merges_consecutive_turns() -> None:
    [t] = parse(SHAREGPT)
    assert [(u.role, u.text) for u in t.turns] == [
        (Role.CLIENT, "Hello"), (Role.THERAPIST, "Hi, how are you feeling today? Take your time.")
    ]
    assert t.metadata["chat_id"] == "conv-42"


def test_list_of_conversations_and_bare_message_list() -> None:
    convs = parse([OPENAI, SHAREGPT, {"title": "Third", "messages": [{"role": "user", "content": "x"}]}])
    assert [t.title for t in convs] == ["chat conversation 1", "chat conversation 2", "Third"]
    [bare] = parse(OPENAI["messages"])
    assert len(bare.turns) == 3


def test_jsonl_one_conversation_per_line() -> None:
    text = "\n".join(json.dumps(c) for c in (OPENAI, SHAREGPT)) + "\n\n"
    for name in ("chats.jsonl", "chats.txt"):  # a .txt of JSON lines is still sniffed as chat
        convs = parse(text, name=name)
        assert [len(t.turns) for t in convs] == [3, 2]
        assert detect_format(Path(name), text.encode()) == "chat"


def test_optional_fields_and_forced_category() -> None:
    conv = {**OPENAI, "title": "Evening check-in", "category": "depression",
            "client_names": ["Ana"], "client_id": "c-7"}
    [t] = parse(conv)
    assert (t.title, t.category, t.client_names, t.client_key) == (
        "Evening check-in", Category.DEPRESSION, ["Ana"], "c-7"
    )
    [forced] = parse(conv, category=Category.FATIGUE)
    assert forced.category is Category.FATIGUE


def test_unknown_roles_are_other_and_reported_tools_are_dropped() -> None:
    [t] = parse({"messages": [
        {"role": "user", "content": "hi"},
        {"role": "tool", "content": "{\"result\": 1}"},
        {"role": "supervisor", "content": "note this"},
    ]})
    assert [(u.role, u.speaker) for u in t.turns] == [(Role.CLIENT, "user"), (Role.OTHER, "supervisor")]
    assert t.unknown_labels == ["supervisor"]


def test_lone_surrogates_cannot_reach_the_store() -> None:
    [t] = parse('{"messages": [{"role": "user", "content": "bad \\ud800 char"}]}')
    assert t.turns[0].raw_text == "bad \ufffd char"
    t.turns[0].raw_text.encode("utf-8")  # would raise on a surrogate


def test_text_transcript_starting_with_a_bracket_is_not_chat() -> None:
    assert detect_format(Path("s.txt"), b"[00:00:01] THERAPIST: Hello.\n") == "text"


@pytest.mark.parametrize(
    ("text", "name", "reason"),
    [
        ('{"messages": [\n  {"role": "user", "content": "hi"}\n  {"role": "assistant"}\n]}', "c.json",
         "line 3, column 3: invalid JSON"),
        ('{"messages": []}\n{"messages": [}\n', "c.jsonl", "line 2, column 15: invalid JSON"),
        ('{"messages": [{"role": "user", "content": "a"}]}\n{"messages": "no"}\n', "c.jsonl",
         "line 2: no 'messages' or 'conversations' list"),
        ('{"messages": [{"content": "a"}]}', "c.json", "message 1 has no 'role'"),
        ('[{"messages": [{"role": "user", "content": 5.5}]}, {"messages": [{"role": "user", "content": {}}]}]',
         "c.json", "conversation 2: message 1: content must be text"),
        ('"just a string"', "c.json", "expected a JSON object or list"),
        ('{"messages": [{"role": "system", "content": "only a prompt"}]}', "c.json", "no speaker turns found"),
        ("[" * 100000, "c.json", "invalid JSON"),
    ],
    ids=["bad-json", "bad-jsonl-line", "jsonl-shape", "no-role", "bad-content", "scalar", "no-turns", "deep"],
)
def test_bad_json_is_one_line_naming_where(text: str, name: str, reason: str) -> None:
    with pytest.raises(ImportFailed) as err:
        parse_bytes(Path(name), text.encode(), format="chat")
    assert reason in err.value.reason
    assert err.value.path == name and "\n" not in str(err.value)


# Strict JSON, clean text (issue 11) ############################################


@pytest.mark.parametrize(("value", "reason"), [
    ("NaN", "NaN is not valid JSON"),
    ("Infinity", "Infinity is not valid JSON"),
    ("-Infinity", "-Infinity is not valid JSON"),
    ("1e999", "1e999 is out of range"),
    ("9" * 5000, "a number with too many digits"),
    ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
])
def test_json_that_python_would_bend_is_refused(value: str, reason: str) -> None:
    doc = '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ' + value + "}]}"
    for name, data in (("c.json", doc), ("c.jsonl", doc + "\n")):
        with pytest.raises(ImportFailed) as info:
            parse_bytes(Path(name), data.encode())
        assert reason in info.value.reason and "\n" not in info.value.reason
        # "nan" as a client's words would be worse than refusing the file.
        assert "could not be read as" not in info.value.reason


def test_nuls_and_lone_surrogates_are_removed_from_every_stored_string() -> None:
    doc = {"title": "T\u0000itle \udfff", "client_id": "c\u0000 1",
           "messages": [{"role": "user", "content": "a\u0000b \ud83d"},
                        {"role": "assistant", "content": [{"type": "text", "text": "ok\u0000"}]}]}
    [t] = parse_bytes(Path("c.json"), json.dumps(doc).encode())
    strings = [t.title, t.client_key or "", *(x for turn in t.turns for x in (turn.text, turn.raw_text))]
    for s in strings:
        assert "\x00" not in s
        s.encode("utf-8")  # would raise on a lone surrogate
    assert t.title == "Title \ufffd"
    assert t.turns[0].text == "ab \ufffd"
