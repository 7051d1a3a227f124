"""The notebooks: committed without outputs, and they run top to bottom at small N.

Executed with nbclient in a kernel of this very environment (kernel name ``python3`` resolves to
the ipykernel installed next to the running interpreter), with ``SIMCORE_NOTEBOOK_DRAWS`` set so
that each stays within seconds.
"""

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
DRAWS = 5000

# jupyter_core warns (DeprecationWarning) unless told to use the platformdirs paths.
os.environ.setdefault("JUPYTER_PLATFORM_DIRS", "1")
nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")


def test_both_notebooks_are_there():
    assert [p.name for p in NOTEBOOKS] == ["01_fan_charts.ipynb", "02_scenarios.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, cell.source[:60]


@pytest.mark.slow
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs(path, monkeypatch):
    monkeypatch.setenv("SIMCORE_NOTEBOOK_DRAWS", str(DRAWS))
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=240, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    outputs = [o for cell in nb.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    # 01 draws every chart (8); 02 a fan over two profiles and two event charts (3)
    assert len(images) >= (8 if path.stem.startswith("01") else 3)
    text = "".join(str(o.get("data", {}).get("text/plain", "")) + o.get("text", "")
                   for o in outputs)
    assert "Traceback" not in text
