"""{name}, -v, -i and %o4_explain through the shell: what the emulator received, and bad input refused."""

from __future__ import annotations

import base64
import io

import pytest
from conftest import final_markdown


def user_content(emu):
    return emu.chat_requests[-1].body["messages"][-1]["content"]


def user_text(emu):
    content = user_content(emu)
    if isinstance(content, str):
        return content
    return "".join(part["text"] for part in content if part["type"] == "text")


def image_parts(emu):
    content = user_content(emu)
    return [] if isinstance(content, str) else [part for part in content if part["type"] == "image_url"]


@pytest.fixture
def frame(shell):
    shell.run(
        "import pandas as pd, numpy as np\n"
        "df = pd.DataFrame({'city': ['Oslo', 'Lima', 'Pune'] * 40, 'temp': np.arange(120) / 3.0})\n"
        "results = {'auc': 0.913}"
    )
    return shell.user_ns["df"]


def test_inline_values_and_blocks(shell, o4_emulator, frame):
    result, _ = shell.run(
        "%%o4\nAUC is {results['auc']}. Describe {df} and keep `{df}` and {\"a\": {1, 2}} as written"
    )
    assert result.success
    text = user_text(o4_emulator)
    assert "AUC is 0.913." in text
    assert "### df (pandas.DataFrame, 120" in text and "city" in text and "temp" in text
    assert "`{df}`" in text and '{"a": {1, 2}}' in text


def test_var_option_attaches_labelled_block(shell, o4_emulator, frame):
    shell.run("%o4 -v df -v results What stands out?")
    text = user_text(o4_emulator)
    assert text.startswith("What stands out?")
    assert "### df (pandas.DataFrame" in text and "### results" in text


def test_private_mode_sends_no_values(shell, o4_emulator, frame):
    shell.run("%o4 --private -v df Describe it")
    text = user_text(o4_emulator)
    assert "city" in text and "Oslo" not in text and "Lima" not in text


def test_no_interp_sends_braces(shell, o4_emulator, frame):
    shell.run("%o4 --no-interp keep {df} and {undefined_name}")
    assert user_text(o4_emulator) == "keep {df} and {undefined_name}"


@pytest.mark.parametrize(
    "cell, message",
    [
        ("%o4 what is {nope}", "name 'nope' is not defined"),
        ("%o4 -v nope hi", "name 'nope' is not defined"),
        ("%o4 what is {df.head()}", "calls a function"),
        ("%o4 -i results hi", "-i results:"),
        ("%o4 -i 99 hi", "cell [99] displayed no image"),
        ("%o4 -i /no/such/file.png hi", "no such file"),
        ("%o4 -i missing.png hi", "-i missing.png: no such file"),
        ("%o4 -i nothing_here hi", "name 'nothing_here' is not defined"),
        ("%o4 -i last hi", "no cell has displayed an image yet"),
    ],
)
def test_bad_input_is_a_usage_error_and_nothing_is_sent(shell, o4_emulator, frame, cell, message):
    result, captured = shell.run(cell)
    text = captured.stdout + captured.stderr
    assert not result.success and message in text and "Traceback" not in text
    assert o4_emulator.chat_requests == []


def test_corrupt_image_file(shell, o4_emulator, tmp_path):
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"\x89PNG not really an image")
    result, captured = shell.run(f"%o4 -i {junk} what is this")
    assert not result.success and "Traceback" not in captured.stdout + captured.stderr
    assert o4_emulator.chat_requests == []


@pytest.fixture
def plot(shell):
    shell.run(
        "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt\n"
        "fig, ax = plt.subplots(figsize=(4, 3))\nax.plot([1, 2, 3], [2, 4, 1])\nax.set_title('Sales')"
    )


def test_figure_variable_becomes_one_image_part(shell, o4_emulator, plot):
    shell.run("%o4 -i fig What does this show?")
    parts = image_parts(o4_emulator)
    assert len(parts) == 1 and parts[0]["image_url"]["url"].startswith("data:image/")


def test_displayed_image_last_and_by_cell(shell, o4_emulator, plot):
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (2048, 1024), (200, 30, 30)).save(buffer, format="PNG")
    shell.user_ns["png"] = buffer.getvalue()
    result, _ = shell.run("from IPython.display import Image as I, display\ndisplay(I(data=png))")
    cell = result.execution_count
    shell.run("x = 1")
    shell.run("%o4 -i last what colour?")
    parts = image_parts(o4_emulator)
    assert len(parts) == 1
    data = base64.b64decode(parts[0]["image_url"]["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (1024, 512)  # downscaled to image_max_side
    shell.run(f"%o4 -i {cell} and this one?")
    assert len(image_parts(o4_emulator)) == 1


def test_dry_run_shows_blocks_and_image_placeholder(shell, o4_emulator, frame, plot):
    _, captured = shell.run("%o4 --dry-run -v df -i fig explain")
    text = final_markdown(captured)
    assert "### df (pandas.DataFrame" in text
    assert "[image " in text and "bytes" in text and "base64" not in text
    assert o4_emulator.chat_requests == []


def test_explain_dataframe_default_question(shell, o4_emulator, frame):
    result, _ = shell.run("%o4_explain df")
    assert result.success
    text = user_text(o4_emulator)
    assert "data quality issues" in text and "### df (pandas.DataFrame" in text
    assert o4_emulator.chat_requests[-1].body["messages"][-1]
    shell.run("%o4_explain df Which city is warmest?")
    assert user_text(o4_emulator).startswith("Which city is warmest?")


def test_explain_figure_sends_image(shell, o4_emulator, plot):
    shell.run("%o4_explain fig")
    assert len(image_parts(o4_emulator)) == 1
    assert "how to improve it" in user_text(o4_emulator)


def test_explain_last_error_with_source(shell, o4_emulator):
    shell.run("def ratio(a, b):\n    return a / b")
    failed, _ = shell.run("total = 10\nratio(total, 0)")
    assert not failed.success
    result, _ = shell.run("%o4_explain")
    assert result.success
    text = user_text(o4_emulator)
    assert "ZeroDivisionError" in text and "division by zero" in text
    assert "ratio(total, 0)" in text  # the failing cell's source
    assert "return a / b" in text  # the traceback


def test_explain_nothing_is_a_usage_error(shell, o4_emulator):
    result, captured = shell.run("%o4_explain")
    assert not result.success and "nothing to explain" in captured.stdout + captured.stderr


def test_ten_million_row_frame_on_the_wire(shell, o4_emulator):
    shell.run(
        "import numpy as np, pandas as pd\n"
        "rng = np.random.default_rng(0)\n"
        "big = pd.DataFrame({'user_id': np.arange(10_000_000), 'amount': rng.random(10_000_000),\n"
        "                    'segment': pd.Categorical(rng.choice(['a', 'b', 'c'], 10_000_000))})"
    )
    result, _ = shell.run("%o4 -v big Summarize")
    assert result.success
    text = user_text(o4_emulator)
    assert "### big (pandas.DataFrame, 10,000,000 x 3)" in text
    assert all(column in text for column in ("user_id", "amount", "segment"))
    assert "100,000-row sample" in text
    from o4_magics.context import estimate_tokens

    assert estimate_tokens(text) < 2100  # the question plus one block within its 2,000-token budget


def test_non_utf8_bytes_value(shell, o4_emulator):
    shell.user_ns["raw"] = "café naïve".encode("latin-1")
    result, _ = shell.run("%o4 -v raw what encoding is this?")
    assert result.success and "### raw (bytes" in user_text(o4_emulator)


def test_deleted_variable_between_cells(shell, o4_emulator, frame):
    shell.run("del df")
    result, captured = shell.run("%o4 -v df hi")
    assert not result.success and "name 'df' is not defined" in captured.stdout + captured.stderr


def test_images_read_back_from_the_saved_notebook_after_a_restart(shell, o4_emulator, tmp_path, monkeypatch):
    """A fresh kernel has no displayed images in memory; -i last / -i N read the saved notebook (nbformat)."""
    import nbformat
    from PIL import Image

    buffer = io.BytesIO()
    Image.new("RGB", (64, 32), (0, 90, 200)).save(buffer, format="PNG")
    encoded = base64.b64encode(buffer.getvalue()).decode()
    notebook = nbformat.v4.new_notebook()
    cell = nbformat.v4.new_code_cell("plt.plot(x)", execution_count=7)
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": encoded, "text/plain": "<Figure>"})
    ]
    notebook.cells = [nbformat.v4.new_code_cell("x = 1", execution_count=6), cell]
    path = tmp_path / "analysis.ipynb"
    nbformat.write(notebook, path)
    monkeypatch.setenv("JPY_SESSION_NAME", str(path))
    result, _ = shell.run("%o4 -i 7 what colour is this?")
    assert result.success
    data = base64.b64decode(image_parts(o4_emulator)[0]["image_url"]["url"].split(",", 1)[1])
    assert Image.open(io.BytesIO(data)).size == (64, 32)
    result, _ = shell.run("%o4 -i last and this?")
    assert result.success and len(image_parts(o4_emulator)) == 1


def test_explain_with_a_question_only(shell, o4_emulator):
    shell.run("def ratio(a, b):\n    return a / b")
    shell.run("ratio(1, 0)")
    result, _ = shell.run("%o4_explain why does this fail")
    assert result.success
    text = user_text(o4_emulator)
    assert text.startswith("why does this fail") and "ZeroDivisionError" in text


def test_explain_unknown_name_without_fallback(shell, o4_emulator):
    result, captured = shell.run("%o4_explain dff")
    assert not result.success and "name 'dff' is not defined" in captured.stdout + captured.stderr


def test_images_are_resent_with_the_newest_turn_only(shell, o4_emulator, plot):
    shell.run("%o4 -i fig What does this show?")
    shell.run("%o4 And the colours?")
    history_user = o4_emulator.chat_requests[-1].body["messages"][1]["content"]
    assert [part["type"] for part in history_user] == ["text", "image_url"]  # the newest turn: image kept
    shell.run("%o4 Anything else?")
    history_user = o4_emulator.chat_requests[-1].body["messages"][1]["content"]
    assert [part["type"] for part in history_user] == ["text", "text"]
    assert "not sent again" in history_user[1]["text"]


def test_a_small_plot_is_counted_at_its_real_size(shell, o4_emulator):
    """F9: a 408x413 plot costs ~291 tokens in the estimate, the context check and the budget, not 1,762."""
    import numpy as np

    shell.user_ns["picture"] = np.zeros((413, 408, 3), dtype="uint8")
    _, captured = shell.run("%o4 --dry-run -i picture what is it")
    shown = final_markdown(captured)
    assert "[image 408x413 PNG" in shown and "~291 tokens]" in shown
    _, text_only = shell.run("%o4 --dry-run what is it")
    tokens = [
        int(text.split("Estimate: ~", 1)[1].split(" input tokens")[0].replace(",", ""))
        for text in (shown, final_markdown(text_only))
    ]
    assert 280 <= tokens[0] - tokens[1] <= 310


def test_a_zero_d_object_array_is_not_inlined_whole(shell, o4_emulator, magics):
    """F7: a 0-d object array holding 20,000 keys is a block within context_max_tokens, not a 1 MB scalar."""
    import numpy as np

    shell.user_ns["boxed"] = np.array({f"key{i}": i for i in range(20_000)}, dtype=object)
    shell.run("%o4 what is in {boxed}")
    sent = user_text(o4_emulator)
    assert len(sent) < 20_000 and "### boxed" in sent
