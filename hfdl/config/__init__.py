"""hfdl's configuration: schema, loading, validation.

Typical use::

    from hfdl.config import load_settings

    settings = load_settings(config_path)  # raises ConfigError / ConfigFileNotFound
    settings.download_directory, settings.default_schedule.time, settings.sources

Importing this package is cheap: PyYAML is imported only when a file is actually read.
"""

from hfdl.config.docs import render_reference_markdown
from hfdl.config.fields import SettingField
from hfdl.config.loader import find_config_file, load_settings
from hfdl.config.schema import (
    CONFIG_PATH_ENV,
    FIELDS,
    FIELDS_BY_KEY,
    ScheduleSettings,
    ServiceSettings,
    Settings,
)
from hfdl.config.validation import InvalidValue, check_value, parse_text, validate_document
from hfdl.config.yaml_io import dump_settings_yaml

__all__ = [
    "CONFIG_PATH_ENV",
    "FIELDS",
    "FIELDS_BY_KEY",
    "InvalidValue",
    "ScheduleSettings",
    "ServiceSettings",
    "SettingField",
    "Settings",
    "check_value",
    "dump_settings_yaml",
    "find_config_file",
    "load_settings",
    "parse_text",
    "render_reference_markdown",
    "validate_document",
]
