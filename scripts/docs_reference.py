"""The generated reference pages: every config key from the pydantic models, the CLI from its argparse parser.

Run by mkdocs-gen-files at build time (mkdocs.yml), so the pages cannot drift from the code;
`python scripts/docs_reference.py` prints them. tests/test_docs.py imports config_rows() to check that every
key has a description.
"""

from __future__ import annotations

import argparse
import json
import types
import typing
from typing import Any, Literal

from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from rag_index.cli import _parser
from rag_index.config import Config


def _type_name(annotation: Any) -> str:
    """A reader's name for a field's type: str, int | None, list[str], ..."""
    origin = typing.get_origin(annotation)
    if origin is Literal:
        return "str"
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(arg) for arg in typing.get_args(annotation))
    if origin is list:
        (item,) = typing.get_args(annotation)
        return f"list[{_type_name(item)}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _choices(field: FieldInfo) -> list[str]:
    """The allowed values: a Literal's, or the registry the field's validator checks against."""
    if typing.get_origin(field.annotation) is Literal:
        return [str(arg) for arg in typing.get_args(field.annotation)]
    extra = field.json_schema_extra
    if isinstance(extra, dict) and isinstance(extra.get("choices"), list):
        return [str(choice) for choice in extra["choices"]]
    return []


def _bounds(field: FieldInfo) -> list[str]:
    """The numeric bounds pydantic checks (gt, ge, lt, le) as '> 0', '<= 600', ..."""
    signs = {"gt": ">", "ge": ">=", "lt": "<", "le": "<="}
    found = []
    for rule in field.metadata:
        for name, sign in signs.items():
            value = getattr(rule, name, None)
            if value is not None:
                found.append(f"{sign} {value:g}")
    return found


def _default(field: FieldInfo) -> Any:
    if field.default_factory is not None:
        return field.default_factory()  # type: ignore[call-arg]
    return None if field.default is PydanticUndefined else field.default


def config_rows() -> list[dict[str, Any]]:
    """One row per config key, in the order of configs/default.yaml (key, type, default, allowed, ...)."""
    rows = []
    for section, section_field in Config.model_fields.items():
        model = section_field.annotation
        assert isinstance(model, type)
        for name, field in model.model_fields.items():
            allowed = _choices(field) or _bounds(field)
            rows.append(
                {
                    "section": section,
                    "key": f"{section}.{name}",
                    "type": _type_name(field.annotation),
                    "default": _default(field),
                    "allowed": allowed,
                    "description": field.description or "",
                    "doc": (model.__doc__ or "").strip().splitlines()[0],
                }
            )
    return rows


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def config_markdown() -> str:
    """The configuration reference page."""
    lines = [
        "# Configuration reference",
        "",
        "Generated from the pydantic models of `rag_index.config.Config` when the site is built, so it is "
        "what the code accepts. Settings come from YAML (`--config FILE`), `--set section.key=value` on the "
        "command line, or keyword arguments of `RagIndex(...)`; `configs/default.yaml` equals the defaults. "
        "Unknown keys and bad values fail with the key path, the value and what was expected.",
    ]
    section = None
    for row in config_rows():
        if row["section"] != section:
            section = row["section"]
            lines += [
                "",
                f"## `{section}:`",
                "",
                row["doc"],
                "",
                "| key | type | default | allowed | description |",
            ]
            lines.append("|---|---|---|---|---|")
        default = f"`{json.dumps(row['default'])}`"
        allowed = ", ".join(f"`{value}`" for value in row["allowed"]) or "any"
        lines.append(
            f"| `{row['key']}` | `{_cell(row['type'])}` | {_cell(default)} | {_cell(allowed)} "
            f"| {_cell(row['description'])} |"
        )
    return "\n".join(lines) + "\n"


def _usage(parser: argparse.ArgumentParser) -> str:
    return parser.format_usage().removeprefix("usage: ").strip()


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    lines = ["| argument | default | description |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, (argparse._HelpAction, argparse._SubParsersAction)):
            continue
        name = ", ".join(action.option_strings) or (action.metavar or action.dest)
        if action.metavar and action.option_strings:
            name += f" {action.metavar}"
        elif action.choices and action.option_strings:
            name += " {" + ",".join(map(str, action.choices)) + "}"
        default = action.default
        shown = "" if default in (None, False, [], argparse.SUPPRESS) else f"`{default}`"
        text = (action.help or "").replace("%(const)s", str(action.const))
        lines.append(f"| `{_cell(name)}` | {_cell(shown)} | {_cell(text)} |")
    return lines


def cli_markdown() -> str:
    """The command-line reference page, walked from rag_index.cli's argparse parser."""
    parser = _parser()
    lines = [
        "# Command-line reference",
        "",
        "Generated from the `rag-index` argparse parser when the site is built.",
        "",
        f"```text\n{_usage(parser)}\n```",
        "",
        parser.description or "",
        "",
        *_options_table(parser),
    ]
    subparsers = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    helps = {choice.dest: choice.help for choice in subparsers._choices_actions}
    for name, command in subparsers.choices.items():
        summary = helps.get(name) or ""
        lines += ["", f"## `rag-index {name}`", "", summary[:1].upper() + summary[1:] + ".", ""]
        lines += [f"```text\n{_usage(command)}\n```", "", *_options_table(command)]
    return "\n".join(lines) + "\n"


PAGES = {"reference/config.md": config_markdown, "reference/cli.md": cli_markdown}

if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    import mkdocs_gen_files

    for page, make in PAGES.items():
        with mkdocs_gen_files.open(page, "w") as out:
            out.write(make())
        mkdocs_gen_files.set_edit_path(page, "scripts/docs_reference.py")
elif __name__ == "__main__":
    for make in PAGES.values():
        print(make())
