"""Put the notebooks into the documentation site as pages (mkdocs-gen-files runs this; see mkdocs.yml).

They are shown as committed, without outputs: mkdocs-jupyter does not execute them (execute: false),
since running them needs the shared datasets (../shared) and minutes of compute.
"""

from __future__ import annotations

from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

if __name__ == "<run_path>":  # mkdocs-gen-files runs this file with runpy.run_path
    import mkdocs_gen_files

    for notebook in sorted(NOTEBOOKS.glob("*.ipynb")):
        page = f"notebooks/{notebook.name}"
        with mkdocs_gen_files.open(page, "wb") as out:
            out.write(notebook.read_bytes())
        mkdocs_gen_files.set_edit_path(page, f"notebooks/{notebook.name}")
