"""Where Gemini lives for this workspace: a GCP project, region, bucket, and how to sign in.

The settings (no secrets) are kept in the workspace's settings table. Secrets
never are: an access token is read from its file or from ``ATTUNE_ACCESS_TOKEN``
each time; a Gemini API key lives only in the OS keychain (``keyring``; where
no secure backend exists the caller asks once per session and keeps it in
memory). A service-account file stays where the user keeps it.

The SDKs' own variables (``GOOGLE_VERTEX_BASE_URL``, ``GOOGLE_GEMINI_BASE_URL``,
``STORAGE_EMULATOR_HOST``) point every client made here at another server;
that is how the tests run the whole flow against a fake one.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from core.errors import UsageError
from core.store import Store
from core.store.transcripts import get_setting, set_setting

SETTING_KEY = "gemini_connection"
TOKEN_ENV = "ATTUNE_ACCESS_TOKEN"
KEYRING_SERVICE = "attune-gemini"
AUTH_MODES = ("adc", "service_account", "access_token")
SCOPES = ["https://www.googleapis.com/auth/cloud-platform"]
DEFAULT_REGION = "us-central1"
# Requests that take longer than this fail (and are retried by the caller).
DEFAULT_TIMEOUT_S = 120.0
# Answers worth retrying (with backoff): timeout, rate limit, server trouble.
RETRY_CODES = frozenset({408, 429, 500, 502, 503, 504})


# Tunable base models (editable: any model id Vertex AI accepts) and adapter sizes;
# here rather than in core.tuning.vertex so a settings form can list them without
# importing Google's SDKs.
BASE_MODELS = ("gemini-2.5-flash", "gemini-2.5-flash-lite", "gemini-2.5-pro")
ADAPTER_SIZES = ("ADAPTER_SIZE_ONE", "ADAPTER_SIZE_TWO", "ADAPTER_SIZE_FOUR", "ADAPTER_SIZE_EIGHT",
                 "ADAPTER_SIZE_SIXTEEN")


def tuned_system_name(job_id: int) -> str:
    """The system a succeeded Vertex tuning job's endpoint becomes (``core.evaluation.sources`` names)."""
    return f"vertex-job-{job_id}"


@dataclass(frozen=True, slots=True)
class Connection:
    project: str = ""
    region: str = DEFAULT_REGION
    bucket: str = ""
    prefix: str = "attune"
    auth: str = "adc"
    service_account_file: str = ""
    access_token_file: str = ""
    timeout_s: float = DEFAULT_TIMEOUT_S

    def check(self) -> Connection:
        if self.auth not in AUTH_MODES:
            raise UsageError(f"auth: one of {', '.join(AUTH_MODES)} (got {self.auth!r})")
        if self.auth == "service_account" and not self.service_account_file:
            raise UsageError("--service-account: the service-account JSON file is required")
        return self

    def object_name(self, *parts: str) -> str:
        return "/".join(p.strip("/") for p in (self.prefix, *parts) if p.strip("/"))


def load(store: Store) -> Connection:
    raw = get_setting(store, SETTING_KEY, None)
    if not isinstance(raw, dict):
        return Connection()
    known = {k: v for k, v in raw.items() if k in Connection.__dataclass_fields__}
    return Connection(**known)


def save(store: Store, conn: Connection) -> None:
    set_setting(store, SETTING_KEY, asdict(conn.check()))


def update(store: Store, **changes: Any) -> Connection:
    conn = replace(load(store), **{k: v for k, v in changes.items() if v is not None}).check()
    save(store, conn)
    return conn


def require_vertex(conn: Connection) -> Connection:
    if not conn.project:
        raise UsageError("no Vertex AI project set: run `attune connect --project P --bucket B` first")
    return conn


# Secrets ######################################################################


def _token_from(conn: Connection) -> str | None:
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return token
    if conn.auth == "access_token":
        path = Path(conn.access_token_file)
        try:
            token = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read the access token ({exc.strerror or exc})") from exc
        if not token:
            raise UsageError(f"{path}: the access token file is empty")
        return token
    return None


def credentials(conn: Connection) -> Any:
    """google-auth credentials for the connection (a token from the environment wins)."""
    token = _token_from(conn)
    if token is not None:
        from google.oauth2.credentials import Credentials

        return Credentials(token=token)
    if conn.auth == "service_account":
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_file(conn.service_account_file, scopes=SCOPES)
        except (OSError, ValueError) as exc:
            raise UsageError(f"{conn.service_account_file}: not a usable service-account file ({exc})") from exc
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        creds, _ = google.auth.default(scopes=SCOPES)
    except DefaultCredentialsError as exc:
        raise UsageError(
            "no Application Default Credentials: run `gcloud auth application-default login`, "
            f"or connect with --service-account FILE or --access-token-file FILE ({exc})"
        ) from exc
    return creds


# A key given where no secure keychain exists: kept in this process's memory
# only, for this session (the app asks again next time), written nowhere.
_session_key: str | None = None


def api_key() -> str | None:
    """The Gemini API key from the OS keychain (or given this session), if there is one."""
    import keyring
    from keyring.errors import KeyringError

    try:
        return keyring.get_password(KEYRING_SERVICE, "api_key") or _session_key
    except KeyringError:
        return _session_key


def remember_for_session(key: str | None) -> None:
    """Use ``key`` until the process ends, without writing it anywhere (no secure keychain here)."""
    global _session_key
    _session_key = key or None


def store_api_key(key: str) -> bool:
    """Keep the key in the OS keychain; False (nothing written anywhere) when there is no secure backend."""
    import keyring
    from keyring.backends import fail
    from keyring.errors import KeyringError

    backend = keyring.get_keyring()
    if isinstance(backend, fail.Keyring) or getattr(backend, "priority", 0) <= 0:
        return False
    try:
        keyring.set_password(KEYRING_SERVICE, "api_key", key)
    except KeyringError:
        return False
    return True


# Clients (only the gated modules call these) ##################################


def service(conn: Connection) -> str:
    """Where generation goes: Vertex AI when a project is set, else the Gemini API with a keychain key."""
    if conn.project:
        return "vertex"
    if api_key():
        return "gemini-api"
    raise UsageError("not connected: run `attune connect --project P --bucket B` (Vertex AI), "
                     "or `attune connect --api-key-prompt` (Gemini API, generation only)")


def genai_client(conn: Connection, *, retries: int = 1) -> Any:
    """A google-genai client (Vertex mode when a project is set); the SDK's own retries are off
    (callers retry, honouring the server's delays)."""
    from google import genai
    from google.genai import types

    if not conn.project and api_key():
        return genai.Client(api_key=api_key(), http_options=types.HttpOptions(
            api_version="v1beta", timeout=int(conn.timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=retries)))
    require_vertex(conn)
    return genai.Client(
        vertexai=True,
        project=conn.project,
        location=conn.region,
        credentials=credentials(conn),
        http_options=types.HttpOptions(
            timeout=int(conn.timeout_s * 1000),
            retry_options=types.HttpRetryOptions(attempts=retries),
        ),
    )


def storage_client(conn: Connection) -> Any:
    from google.cloud import storage

    require_vertex(conn)
    return storage.Client(project=conn.project, credentials=credentials(conn))


@dataclass(frozen=True, slots=True)
class Check:
    part: str
    ok: bool
    message: str


def test_connection(conn: Connection, base_model: str = "gemini-2.5-flash") -> list[Check]:
    """Check each part (settings, credentials, bucket, Vertex AI) and say which failed."""
    out: list[Check] = []
    if not conn.project:
        return [Check("settings", False, "no project set")]
    out.append(Check("settings", True, f"project {conn.project}, region {conn.region}"))
    try:
        credentials(conn)
        out.append(Check("credentials", True, conn.auth if not os.environ.get(TOKEN_ENV) else f"env {TOKEN_ENV}"))
    except UsageError as exc:
        return [*out, Check("credentials", False, str(exc))]
    if conn.bucket:
        try:
            storage_client(conn).get_bucket(conn.bucket)
            out.append(Check("bucket", True, f"gs://{conn.bucket} is reachable"))
        except Exception as exc:  # noqa: BLE001 - any failure is this part's answer
            out.append(Check("bucket", False, f"gs://{conn.bucket}: {_short(exc)}"))
    else:
        out.append(Check("bucket", False, "no bucket set (tuning needs one)"))
    try:
        client = genai_client(conn)  # held: a client collected mid-call closes its HTTP session
        client.models.get(model=base_model)
        out.append(Check("vertex", True, f"{base_model} is available in {conn.region}"))
    except Exception as exc:  # noqa: BLE001
        out.append(Check("vertex", False, f"{base_model} in {conn.region}: {_short(exc)}"))
    return out


def _short(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200]
