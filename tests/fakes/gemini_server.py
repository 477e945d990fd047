"""A fake Google Cloud (Vertex AI + Cloud Storage) on 127.0.0.1, for the real SDK clients.

The REST shapes are the ones observed from google-genai 3.x and
google-cloud-storage (``shared/reference/gemini-notes.md`` §2.3, §6.3). Point
the SDKs at it with their own variables (``env()``): GOOGLE_VERTEX_BASE_URL,
GOOGLE_GEMINI_BASE_URL, STORAGE_EMULATOR_HOST.

Knobs:
- ``fail(route, *codes, retry_delay=None)``: the next requests on ``route``
  ("generate", "tune", "get", "upload", "count") answer these HTTP codes;
- ``delay_s``: seconds each generateContent takes;
- prompts containing ``BLOCK_ME`` are blocked, ``UNSAFE_REPLY`` stop on
  SAFETY, ``EMPTY_REPLY`` give no text, ``HANG`` sleep ``hang_s``;
- ``tune_polls``: GETs before a job ends; ``tune_outcome``: succeeded|failed.
Every request is kept in ``requests`` (method, path, headers, body) so a test
can prove what left the machine.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Request:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Job:
    name: str
    body: dict[str, Any]
    polls: int = 0
    state: str = "JOB_STATE_PENDING"
    created: str = "2026-11-30T10:00:00Z"


@dataclass
class FakeGoogle:
    delay_s: float = 0.0
    hang_s: float = 5.0
    tune_polls: int = 2
    tune_outcome: str = "succeeded"
    requests: list[Request] = field(default_factory=list)
    objects: dict[str, bytes] = field(default_factory=dict)  # "bucket/name" → bytes
    jobs: dict[str, Job] = field(default_factory=dict)
    max_concurrent: int = 0
    generate_calls: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._failures: dict[str, list[tuple[int, str | None]]] = {}
        self._scripted: dict[str, str] = {}
        self._in_flight = 0
        self._next_job = 100
        self._server: ThreadingHTTPServer | None = None

    # knobs ######################################################################

    def fail(self, route: str, *codes: int, retry_delay: str | None = None) -> None:
        with self._lock:
            self._failures.setdefault(route, []).extend((c, retry_delay) for c in codes)

    def on(self, prompt_end: str, behaviour: str) -> None:
        """Answer a prompt whose last text ends with ``prompt_end`` as ``behaviour``:
        block | unsafe | empty | hang."""
        with self._lock:
            self._scripted[prompt_end] = behaviour

    def sent_text(self) -> str:
        """Everything any request carried, decoded, for privacy assertions."""
        return "\n".join(r.body.decode("utf-8", "replace") for r in self.requests)

    # lifecycle ##################################################################

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def env(self) -> dict[str, str]:
        return {
            "GOOGLE_VERTEX_BASE_URL": self.url,
            "GOOGLE_GEMINI_BASE_URL": self.url,
            "STORAGE_EMULATOR_HOST": self.url,
            "ATTUNE_ACCESS_TOKEN": "fake-token",
        }

    def start(self) -> FakeGoogle:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # headers and body go out in two writes: without TCP_NODELAY, Nagle
            # and the client's delayed ACK add ~40 ms to every call
            disable_nagle_algorithm = True

            def log_message(self, *args: Any) -> None:  # quiet
                pass

            def do_GET(self) -> None:
                fake._handle(self, "GET")

            def do_POST(self) -> None:
                fake._handle(self, "POST")

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    # dispatch ###################################################################

    def _handle(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        with self._lock:
            self.requests.append(Request(method, h.path, {k.lower(): v for k, v in h.headers.items()}, body))
        path = h.path.split("?", 1)[0]
        route, handler = self._route(method, path)
        if route is None:
            return self._send(h, 404, {"error": {"code": 404, "message": f"no route {method} {path}",
                                                 "status": "NOT_FOUND"}})
        failure = None
        with self._lock:
            queue = self._failures.get(route)
            if queue:
                failure = queue.pop(0)
        if failure is not None:
            code, delay = failure
            return self._send(h, code, _error(code, delay))
        status, payload = handler(path, body)
        self._send(h, status, payload)

    def _route(self, method: str, path: str) -> tuple[str | None, Any]:
        if method == "POST" and path.startswith("/upload/storage/v1/b/"):
            return "upload", self._upload
        if method == "GET" and re.fullmatch(r"/storage/v1/b/[^/]+", path):
            return "bucket", lambda p, b: (200, {"kind": "storage#bucket", "name": p.rsplit("/", 1)[1]})
        if method == "POST" and path.endswith(":generateContent"):
            return "generate", self._generate
        if method == "POST" and path.endswith(":countTokens"):
            return "count", self._count
        if method == "POST" and path.endswith("/tuningJobs"):
            return "tune", self._tune
        if method == "POST" and re.search(r"/tuningJobs/[^/]+:cancel$", path):
            return "cancel", self._cancel
        if method == "GET" and re.search(r"/tuningJobs/[^/:]+$", path):
            return "get", self._get_job
        if method == "GET" and "/publishers/google/models/" in path:
            return "model", lambda p, b: (200, {"name": p.split("/v1beta1/", 1)[-1], "displayName": "fake"})
        return None, None

    @staticmethod
    def _send(h: BaseHTTPRequestHandler, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    # storage ####################################################################

    def _upload(self, path: str, body: bytes) -> tuple[int, Any]:
        bucket = path.split("/b/", 1)[1].split("/", 1)[0]
        # multipart/related: a JSON metadata part, then the object's bytes
        boundary = body.split(b"\r\n", 1)[0]
        parts = [p for p in body.split(boundary) if p.strip(b"-\r\n")]
        meta = json.loads(parts[0].split(b"\r\n\r\n", 1)[1].strip())
        data = parts[1].split(b"\r\n\r\n", 1)[1]
        data = data[:-2] if data.endswith(b"\r\n") else data
        with self._lock:
            self.objects[f"{bucket}/{meta['name']}"] = data
        return 200, {"kind": "storage#object", "name": meta["name"], "bucket": bucket,
                     "size": str(len(data)), "generation": "1", "contentType": "application/jsonl"}

    # vertex #####################################################################

    def _generate(self, path: str, body: bytes) -> tuple[int, Any]:
        with self._lock:
            self._in_flight += 1
            self.generate_calls += 1
            self.max_concurrent = max(self.max_concurrent, self._in_flight)
        try:
            text = body.decode("utf-8", "replace")
            contents = json.loads(body).get("contents", [])
            last = (contents[-1].get("parts") or [{}])[-1].get("text", "") if contents else ""
            with self._lock:
                scripted = next((b for end, b in self._scripted.items() if last.endswith(end)), "")
            text += {"block": "BLOCK_ME", "unsafe": "UNSAFE_REPLY", "empty": "EMPTY_REPLY", "hang": "HANG"}.get(
                scripted, "")
            if "HANG" in text:
                time.sleep(self.hang_s)
            if self.delay_s:
                time.sleep(self.delay_s)
            usage = {"promptTokenCount": 12, "candidatesTokenCount": 4, "totalTokenCount": 16}
            if "BLOCK_ME" in text:
                return 200, {"promptFeedback": {"blockReason": "SAFETY", "safetyRatings": [
                    {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH", "blocked": True}]},
                    "usageMetadata": {"promptTokenCount": 9, "totalTokenCount": 9}}
            if "UNSAFE_REPLY" in text:
                return 200, {"candidates": [{"finishReason": "SAFETY", "index": 0, "safetyRatings": [
                    {"category": "HARM_CATEGORY_HARASSMENT", "probability": "HIGH", "blocked": True}]}]}
            if "EMPTY_REPLY" in text:
                return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": ""}]},
                                             "finishReason": "STOP", "index": 0}], "usageMetadata": usage}
            n = len(contents)
            reply = f"It sounds like that has been hard for you. ({n} turns seen)"
            return 200, {"candidates": [{"content": {"role": "model", "parts": [{"text": reply}]},
                                         "finishReason": "STOP", "index": 0}],
                         "usageMetadata": usage, "modelVersion": "fake-001", "responseId": f"r{time.time_ns()}"}
        finally:
            with self._lock:
                self._in_flight -= 1

    def _count(self, path: str, body: bytes) -> tuple[int, Any]:
        words = len(re.findall(r"\w+", body.decode("utf-8", "replace")))
        return 200, {"totalTokens": words}

    def _tune(self, path: str, body: bytes) -> tuple[int, Any]:
        pl = path.split("/v1beta1/", 1)[-1].rsplit("/tuningJobs", 1)[0]
        with self._lock:
            self._next_job += 1
            name = f"{pl}/tuningJobs/{self._next_job}"
            job = self.jobs[name] = Job(name, json.loads(body))
        return 200, self._job_json(job)

    def _get_job(self, path: str, body: bytes) -> tuple[int, Any]:
        name = path.split("/v1beta1/", 1)[-1]
        with self._lock:
            job = self.jobs.get(name)
            if job is None:
                return 404, _error(404)
            job.polls += 1
            if job.state not in ("JOB_STATE_SUCCEEDED", "JOB_STATE_FAILED", "JOB_STATE_CANCELLED"):
                if job.polls >= self.tune_polls:
                    job.state = "JOB_STATE_SUCCEEDED" if self.tune_outcome == "succeeded" else "JOB_STATE_FAILED"
                else:
                    job.state = "JOB_STATE_RUNNING"
        return 200, self._job_json(job)

    def _cancel(self, path: str, body: bytes) -> tuple[int, Any]:
        name = path.split("/v1beta1/", 1)[-1].removesuffix(":cancel")
        with self._lock:
            job = self.jobs.get(name)
            if job is None:
                return 404, _error(404)
            job.state = "JOB_STATE_CANCELLED"
        return 200, {}

    @staticmethod
    def _job_json(job: Job) -> dict[str, Any]:
        pl = job.name.rsplit("/tuningJobs/", 1)[0]
        out: dict[str, Any] = {
            "name": job.name, "state": job.state, "baseModel": job.body.get("baseModel"),
            "tunedModelDisplayName": job.body.get("tunedModelDisplayName", ""),
            "createTime": job.created, "supervisedTuningSpec": job.body.get("supervisedTuningSpec", {}),
        }
        if job.state != "JOB_STATE_PENDING":
            out["startTime"] = "2026-11-30T10:01:00Z"
        if job.state == "JOB_STATE_SUCCEEDED":
            jid = job.name.rsplit("/", 1)[1]
            out["endTime"] = "2026-11-30T11:00:00Z"
            out["tunedModel"] = {"model": f"{pl}/models/{jid}@1", "endpoint": f"{pl}/endpoints/{jid}9"}
            out["tuningDataStats"] = {"supervisedTuningDataStats": {
                "tuningDatasetExampleCount": "3", "totalBillableTokenCount": "4560", "tuningStepCount": "30"}}
        if job.state == "JOB_STATE_FAILED":
            out["error"] = {"code": 3, "message": "Dataset validation failed: line 2 is not valid JSON."}
        if job.state == "JOB_STATE_CANCELLED":
            out["error"] = {"code": 1, "message": "CANCELED"}
        return out


_STATUS = {400: "INVALID_ARGUMENT", 404: "NOT_FOUND", 408: "DEADLINE_EXCEEDED", 429: "RESOURCE_EXHAUSTED",
           500: "INTERNAL", 503: "UNAVAILABLE"}


def _error(code: int, retry_delay: str | None = None) -> dict[str, Any]:
    details = []
    if retry_delay is not None:
        details.append({"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": retry_delay})
    return {"error": {"code": code, "message": f"fake {code}", "status": _STATUS.get(code, "UNKNOWN"),
                      "details": details}}


def main() -> None:
    """``python -m tests.fakes.gemini_server [DELAY_S]``: serve until killed; prints the base URL first.

    The benchmark runs the fake in a process of its own, so the server's work
    does not share the measured process's interpreter lock.
    """
    import sys

    fake = FakeGoogle(delay_s=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0).start()
    print(fake.url, flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
