"""The nested sections of the configuration schema: ``default_schedule`` and ``service``.

Split from :mod:`hfdl.config.schema` (which assembles :class:`~hfdl.config.schema.Settings`)
to keep each module small; the same rules apply: every setting declared once, with
``setting(...)``.
"""

# RUF009: setting() returns dataclasses.field() objects, like field() itself.
# ruff: noqa: RUF009

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from hfdl.config.fields import setting

TIME_PATTERN = r"^([01]?[0-9]|2[0-3]):([0-5][0-9])$"
# The user and group names every tool accepts (useradd's default rule, systemd's "portable"
# names): a lower-case letter or "_" first, at most 32 characters. They are written into the
# system unit (User=, Group=) and the install command that creates the download directory.
ACCOUNT_NAME_PATTERN = r"[a-z_][a-z0-9_-]{0,31}"
ACCOUNT_NAME_DOC = (
    "a user or group name: lower-case letters, digits, '_' and '-', starting with a letter or "
    "'_', at most 32 characters"
)
# The service must never run as root (issue 10): refused by name; uid 0 has no other name
# that the pattern accepts on a sane system.
SERVICE_USER_PATTERN = r"(?!root$)" + ACCOUNT_NAME_PATTERN
WEEKDAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]
ScheduleType = Literal["daily", "weekly"]
VerifyMode = Literal["off", "report", "repair"]


@dataclass(frozen=True, kw_only=True)
class ScheduleSettings:
    """When scheduled runs happen (the ``default_schedule`` section)."""

    enabled: bool = setting(
        default=True,
        example=False,
        description="Whether the schedule is active. When false, its timer starts no runs; "
        "`hfdl run` still downloads on demand.",
    )
    type: ScheduleType = setting(
        default="daily",
        example="weekly",
        description="How often scheduled runs happen: `daily`, or `weekly` on `day`.",
    )
    time: str = setting(
        default="02:00",
        example="23:30",
        kind="time",
        description="Local time of day at which a scheduled run starts, as HH:MM on a 24-hour "
        'clock (00:00 to 23:59). Quote it in YAML: `time: "02:00"`.',
    )
    day: int | None = setting(
        default=None,
        example="sun",
        kind="weekday",
        description="Day of the week of a weekly run: 0-6 with Monday = 0, or a name (`mon` .. "
        "`sun`, `monday` .. `sunday`); stored as 0-6. Required when `type` is `weekly`, "
        "not allowed when it is `daily`.",
    )
    max_concurrent_downloads: int = setting(
        default=2,
        example=4,
        minimum=1,
        description="How many models a scheduled run downloads at the same time (what "
        "`concurrent_downloads` is for runs started by hand).",
    )


@dataclass(frozen=True, kw_only=True)
class ServiceSettings:
    """How the systemd service and timer units are rendered (the ``service`` section)."""

    timeout_start_seconds: int = setting(
        default=21600,
        example=43200,
        minimum=1,
        description="How long systemd lets one run of the service take before stopping it "
        "(the unit's `TimeoutStartSec=`); it bounds a whole run, all models included.",
    )
    randomized_delay_seconds: int = setting(
        default=300,
        example=900,
        minimum=0,
        description="Scheduled starts are delayed by a random time up to this many seconds "
        "(the timer's `RandomizedDelaySec=`) so that many machines do not hit the Hub at "
        "once. 0 starts on time.",
    )
    nice: int = setting(
        default=10,
        example=19,
        minimum=-20,
        maximum=19,
        description="CPU scheduling priority of the service (the unit's `Nice=`): -20 is the "
        "highest priority, 19 the lowest.",
    )
    retry_delay_seconds: int = setting(
        default=600,
        example=300,
        minimum=1,
        description="After a scheduled run failed on a temporary error (the Hub unavailable, "
        "the run lock or the database busy: exit 75) or crashed, systemd starts it again this "
        "many seconds later (the unit's `RestartSec=`), instead of waiting for the next "
        "calendar time.",
    )
    retry_attempts: int = setting(
        default=6,
        example=3,
        minimum=0,
        maximum=100,
        description="How many times systemd restarts a scheduled run that failed on a "
        "temporary error, at most (`StartLimitBurst=` is this plus one). With the default "
        "delay, 6 restarts cover an hour. 0 disables restarts.",
    )
    user: str = setting(
        default="hfdl",
        example="models",
        pattern=SERVICE_USER_PATTERN,
        pattern_doc=ACCOUNT_NAME_DOC + ", not root",
        description="The account the system service runs as (the unit's `User=`); never root. "
        "It owns the download directory and the state directory. The hfdl package creates "
        "the `hfdl` user; another account must exist before `hfdl start --system`. User "
        "units always run as the user who started them.",
    )
    group: str = setting(
        default="hfdl",
        example="models",
        pattern=ACCOUNT_NAME_PATTERN,
        pattern_doc=ACCOUNT_NAME_DOC,
        description="The primary group of the system service (the unit's `Group=`): the group "
        "of the state directory and of whatever the service writes outside the download "
        "directory.",
    )
    cache_group: str = setting(
        default="hfdl",
        example="inference",
        pattern=ACCOUNT_NAME_PATTERN,
        pattern_doc=ACCOUNT_NAME_DOC,
        description="The group that may read, not write, the downloaded models (system "
        "service only): the download directory is created `<user>:<cache_group>` with mode "
        "2750 (setgid, so every folder and file below inherits the group) and files are "
        "written group-readable. Make it the group of the model servers "
        "(`usermod -aG <cache_group> vllm`); other users cannot read the models.",
    )
