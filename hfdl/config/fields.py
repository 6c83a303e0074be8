"""The machinery that turns annotated dataclass attributes into setting declarations.

:mod:`hfdl.config.schema` declares the settings with :func:`setting` and :func:`section`;
:func:`collect_fields` flattens them into :class:`SettingField` records (one per dotted key)
that validation, loading and the generated reference read.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

# Keys of dataclasses.field(metadata=...) that mark a setting and a section.
_SETTING = "hfdl.setting"
_SECTION = "hfdl.section"

# The prefix of hfdl's own variables, and the alias prefix accepted for each of them.
ENV_PREFIX = "HFDL_"
ENV_ALIAS_PREFIX = "HF_DOWNLOADER_"

# The value kinds validation knows how to check; see hfdl.config.validation.
KINDS = ("path", "int", "bool", "str", "choice", "time", "url", "database_url", "weekday")


@dataclass(frozen=True)
class DefaultContext:
    """What a computed default may depend on.

    ``values`` holds the effective values of the settings declared earlier (dotted keys), so
    that ``db_path`` can follow a ``state_directory`` set in the file or environment.
    """

    environ: Mapping[str, str]
    euid: int
    cwd: Path
    config_file: Path | None
    values: Mapping[str, object]


@dataclass(frozen=True)
class _Declaration:
    """What ``setting(...)`` records about an attribute; completed into a :class:`SettingField`."""

    description: str
    example: object
    default: object
    default_factory: Callable[[DefaultContext], object] | None
    default_doc: str | None
    kind: str | None
    minimum: int | None
    maximum: int | None
    env: tuple[str, ...]
    pattern: str | None
    pattern_doc: str | None


def setting(
    *,
    description: str,
    example: object,
    default: object = None,
    default_factory: Callable[[DefaultContext], object] | None = None,
    default_doc: str | None = None,
    kind: str | None = None,
    minimum: int | None = None,
    maximum: int | None = None,
    env: tuple[str, ...] = (),
    pattern: str | None = None,
    pattern_doc: str | None = None,
) -> Any:
    """Declare a setting as a dataclass attribute.

    Args:
        description: what the setting does, one or two sentences, for docs and comments.
        example: a realistic non-default value, shown in the reference.
        default: the constant default (ignored when ``default_factory`` is given).
        default_factory: computes the default from a :class:`DefaultContext`.
        default_doc: how the reference describes a computed default.
        kind: the value kind when the annotation alone does not say it (``time``, ``url``,
            ``weekday``); otherwise derived from the annotation.
        minimum: smallest allowed integer.
        maximum: largest allowed integer.
        env: environment variables that override the setting, highest priority first. Each
            ``HFDL_X`` name is also accepted as ``HF_DOWNLOADER_X``.
        pattern: a regular expression a string value must match whole (``str`` settings).
        pattern_doc: what ``pattern`` allows, in words, for the error message.

    Returns:
        A ``dataclasses.field`` carrying the declaration (typed ``Any``, like ``field()``).
    """
    declaration = _Declaration(
        description=description,
        example=example,
        default=default,
        default_factory=default_factory,
        default_doc=default_doc,
        kind=kind,
        minimum=minimum,
        maximum=maximum,
        env=env,
        pattern=pattern,
        pattern_doc=pattern_doc,
    )
    metadata = {_SETTING: declaration}
    if default_factory is not None:
        # Computed defaults need the environment, so only the loader can supply them.
        return field(metadata=metadata)
    return field(default=default, metadata=metadata)


def section(description: str, factory: Callable[[], object]) -> Any:
    """Declare a nested group of settings (a YAML mapping) as a dataclass attribute."""
    return field(default_factory=factory, metadata={_SECTION: description})


@dataclass(frozen=True)
class SettingField:
    """Everything known about one setting, with its dotted key. Built from the dataclasses."""

    key: str
    python_type: object
    kind: str
    description: str
    example: object
    default: object
    default_factory: Callable[[DefaultContext], object] | None
    default_doc: str | None
    minimum: int | None
    maximum: int | None
    choices: tuple[str, ...]
    env: tuple[str, ...]
    # A string setting's value must match this whole (None: any string); pattern_doc says
    # what it allows, in words, for error messages.
    pattern: str | None = None
    pattern_doc: str | None = None

    @property
    def name(self) -> str:
        """The last part of the dotted key."""
        return self.key.rpartition(".")[2]

    @property
    def accepts_null(self) -> bool:
        """Whether YAML ``null`` is allowed; it means "use the default"."""
        return self.default_factory is not None or self.default is None

    def default_for(self, context: DefaultContext) -> object:
        """Return the default value, computing it from ``context`` when needed."""
        if self.default_factory is not None:
            return self.default_factory(context)
        return self.default


def _with_aliases(names: tuple[str, ...]) -> tuple[str, ...]:
    """Insert the ``HF_DOWNLOADER_X`` alias right after each ``HFDL_X`` name."""
    result: list[str] = []
    for name in names:
        result.append(name)
        if name.startswith(ENV_PREFIX):
            result.append(ENV_ALIAS_PREFIX + name.removeprefix(ENV_PREFIX))
    return tuple(result)


def _kind_of(annotation: object) -> tuple[str, tuple[str, ...]]:
    """Derive the value kind (and choices) from a type annotation."""
    if typing.get_origin(annotation) is Literal:
        return "choice", tuple(str(choice) for choice in typing.get_args(annotation))
    for python_type, kind in ((Path, "path"), (bool, "bool"), (int, "int"), (str, "str")):
        if annotation is python_type:
            return kind, ()
    raise TypeError(f"no value kind for annotation {annotation!r}; pass kind=")


def collect_fields(cls: type, prefix: str = "") -> list[SettingField]:
    """Walk a settings dataclass (and its sections) into a flat list, in declaration order."""
    annotations = typing.get_type_hints(cls)
    collected: list[SettingField] = []
    for attribute in dataclasses.fields(cls):
        if _SECTION in attribute.metadata:
            nested = annotations[attribute.name]
            collected.extend(collect_fields(nested, f"{prefix}{attribute.name}."))
            continue
        declaration = attribute.metadata.get(_SETTING)
        if declaration is None:
            continue  # config_file, sources: not settings
        if declaration.kind is None:
            derived_kind, choices = _kind_of(annotations[attribute.name])
        else:
            derived_kind, choices = declaration.kind, ()
        if derived_kind not in KINDS:
            raise TypeError(f"unknown kind {derived_kind!r} for {attribute.name}")
        collected.append(
            SettingField(
                key=prefix + attribute.name,
                python_type=annotations[attribute.name],
                kind=derived_kind,
                description=declaration.description,
                example=declaration.example,
                default=declaration.default,
                default_factory=declaration.default_factory,
                default_doc=declaration.default_doc,
                minimum=declaration.minimum,
                maximum=declaration.maximum,
                choices=choices,
                env=_with_aliases(declaration.env),
                pattern=declaration.pattern,
                pattern_doc=declaration.pattern_doc,
            )
        )
    return collected


def collect_sections(cls: type, prefix: str = "") -> dict[str, tuple[type, str]]:
    """Map each section's dotted key to its dataclass and description."""
    annotations = typing.get_type_hints(cls)
    found: dict[str, tuple[type, str]] = {}
    for attribute in dataclasses.fields(cls):
        if _SECTION in attribute.metadata:
            nested = annotations[attribute.name]
            key = prefix + attribute.name
            found[key] = (nested, attribute.metadata[_SECTION])
            found.update(collect_sections(nested, key + "."))
    return found
