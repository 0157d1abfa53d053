"""Reading cloudledger.yaml: defaults < the file < CLOUDLEDGER_* env, with errors that name
the line and a close match."""

from __future__ import annotations

import difflib
import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from cloudledger.config.allocate import check_allocation
from cloudledger.config.base import DEFAULT_CONFIG
from cloudledger.config.settings import Settings


def load_settings(path: str | Path | None = None, *, check: bool = True) -> Settings:
    """Settings from ``path`` (or ./cloudledger.yaml if present), then CLOUDLEDGER_* env.

    Errors name the line (``unknown key 'sharred' at line 12; did you mean 'shared'?``);
    with ``check`` the semantic checks of :func:`check_settings` run too.
    """
    from cloudledger.errors import InputError

    target = Path(path) if path else DEFAULT_CONFIG
    data: dict[str, Any] = {}
    lines: dict[tuple[str | int, ...], int] = {}
    if target.exists():
        data, lines = parse_yaml(read_config_text(target), str(target))
    elif path:
        raise InputError(f"no config file at {target}",
                         hint="run `cloudledger init` to write a starter file")
    if os.environ.get("CLOUDLEDGER_STORE"):
        data["store"] = os.environ["CLOUDLEDGER_STORE"]
    return settings_from(data, lines, str(target), check=check)


def read_config_text(target: Path) -> str:
    """The settings file as text: UTF-8 (a BOM is allowed), else an InputError that names
    the line with the first byte that is not UTF-8."""
    from cloudledger.errors import InputError

    try:
        raw = target.read_bytes()
    except OSError as e:
        raise InputError(f"cannot read the config file: {e.strerror or e}", where=str(target),
                         hint="check the path and its permissions") from e
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise InputError(f"the config file is not UTF-8 (byte 0x{raw[e.start]:02x} at line "
                         f"{line}; looks like Latin-1/cp1252)", where=f"{target}, line {line}",
                         hint="save it as UTF-8 (e.g. `iconv -f CP1252 -t UTF-8`)") from None


def parse_yaml(text: str, source: str) -> tuple[dict[str, Any], dict[tuple[str | int, ...], int]]:
    """YAML text -> (plain data, line of every mapping key and list item)."""
    import yaml

    from cloudledger.errors import InputError

    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{source}, line {mark.line + 1}" if mark else source
        raise InputError(f"not valid YAML: {getattr(e, 'problem', None) or e}",
                         where=where) from e
    if node is None:
        return {}, {}
    lines: dict[tuple[str | int, ...], int] = {}

    def walk(n: Any, path: tuple[str | int, ...]) -> None:
        if isinstance(n, yaml.MappingNode):
            for k, v in n.value:
                key = path + (str(k.value),)
                lines.setdefault(key, k.start_mark.line + 1)
                walk(v, key)
        elif isinstance(n, yaml.SequenceNode):
            for i, v in enumerate(n.value):
                lines[path + (i,)] = v.start_mark.line + 1
                walk(v, path + (i,))

    walk(node, ())
    data = yaml.load(text, Loader=yaml.SafeLoader)  # noqa: S506 - SafeLoader
    if not isinstance(data, dict):
        raise InputError("the config must be a mapping of settings (key: value)",
                         where=f"{source}, line 1")
    return data, lines


def settings_from(data: dict[str, Any], lines: dict[tuple[str | int, ...], int] | None = None,
                  source: str = "settings", *, check: bool = True) -> Settings:
    """Validate plain data into :class:`Settings` with line-numbered, suggesting errors."""
    from pydantic import ValidationError

    from cloudledger.errors import InputError

    lines = lines or {}
    try:
        settings = Settings.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        loc = tuple(first["loc"])
        line = next((lines[loc[:n]] for n in range(len(loc), 0, -1) if loc[:n] in lines), None)
        at = f" at line {line}" if line else ""
        dotted = ".".join(str(p) for p in loc)
        if first["type"] == "extra_forbidden":
            key = str(loc[-1])
            allowed = _fields_at(loc[:-1])
            close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
            msg = f"unknown key {key!r}{at}" + (f"; did you mean {close[0]!r}?" if close else "")
            raise InputError(msg, where=source,
                             hint=f"keys allowed here: {', '.join(allowed)}") from e
        raise InputError(f"{dotted}: {first['msg']}{at}", where=source,
                         hint="see the commented example from `cloudledger init`") from e
    settings._lines = lines
    settings._source = source
    if check:
        check_settings(settings)
    return settings


def _fields_at(loc: tuple[Any, ...]) -> list[str]:
    """Field names of the model found by following ``loc`` from Settings."""
    import typing

    model: Any = Settings
    for part in loc:
        if isinstance(part, int) or model is None:
            continue
        field = getattr(model, "model_fields", {}).get(part)
        if field is None:
            return []
        model = None
        for t in [field.annotation, *typing.get_args(field.annotation)]:
            if isinstance(t, type) and issubclass(t, BaseModel):
                model = t
            for inner in typing.get_args(t):
                if isinstance(inner, type) and issubclass(inner, BaseModel):
                    model = inner
    return list(getattr(model, "model_fields", {})) if model is not None else []


def check_settings(settings: Settings) -> None:
    """Every area's semantic checks (those that need no data)."""
    check_allocation(settings)
