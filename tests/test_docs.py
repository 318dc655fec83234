"""The manual against the code: every config key is described, and the getting-started page's Python runs."""

from __future__ import annotations

import contextlib
import importlib.util
import io
import re
import shlex
import shutil
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent


def _reference() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_reference", ROOT / "scripts" / "docs_reference.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_every_config_key_has_a_description() -> None:
    rows = _reference().config_rows()
    missing = [row["key"] for row in rows if not row["description"].strip()]
    assert not missing, f"config keys without Field(description=...): {missing}"


def test_config_reference_covers_the_defaults_file() -> None:
    rows = _reference().config_rows()
    defaults = yaml.safe_load((ROOT / "configs" / "default.yaml").read_text(encoding="utf-8"))
    in_file = {f"{section}.{key}": value for section, keys in defaults.items() for key, value in keys.items()}
    in_reference = {row["key"]: row["default"] for row in rows}
    assert in_reference == in_file


def test_reference_pages_render() -> None:
    reference = _reference()
    config = reference.config_markdown()
    assert '| `retrieval.search_type` | `str` | `"hybrid"` |' in config
    assert "`similarity`, `mmr`" in config  # allowed values come from the registry the validator uses
    cli = reference.cli_markdown()
    for command in ("index", "query", "info", "verify", "add", "delete", "eval"):
        assert f"## `rag-index {command}`" in cli
    assert "--suite" in cli


def _python_blocks(page: Path) -> list[str]:
    return re.findall(r"^```python\n(.*?)^```", page.read_text(encoding="utf-8"), flags=re.S | re.M)


def test_getting_started_python_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocks = _python_blocks(ROOT / "docs" / "getting-started.md")
    assert len(blocks) >= 2
    _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            exec(compile(block, "getting-started.md", "exec"), namespace)
    printed = out.getvalue()
    assert "2 files" in printed
    assert "warranty.md" in printed
    assert "Two years [1]." in printed


def _folder(tmp_path: Path) -> Path:
    """The reader's own folder of the getting-started page: a Markdown and a text file."""
    folder = tmp_path / "my-docs"
    folder.mkdir()
    (folder / "warranty.md").write_text(
        "# Warranty\n\nThe grinder carries a two year warranty on the motor and the housing.\n",
        encoding="utf-8",
    )
    (folder / "cleaning.txt").write_text("Clean the burrs every week with the brush.\n", encoding="utf-8")
    return folder


# Lines of the page's shell blocks that set up the environment the test suite already runs in.
SET_UP = ("make ", "source ")


def test_getting_started_commands_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Every rag-index command of the page's shell blocks, in order, through the CLI's main()."""
    from rag_index.cli import main

    text = (ROOT / "docs" / "getting-started.md").read_text(encoding="utf-8")
    lines = [
        line.strip()
        for block in re.findall(r"^```bash\n(.*?)^```", text, flags=re.S | re.M)
        for line in block.splitlines()
        if line.strip()
    ]
    commands = [shlex.split(line, comments=True) for line in lines if not line.startswith(SET_UP)]
    assert [command[:2] for command in commands] == [["rag-index", "index"], ["rag-index", "query"]]
    _folder(tmp_path)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for command in commands:
        assert main(command[1:]) == 0, command
        outputs.append(capsys.readouterr().out)
    assert outputs[0].startswith("indexed 2 file(s), 2 chunk(s)")
    assert "warranty.md" in outputs[1] and "two year warranty" in outputs[1]


def test_readme_python_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's two examples against the sample corpus; its `llm = ...` stands for any chat model."""
    from langchain_core.language_models import FakeListChatModel

    blocks = _python_blocks(ROOT / "README.md")
    assert len(blocks) == 2
    shutil.copytree(ROOT / "data", tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, Any] = {"FakeListChatModel": FakeListChatModel}
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for block in blocks:
            block = re.sub(
                r"^llm = \.\.\..*$",
                'llm = FakeListChatModel(responses=["Three years [1]."])',
                block,
                flags=re.M,
            )
            exec(compile(block, "README.md", "exec"), namespace)
    printed = out.getvalue()
    assert "handbook.pdf" in printed  # the warranty's page comes from the handbook
    assert "Three years [1]." in printed


def _notebooks_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_notebooks", ROOT / "scripts" / "docs_notebooks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is made
    spec.loader.exec_module(module)
    return module


def test_a_notebook_without_its_data_is_shown_with_the_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The site builds where ../shared is absent: the page says which path is missing, and nothing ran."""
    nbformat = pytest.importorskip("nbformat")
    script = _notebooks_script()
    monkeypatch.setattr(script, "BUILD", tmp_path / "build")
    absent = "../../no-such-folder/datasets/scifact"
    monkeypatch.setitem(script.RUNS, "02_pooling_comparison.ipynb", script.Run({"QUERIES": 2}, (absent,)))
    book = nbformat.reads(script.execute("02_pooling_comparison.ipynb", "sources").decode(), as_version=4)
    assert f"`{absent}` is absent" in book.cells[1].source
    code = [cell for cell in book.cells if cell.cell_type == "code"]
    assert all(not cell.outputs for cell in code)
    assert "QUERIES = 2" not in code[0].source  # the build's parameters are shown only where they ran


def test_the_build_parameters_are_shown_below_the_notebooks_own() -> None:
    script = _notebooks_script()
    run = script.Run({"QUERIES": 20, "SIZES": [128, 200]}, note="a subset")
    shown = script._parameters_source("QUERIES = None\nSIZES = [128, 254]\n", run)
    assert shown.splitlines() == [
        "QUERIES = None",
        "SIZES = [128, 254]",
        "",
        "# This site's build ran it with (scripts/docs_notebooks.py): a subset",
        "QUERIES = 20",
        "SIZES = [128, 200]",
    ]
    assert set(script.RUNS) == {path.name for path in (ROOT / "notebooks").glob("*.ipynb")}
