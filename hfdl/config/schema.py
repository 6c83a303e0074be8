"""The configuration schema: every setting hfdl understands, declared exactly once.

Each setting is an attribute of the frozen dataclasses below. The attribute's name gives the
YAML key, its annotation the Python type, and ``setting(...)`` everything else: default,
description, example, constraints and environment variables. Validation
(:mod:`hfdl.config.validation`), loading (:mod:`hfdl.config.loader`), ``hfdl config show``
and ``docs/configuration.md`` (:mod:`hfdl.config.docs`) all read :data:`FIELDS`, so adding
a setting here is all it takes.

This module holds the definitions only and imports no other module of :mod:`hfdl.config` but
:mod:`hfdl.config.fields`: everything that reads the schema imports it, never the reverse.
"""

# RUF009 flags calls in dataclass defaults; setting() and section() return dataclasses.field()
# objects, exactly like field() itself, which is the point of this module.
# ruff: noqa: RUF009

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hfdl import paths
from hfdl.config.fields import (
    DefaultContext,
    SettingField,
    collect_fields,
    collect_sections,
    section,
    setting,
)
from hfdl.config.sections import (
    LogLevel,
    ScheduleSettings,
    ServiceSettings,
    VerifyMode,
)
from hfdl.database_url import database_target

# A host id is shown in reports and written to the database: a plain name.
HOST_ID_PATTERN = r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}"


def _host_id_default() -> str:
    # The host name is what an operator sees in `hostname` and the journal; its first label
    # would collide across domains, so the whole name is kept.
    import socket

    name = socket.gethostname()
    return name if re.fullmatch(HOST_ID_PATTERN, name) else "localhost"


def _models_file_default(context: DefaultContext) -> Path:
    # The catalog is configuration that people (and `hfdl add`) edit, so it lives with the
    # configuration file rather than with machine-written state.
    if context.config_file is not None:
        directory = context.config_file.parent
    else:
        directory = paths.default_config_directory(context.environ, context.euid)
    return directory / paths.MODELS_FILE_NAME


@dataclass(frozen=True, kw_only=True)
class Settings:
    """The effective configuration: defaults, overridden by the YAML file, then the environment.

    Build it with :func:`hfdl.config.load_settings`. ``config_file`` is the file that was read
    (``None`` when only defaults and environment applied); ``sources`` maps every dotted key to
    where its value came from: ``"default"``, the configuration file's path, or ``"env:NAME"``.
    The Hugging Face token is deliberately not a setting: see :mod:`hfdl.token`.
    """

    # Paths come first: later defaults (db_path, models_file) are computed from them.
    download_directory: Path = setting(
        default_factory=lambda context: paths.hf_hub_cache(context.environ, context.cwd),
        default_doc="`$HF_HUB_CACHE` (or the legacy `$HUGGINGFACE_HUB_CACHE`), else "
        "`$HF_HOME/hub`, else `$XDG_CACHE_HOME/huggingface/hub`, else "
        "`~/.cache/huggingface/hub`: the standard Hugging Face cache, also when running as root",
        example="/srv/models/huggingface/hub",
        env=("HFDL_DOWNLOAD_DIR",),
        description="Hugging Face hub cache directory that models are downloaded into. It has "
        "the layout of `HF_HUB_CACHE` (`models--org--name/blobs`, `snapshots`, `refs`), so "
        "transformers, diffusers and other Hub-aware loaders find the files when their "
        "`HF_HUB_CACHE` points here.",
    )
    state_directory: Path = setting(
        default_factory=lambda context: paths.default_state_directory(
            context.environ, context.euid
        ),
        default_doc="`/var/lib/hfdl` when running as root, else `$XDG_STATE_HOME/hfdl`, else "
        "`~/.local/state/hfdl`",
        example="/var/lib/hfdl",
        env=("HFDL_STATE_DIR",),
        description="Directory for hfdl's own state: the run lock file, logs and, unless "
        "`db_path` says otherwise, the database.",
    )
    db_path: Path = setting(
        default_factory=lambda context: (
            Path(str(context.values["state_directory"])) / paths.DATABASE_FILE_NAME
        ),
        default_doc="`<state_directory>/hfdl.db`",
        example="/var/lib/hfdl/hfdl.db",
        env=("HFDL_DB_PATH",),
        description="SQLite database that records runs, downloads and their history (unless "
        "`database_url` names another database).",
    )
    database_url: str = setting(
        default="",
        example="postgresql+psycopg://hfdl@db.example.com/hfdl",
        kind="database_url",
        env=("HFDL_DATABASE_URL",),
        description="The state database as a SQLAlchemy URL, for several hosts sharing one: "
        "`postgresql+psycopg://USER@HOST[:PORT]/DATABASE` (the database must exist; hfdl "
        "creates its tables), or `sqlite:////absolute/path.db`. Empty: the SQLite file at "
        "`db_path`. Keep a password out of the URL, in the service user's `~/.pgpass` or "
        "`PGPASSFILE` (see docs/fleet.md); one written into it is shown as `***` everywhere "
        "hfdl prints the URL.",
    )
    host_id: str = setting(
        default_factory=lambda context: _host_id_default(),
        default_doc="this machine's host name (`hostname`)",
        example="gpu-node-07",
        pattern=HOST_ID_PATTERN,
        pattern_doc="letters, digits, '.', '_' and '-', starting with a letter or digit, at "
        "most 64 characters",
        env=("HFDL_HOST_ID",),
        description="The name this host goes by in a state database several hosts share: it "
        "is recorded with every session, attempt and model state and shown by "
        "`hfdl status --fleet`. Give each host its own.",
    )
    shared_cache: bool = setting(
        default=False,
        example=True,
        env=("HFDL_SHARED_CACHE",),
        description="Set on every host when several hosts share one `download_directory` "
        "(NFS and the like, where file locks are unreliable) and one `database_url`: each blob "
        "is then downloaded once, by the host holding its lease in the database, while the "
        "others wait and link it.",
    )
    lease_seconds: int = setting(
        default=60,
        example=30,
        minimum=5,
        maximum=3600,
        env=("HFDL_LEASE_SECONDS",),
        description="How long a blob lease (`shared_cache`) and a session's heartbeat last "
        "without renewal. The holder renews both every third of it; another host takes over a "
        "blob whose lease expired (its holder died) and resumes the partial file.",
    )
    models_file: Path = setting(
        default_factory=_models_file_default,
        default_doc="`models.json` next to the configuration file that was loaded; without a "
        "configuration file, in the directory one is looked for in (`/etc/hfdl` as root, "
        "else `$XDG_CONFIG_HOME/hfdl` or `~/.config/hfdl`)",
        example="/etc/hfdl/models.json",
        env=("HFDL_MODELS_FILE",),
        description="The model catalog: a JSON file listing the models to download.",
    )
    log_level: LogLevel = setting(
        default="INFO",
        example="DEBUG",
        env=("HFDL_LOG_LEVEL",),
        description="Least severe log messages that are written. Case-insensitive.",
    )
    max_retries: int = setting(
        default=5,
        example=3,
        minimum=0,
        env=("HFDL_MAX_RETRIES",),
        description="How many times a model whose download failed with a temporary error is "
        "retried within one run, after the first attempt. 0 disables retries.",
    )
    timeout_seconds: int = setting(
        default=3600,
        example=7200,
        minimum=1,
        env=("HFDL_TIMEOUT",),
        description="Upper bound, in seconds, on one attempt at downloading one model, all its "
        "files included. A longer attempt is aborted and counts as a failed attempt.",
    )
    stall_timeout_seconds: int = setting(
        default=60,
        example=120,
        minimum=1,
        env=("HFDL_STALL_TIMEOUT",),
        description="A transfer that receives no bytes for this many seconds is aborted and "
        "retried.",
    )
    concurrent_downloads: int = setting(
        default=2,
        example=8,
        minimum=1,
        maximum=64,
        env=("HFDL_CONCURRENT_DOWNLOADS",),
        description="How many models a run downloads at the same time, unless the run's "
        "schedule (`max_concurrent_downloads`) or `hfdl run --max-concurrent` says otherwise.",
    )
    connections_per_file: int = setting(
        default=16,
        example=4,
        minimum=1,
        maximum=32,
        env=("HFDL_CONNECTIONS_PER_FILE",),
        description="How many connections one large file is fetched over at once, as byte "
        "ranges written in place and resumed part by part. Files under 8 MiB, and servers "
        "that do not serve ranges, use one connection. 1 turns ranged transfers off.",
    )
    max_connections: int = setting(
        default=16,
        example=32,
        minimum=1,
        maximum=128,
        env=("HFDL_MAX_CONNECTIONS",),
        description="Upper bound on the download connections open to one host at once: the "
        "ranged parts of large files and the single streams of small ones, shared by every file "
        "a run downloads (a model's files are fetched side by side). On HTTP 429 or 503 the "
        "allowance halves (down to 1) and doubles back with each part that completes.",
    )
    endpoint: str = setting(
        default="https://huggingface.co",
        example="https://hf-mirror.example.com",
        kind="url",
        env=("HFDL_ENDPOINT", "HF_ENDPOINT"),
        description="Base URL of the Hugging Face Hub or of a mirror; http:// or https://. A "
        "trailing slash is removed.",
    )
    verify_on_run: VerifyMode = setting(
        default="off",
        example="repair",
        env=("HFDL_VERIFY_ON_RUN",),
        description="Whether a run also re-hashes the files of models that were already up to "
        "date (what `hfdl models verify` does): `off`; `report` (a bad file fails the run); or "
        "`repair` (bad files are fetched again). Files downloaded by the run itself are always "
        "verified while they stream. Costs reading every byte of those models from disk. Quote "
        'it in YAML (`"off"`): bare `off` is the boolean false there.',
    )
    default_schedule: ScheduleSettings = section(
        "Defaults for schedules: when scheduled runs happen and how many models they download "
        "at once. Used for schedules created without these options and to render the systemd "
        "timer.",
        ScheduleSettings,
    )
    service: ServiceSettings = section(
        "How the systemd service and timer units are rendered.", ServiceSettings
    )

    config_file: Path | None = field(default=None, compare=False)
    sources: dict[str, str] = field(default_factory=dict, compare=False, repr=False)

    @property
    def database(self) -> str | Path:
        """The state database: ``database_url`` when set, else the SQLite file ``db_path``.

        Hand it to :func:`hfdl.database_url.database_target` (or ``Store``) as it is; it may
        hold a password, so never print it.
        """
        return self.database_url or self.db_path

    @property
    def database_display(self) -> str:
        """How messages name the state database: its path, or its URL without password."""
        return database_target(self.database).display

    def database_exists(self) -> bool:
        """Whether there may be state to read: the SQLite file exists, or the database is on
        a server (created by its administrator; hfdl initialises an empty one)."""
        return database_target(self.database).exists()

    def get(self, key: str) -> object:
        """Return the value of a dotted key such as ``default_schedule.time``.

        Raises:
            KeyError: ``key`` is not a setting.
        """
        if key not in FIELDS_BY_KEY:
            raise KeyError(key)
        value: object = self
        for part in key.split("."):
            value = getattr(value, part)
        return value

    def as_dict(self) -> dict[str, Any]:
        """Return the settings as nested plain data, JSON-safe (paths as strings).

        ``config_file`` and ``sources`` are not included: they describe the settings rather
        than being settings, and the result can be written back as a configuration file.
        """
        result: dict[str, Any] = {}
        for setting_field in FIELDS:
            *parents, name = setting_field.key.split(".")
            target = result
            for parent in parents:
                target = target.setdefault(parent, {})
            value = self.get(setting_field.key)
            target[name] = str(value) if isinstance(value, Path) else value
        return result


FIELDS: tuple[SettingField, ...] = tuple(collect_fields(Settings))
FIELDS_BY_KEY: dict[str, SettingField] = {item.key: item for item in FIELDS}
SECTIONS: dict[str, tuple[type, str]] = collect_sections(Settings)

# The variables that choose the configuration file, highest priority first.
CONFIG_PATH_ENV = ("HFDL_CONFIG_PATH", "HF_DOWNLOADER_CONFIG_PATH")
