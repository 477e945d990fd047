"""AnnoMI CSV: one row per utterance, many sessions per file.

Both published shapes are read: ``AnnoMI-simple.csv`` and ``AnnoMI-full.csv``,
which repeats every utterance once per annotator (rows are de-duplicated on
transcript_id + utterance_id, first row wins). One transcript per
``transcript_id`` (in id order), utterances in ``utterance_id`` order. AnnoMI topics
("reducing alcohol consumption") are not symptom categories, so the category
is Other unless the user forces one.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from core.errors import ImportFailed
from core.importers.base import ImportOptions
from core.importers.decoding import decode_text, peek_text
from core.importers.turns import SpeakerRoles, assemble_turns
from core.models import Category, ParsedTranscript, Role

REQUIRED = ("transcript_id", "utterance_id", "interlocutor", "utterance_text")
_METADATA = ("topic", "mi_quality", "video_url")
_ROLES = {"therapist": Role.THERAPIST, "client": Role.CLIENT}
# Only a name in quotes, the way AnnoMI's video titles name the client:
# 'Brief intervention: "Barbara"'. "Ken interviews Daryl" is left alone: which of
# the two is the client cannot be told from the title.
_QUOTED_NAME = re.compile(r"[\"\u201c]([A-Z][a-z]+(?:[ -][A-Z][a-z]+)?)[\"\u201d]")


def client_names_from_title(title: str) -> list[str]:
    names = _QUOTED_NAME.findall(title)
    return names if len(names) == 1 else []


class AnnoMIImporter:
    name = "annomi"

    def sniff(self, path: Path, head: bytes) -> bool:
        first_line = peek_text(head[:4096]).lstrip("\ufeff").split("\n", 1)[0]
        columns = {c.strip().strip('"') for c in first_line.split(",")}
        return all(c in columns for c in REQUIRED)

    def parse(self, path: Path, data: bytes, options: ImportOptions) -> list[ParsedTranscript]:
        text = decode_text(path, data)
        reader = csv.reader(io.StringIO(text, newline=""))
        try:
            columns = [c.strip() for c in next(reader)]
        except StopIteration:
            raise ImportFailed(path, "the file is empty") from None
        except csv.Error as exc:
            raise ImportFailed(path, f"line 1: not valid CSV ({exc})") from None
        missing = [c for c in REQUIRED if c not in columns]
        if missing:
            raise ImportFailed(path, f"line 1: missing AnnoMI column(s) {', '.join(missing)}")
        index = {c: i for i, c in enumerate(columns)}
        i_tid, i_uid = index["transcript_id"], index["utterance_id"]
        i_who, i_text = index["interlocutor"], index["utterance_text"]
        i_title = index.get("video_title")
        meta_cols = [(c, index[c]) for c in _METADATA if c in index]
        width = len(columns)

        roles = SpeakerRoles(options.speaker_map)
        # Each label as written, resolved once per file: (role, label stripped).
        labels: dict[str, tuple[Role, str]] = {}
        unknown_labels: set[str] = set()
        sessions: dict[int, dict[int, tuple[Role, str, str]]] = {}
        info: dict[int, tuple[str, dict[str, str]]] = {}
        # Rows of one session come together: its id as written is compared, not parsed, per row.
        tid_text: str | None = None
        utterances: dict[int, tuple[Role, str, str]] = {}
        try:
            for row in reader:
                if len(row) != width:
                    if not row or (len(row) == 1 and not row[0].strip()):
                        continue
                    raise ImportFailed(
                        path, f"line {reader.line_num}: expected {width} fields, found {len(row)}"
                    )
                try:
                    if row[i_tid] != tid_text:
                        tid = int(row[i_tid])
                        utterances = sessions.get(tid)  # type: ignore[assignment]
                        if utterances is None:
                            utterances = sessions[tid] = {}
                            title = row[i_title].strip() if i_title is not None else ""
                            meta = {c: row[i].strip() for c, i in meta_cols if row[i].strip()}
                            info[tid] = (title, meta)
                        tid_text = row[i_tid]
                    uid = int(row[i_uid])
                except ValueError:
                    raise ImportFailed(
                        path,
                        f"line {reader.line_num}: transcript_id and utterance_id must be whole "
                        f"numbers, found {row[i_tid][:20]!r} and {row[i_uid][:20]!r}",
                    ) from None
                if uid not in utterances:  # AnnoMI-full repeats rows per annotator
                    who = row[i_who]
                    label = labels.get(who)
                    if label is None:
                        speaker = who.strip()
                        role = _ROLES.get(speaker.lower()) or roles.role(speaker)
                        if role is Role.OTHER and roles.known(speaker) is None:
                            unknown_labels.add(speaker)
                        label = labels[who] = (role, speaker)
                    utterances[uid] = (label[0], label[1], row[i_text])
        except csv.Error as exc:
            raise ImportFailed(path, f"line {reader.line_num}: not valid CSV ({exc})") from None

        out: list[ParsedTranscript] = []
        for tid, utterances in sorted(sessions.items()):
            rows = [utterances[uid] for uid in sorted(utterances)]
            # Labels no map knows, in the order they first speak in this session.
            unknown = list(dict.fromkeys(r[1] for r in rows if r[1] in unknown_labels)) if unknown_labels else []
            title, metadata = info[tid]
            metadata["annomi_transcript_id"] = tid
            out.append(
                ParsedTranscript(
                    title=title or f"AnnoMI transcript {tid}",
                    format=self.name,
                    turns=assemble_turns(rows),
                    category=options.category or Category.OTHER,
                    client_key=f"annomi:{tid}",
                    client_names=client_names_from_title(title),
                    metadata=metadata,
                    unknown_labels=unknown,
                )
            )
        return out


IMPORTER = AnnoMIImporter()
