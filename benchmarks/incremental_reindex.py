"""How long an unchanged re-run takes compared with the full run (hashing, not parsing).

    python benchmarks/incremental_reindex.py [FOLDER]   # default: ../shared/datasets/sec-10q/docs

Indexes a copy of FOLDER into a fresh embedded store with the default config, then re-runs it unchanged,
then after changing one file, after deleting one, and with another chunk overlap, and prints each run.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path

from rag_index.config import load_config
from rag_index.index.local import index_with_config

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "sec-10q" / "docs"


def main() -> None:
    """Run the scenarios and print one line each."""
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "docs"
        shutil.copytree(source, root)
        config = load_config(None, [f"store.path={Path(tmp) / 'store'}", "embedder.device=cpu"])
        files = sorted(p for p in root.rglob("*") if p.is_file())

        def run(label: str) -> float:
            report = index_with_config(root, config, progress=False)
            print(
                f"{label:<28} {report.seconds:8.2f} s  indexed {report.files_indexed:3d}  unchanged "
                f"{report.files_unchanged:3d}  removed {report.files_removed}  chunks written "
                f"{report.chunks_written:5d}  embedded {report.chunks_embedded:5d}  "
                f"deleted {report.chunks_deleted}"
            )
            return report.seconds

        full = run("full run")
        unchanged = run("unchanged re-run")
        shutil.copy(files[1], files[0])  # one file now has other content (a copy of another)
        run("one file changed")
        files[2].unlink()
        run("one file deleted")
        config.chunking.overlap = 10
        run("chunking.overlap 20 -> 10")
        print(f"unchanged re-run / full run = {unchanged / full:.4%}")


if __name__ == "__main__":
    main()
