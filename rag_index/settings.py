"""What every settings section shares: unknown keys are errors, and errors read like the config's.

The stages define their own sections (``EmbedderConfig`` in ``embed``, ``ChunkingConfig`` in ``chunking``,
``RetrievalConfig`` in ``search``) so that a Python constructor and a YAML file are checked by the same
rules, with the same messages; ``config.py`` only puts them together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError

from rag_index.errors import ConfigError

S = TypeVar("S", bound="Section")


class Section(BaseModel):
    """Base of every section: unknown keys are errors, values are checked on assignment too."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


def one_of(value: object, allowed: list[str]) -> str:
    """The value when it is one of allowed; else ValueError listing them."""
    if value not in allowed:
        raise ValueError(f"{value!r} is not one of {', '.join(allowed)}")
    return str(value)


def describe(error: Mapping[str, Any], where: str = "") -> str:
    """One pydantic error as 'section.key: what is wrong' (where: the prefix, e.g. 'embedder.')."""
    path = where + ".".join(str(part) for part in error["loc"])
    path = path.removesuffix(".")  # an error of a whole section: 'retrieval: ...'
    kind, message, value = error["type"], error["msg"], error.get("input")
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "literal_error":
        allowed = error["ctx"]["expected"].replace(" or ", ", ").replace("'", "")
        return f"{path}: {value!r} is not one of {allowed}"
    message = message.removeprefix("Value error, ")
    return f"{path}: {message}" if kind == "value_error" else f"{path}: {value!r}: {message}"


def validated(model: type[S], values: Mapping[str, Any], where: str = "") -> S:
    """model(**values), or ConfigError naming each bad key (prefixed with where, e.g. 'embedder.')."""
    try:
        return model.model_validate(dict(values))
    except ValidationError as err:
        raise ConfigError("\n".join(describe(e, where) for e in err.errors())) from None
