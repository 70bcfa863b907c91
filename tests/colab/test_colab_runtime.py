"""Inside scripts/colab_job.sh's .venv-colab/: this interpreter and the kernels it starts are Colab's (Python 3.13,
IPython 7.34, ipykernel 6.17.1, ipywidgets 7.7.1, openai 2.54), and a notebook runs there end to end."""

from __future__ import annotations

import os
import re
import sys
from importlib.metadata import version

import nbformat
import pytest
from nbclient import NotebookClient
from test_pins import pins

pytestmark = pytest.mark.skipif(
    os.environ.get("O4_COLAB_JOB") != "1",
    reason="runs in Colab's package set only: scripts/colab_job.sh (.venv-colab/, Python 3.13)",
)
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


def test_this_interpreter_holds_colabs_versions():
    assert sys.version_info[:2] == (3, 13)
    installed = {name: version(name) for name in pins()}
    assert installed == pins()


@pytest.mark.timeout(180)
def test_a_notebook_on_colabs_kernel(keyed_env, tmp_path):
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell(source)
        for source in (
            "import sys, IPython, ipykernel, ipywidgets, openai, traitlets\n"
            "print(sys.executable, sys.version.split()[0], IPython.__version__, ipykernel.__version__,"
            " ipywidgets.__version__, openai.__version__, traitlets.__version__)",
            "%load_ext o4_magics",
            "%%o4\nWhat is a p-value?",
            "%o4_usage",
            "%o4_chat",
            "import o4_magics\nreply = o4_magics.ask('And a z-score?')\nprint(reply.cost > 0, reply.text.startswith('## Offline answer'))",
        )
    ]
    client = NotebookClient(
        notebook, timeout=90, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    client.execute()
    executable, *versions = notebook.cells[0].outputs[0]["text"].split()
    assert executable.startswith(sys.prefix) and re.fullmatch(r"3\.13\.\d+", versions[0])
    assert versions[1:] == ["7.34.0", "6.17.1", "7.7.1", "2.54.0", "5.7.1"]
    reply = notebook.cells[2].outputs
    assert len(reply) == 1 and "Offline answer" in reply[0]["data"]["text/markdown"]
    assert re.search(r"openai/o4-mini · .*\$0\.\d{5}", reply[0]["data"]["text/markdown"])
    for cell in notebook.cells[3:5]:
        (bundle,) = [out["data"] for out in cell.outputs]
        assert WIDGET_VIEW in bundle and "text/html" in bundle and "text/plain" in bundle
    assert notebook.cells[5].outputs[0]["text"].strip() == "True True"
