#!/usr/bin/env python3
"""Write the example notebooks in notebooks/ (outputs cleared) from the definitions below.

Run: .venv/bin/python scripts/make_notebooks.py   (re-runnable: same definitions, byte-identical files)

Each notebook is a list of cells: ``md(...)`` for prose, ``code(...)`` for code, ``code(..., raises=True)`` for
a cell that fails on purpose (tagged ``raises-exception``, so nbclient and "Run all" carry on past it).
notebooks/quickstart.ipynb is written by hand and is not touched here.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"

ENDPOINT_CHECK = """\
import os

endpoint = os.environ.get("OPENROUTER_BASE_URL", "https://openrouter.ai/api/v1")
if "openrouter.ai" in endpoint:
    print("Talking to OpenRouter:", endpoint)
else:
    print("Talking to the OFFLINE EMULATOR (canned replies, no cost):", endpoint)"""


def md(text: str) -> dict:
    return {"kind": "markdown", "source": text.strip("\n")}


def code(text: str, *, raises: bool = False) -> dict:
    return {"kind": "code", "source": text.strip("\n"), "raises": raises}


def execution_count(cells: list[dict], source: str) -> int:
    """The execution count the code cell with ``source`` gets when the notebook runs top to bottom."""
    codes = [cell["source"] for cell in cells if cell["kind"] == "code"]
    return codes.index(source.strip("\n")) + 1


def setup_cells() -> list[dict]:
    """The first two code cells of every notebook: load the extension, say which endpoint answers."""
    return [code("%load_ext o4_magics"), code(ENDPOINT_CHECK)]


# -- explain-dataframes -------------------------------------------------------------------------------------

ORDERS = """\
import numpy as np
import pandas as pd

rng = np.random.default_rng(7)
n = 50_000
stores = [f"S{i:02d}-{city}" for i, city in enumerate(
    ["Lyon", "Paris", "Lille", "Nantes", "Nice", "Rennes", "Bordeaux", "Toulouse"], start=1)]
categories = ["grocery", "household", "electronics", "toys", "garden", "clothing"]

orders = pd.DataFrame({
    "order_id": np.arange(100_000, 100_000 + n),
    "order_date": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 366, n), unit="D"),
    "store": rng.choice(stores, n, p=[0.25, 0.2, 0.12, 0.12, 0.1, 0.08, 0.08, 0.05]),
    "category": pd.Categorical(rng.choice(categories, n, p=[0.4, 0.2, 0.1, 0.1, 0.1, 0.1])),
    "price": rng.lognormal(2.8, 0.7, n).round(2),
    "quantity": rng.poisson(2, n) + 1,
    "discount": rng.choice([0.0, 0.05, 0.1, 0.2], n, p=[0.6, 0.2, 0.15, 0.05]),
})
orders.loc[rng.choice(n, 1_200, replace=False), "discount"] = np.nan  # discounts that were never recorded
orders.loc[rng.choice(n, 6, replace=False), "price"] = [9_999.0, 12_500.0, 0.01, 8_750.0, 15_000.0, 0.0]  # typos
orders.loc[rng.choice(n, 3, replace=False), "quantity"] = -1  # returns booked as orders
orders.loc[n - 1, "order_id"] = orders.loc[n - 2, "order_id"]  # one duplicated id
orders.head()"""

EXPLAIN_DATAFRAMES = [
    md("""
# Explain dataframes with o4-mini

Point o4-mini at a dataframe and get a data-quality review, ideas for the next analysis steps, or an answer to
your own question about it.

You never paste data into the prompt: o4-magics sends a **compact description** of the frame (shape, dtypes,
null counts, summary statistics, top values of low-cardinality columns and a few head/tail rows), bounded to
about 2,000 tokens (`%config O4Magics.context_max_tokens`), so even a 10-million-row frame costs a fraction of a
cent to explain. `--private` leaves the cell values out altogether and `--dry-run` shows exactly what would be sent.
"""),
    *setup_cells(),
    md("""
## A realistic dataset

50,000 retail orders with the problems real data has: discounts that were never recorded (NaN), a few price
typos and negative quantities, and one duplicated order id.
"""),
    code(ORDERS),
    md("""
## `%o4_explain`: one line, a good default question

`%o4_explain orders` sends the frame's description with a question suited to dataframes: structure, data
quality (missing values, odd types, outliers, duplicates), patterns, next steps.
"""),
    code("%o4_explain orders"),
    md("""
## Your own question, with `{name}`

`{orders}` inside a prompt is replaced by the frame's description (short values such as `{n}` are written
inline). Text in backticks and other braces, such as JSON, are left alone.
"""),
    code("""
%%o4
Which columns in {orders} need cleaning before I compute revenue per store (price * quantity * (1 - discount))?
Give the pandas code."""),
    md("""
## Attach with `-v`

`-v NAME` (repeatable) appends the description after the question instead of inline.
"""),
    code("""
%%o4 -v orders
Suggest three charts that would show how discounts drive quantity sold, and what each would reveal."""),
    md("""
## `--private`: structure only

With `--private` (or `%config O4Magics.private = True`) the description holds names, types, shapes, null counts
and cardinalities, and no cell value at all: no sample rows, no min/max, no top values.
"""),
    code("%o4 --private -v orders Which checks would you run on this table before building a demand forecast?"),
    md("""
## `--dry-run`: see before you send

Shows the exact request, with the attached block, and its estimated cost. Nothing is sent.
"""),
    code("%o4 --dry-run -v orders Is the discount column missing at random?"),
]

# -- explain-plots ------------------------------------------------------------------------------------------

SALES = """\
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
days = pd.date_range("2023-01-01", "2024-12-31", freq="D")
trend = np.linspace(100, 160, len(days))
season = 25 * np.sin(2 * np.pi * (days.day_of_year - 80) / 365.25)
weekly = np.where(days.day_of_week >= 5, 30, 0)
sales = pd.DataFrame({"date": days, "revenue": trend + season + weekly + rng.normal(0, 12, len(days))})
baskets = rng.lognormal(3.2, 0.6, 5_000)"""

REVENUE_PLOT = """\
fig, ax = plt.subplots(figsize=(8, 3.5))
ax.plot(sales["date"], sales["revenue"], lw=0.6, color="tab:blue", label="daily")
ax.plot(sales["date"], sales["revenue"].rolling(28).mean(), lw=2, color="tab:orange", label="28-day mean")
ax.set_title("Daily revenue, 2023-2024")
ax.set_ylabel("revenue (k EUR)")
ax.legend();"""

BASKET_PLOT = """\
fig2, ax2 = plt.subplots(figsize=(6, 3.5))
ax2.hist(baskets, bins=80, color="tab:green")
ax2.set_title("Basket value")
ax2.set_xlabel("EUR");"""


def explain_plots() -> list[dict]:
    cells = [
        md("""
# Explain plots with o4-mini

o4-mini reads images. o4-magics keeps the images your cells displayed (inline matplotlib plots included), so
you can ask about a plot after the fact:

- `-i last`: the last image displayed,
- `-i N`: the image(s) displayed by cell `[N]`,
- `-i fig`: a variable holding a Figure, Axes, PIL image, PNG/JPEG bytes or an RGB array (or a file path).

Images are downscaled to 1,024 px per side (`%config O4Magics.image_max_side`) before they are sent.
`%o4_explain` with no argument explains the last error: its type, message, traceback and the failing cell.
"""),
        *setup_cells(),
        code(SALES),
        md("## Two plots"),
        code(REVENUE_PLOT),
        code(BASKET_PLOT),
        md("""
## `-i last`: the plot just above
"""),
        code("%o4 -i last What does this plot show? Which distribution would you fit to it?"),
    ]
    revenue_cell = execution_count(cells, REVENUE_PLOT)
    cells += [
        md(f"""
## `-i N`: a plot from an earlier cell

The revenue plot came from cell `[{revenue_cell}]` (when the notebook is run top to bottom); its number is on
the left of that cell.
"""),
        code(f"%o4 -i {revenue_cell} Is there weekly or yearly seasonality in this revenue? How would you model it?"),
        md("""
## `%o4_explain fig`

A figure variable is sent as an image, with a question about what it shows and how to improve it. Add your own
question after the name.
"""),
        code("%o4_explain fig"),
        md("""
## Explain the last error

The next cell fails (a typo in a column name). `%o4_explain` with no argument sends the exception, the
traceback and the failing cell's source, and asks for the fix. Nothing is sent automatically when a cell fails.
"""),
        code("""
monthly = sales.set_index("date").resample("MS")["revenu"].sum()
monthly.plot(kind="bar")""", raises=True),
        code("%o4_explain"),
    ]
    return cells


# -- chat ---------------------------------------------------------------------------------------------------

CHAT = [
    md("""
# Chat with o4-mini next to your cells

`%o4_chat` shows an inline chat: a transcript of markdown messages, a text box (Enter sends; the ¶ button
switches to a multi-line box where Send sends), Send and Stop buttons, a picker that attaches a notebook variable to your next message, and the last turn's
tokens and cost. Replies stream.

The chat **shares the notebook's conversation** with `%%o4`: ask a question in a cell, then follow it up in the
chat (or the other way round). `-t NAME` gives the chat a thread of its own.
"""),
    *setup_cells(),
    md("## Ask in a cell"),
    code("""
%%o4
I have daily sales for 40 stores over two years. How would I detect stores whose sales suddenly dropped?"""),
    md("""
## Follow up in the chat

The transcript starts with the question and answer above. Type a follow-up such as *"Show the code for the
CUSUM approach"* and press Enter; Stop cancels a reply that is streaming (what streamed is kept). Every turn is
recorded in the usage ledger like a `%%o4` call (see `cost-control.ipynb`).
"""),
    code("%o4_chat"),
    md("""
## A side conversation

`-t side` starts a separate thread: what you discuss there does not enter the main conversation, and `%%o4 -t
side` in a cell continues it.
"""),
    code("%o4_chat -t side"),
]

# -- cost-control -------------------------------------------------------------------------------------------

COST_CONTROL = [
    md("""
# Keep o4-mini's cost under control

Every call (failed and interrupted ones included) is one row in a local SQLite ledger: tokens by kind, cost in
USD (OpenRouter's own figure when it sends one), latency and status. On top of it:

- `%config O4Magics.budget_usd = ...` caps this notebook's spend: a call that **could** pass the cap is refused
  before anything is sent, with the figures;
- `%o4_usage` shows a live panel (totals, budget bar, per-model totals, recent calls); `--all` covers every
  notebook on this machine;
- `--cache` replays an identical earlier request at no cost.
"""),
    *setup_cells(),
    md("""
## A budget for this notebook

$0.02 is a few dozen short o4-mini answers. The worst case of each call is checked against what is left: its
input plus `--max-tokens` of output (10,000 output tokens are assumed when no cap is given).
"""),
    code("%config O4Magics.budget_usd = 0.02"),
    code("%o4 --max-tokens 1000 Confidence interval vs credible interval: the difference in two sentences?"),
    md("""
## The usage panel

It updates live as calls finish, from any cell or the chat.
"""),
    code("%o4_usage"),
    md("""
## `--cache`: pay once for a repeated question

The first call is paid for; running the identical request again (same model, messages and options; `-n` keeps the
history out of it) replays the stored answer. Its footer says `cached` and the cost is $0.
"""),
    code("""
%%o4 -n --cache --max-tokens 1000
List five common causes of data leakage in machine-learning pipelines."""),
    code("""
%%o4 -n --cache --max-tokens 1000
List five common causes of data leakage in machine-learning pipelines."""),
    md("""
## A call the budget refuses

Without `--max-tokens`, 10,000 output tokens are assumed (about $0.044 with o4-mini), more than is left of the
$0.02. The call is refused before sending and the message says how to proceed.
"""),
    code("""
%%o4 -n
Write a complete tutorial on gradient boosting, with derivations and code.""", raises=True),
    md("""
## Every notebook on this machine

`%o4_usage --all` sums the whole ledger; `%o4_usage --csv usage.csv` exports the rows.
"""),
    code("%o4_usage --all"),
]

# -- agent ------------------------------------------------------------------------------------------------

AGENT_SALES = """\
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

rng = np.random.default_rng(3)
days = pd.date_range("2024-01-01", periods=120, freq="D")
sales = pd.DataFrame(
    {
        "day": np.tile(days, 3),
        "store": np.repeat(["Lyon", "Paris", "Nice"], len(days)),
        "revenue": rng.lognormal(7, 0.4, 3 * len(days)).round(2),
        "discount": rng.choice([0.0, 0.1, 0.2, np.nan], 3 * len(days), p=[0.6, 0.2, 0.1, 0.1]),
    }
)
fig, ax = plt.subplots(figsize=(6, 3))
weekly = sales.pivot(index="day", columns="store", values="revenue").rolling(7).mean()
weekly.plot(ax=ax, title="7-day mean revenue")
ax.set_ylabel("revenue")"""

AGENT_STEER = """\
# The offline emulator calls tools only where a prompt names them ([[call:...]] markers); o4-mini decides by
# itself. On OpenRouter these strings are empty, so the prompts below are plain questions.
offline = "openrouter.ai" not in endpoint
look_around = (
    '[[call:list_variables]][[call:describe:{"name": "sales", "columns": ["revenue", "discount"]}]]'
    if offline
    else ""
)
look_at_plot = '[[call:look_at:{"image": "fig"}]]' if offline else ""
"""

AGENT = [
    md("""
# Let o4-mini look at your data: `--tools` and the chat's Agent mode

Instead of attaching values yourself (`-v df`), let o4-mini look: with `--tools` on `%%o4`, `%o4` and
`%o4_explain` (and `ask(..., tools=True)`) the model may call three **read-only** tools before it answers:

- `list_variables()`: names, types, shapes and sizes of your values (no modules, no private or IPython names);
- `describe(name, columns?, rows?)`: the same compact block `-v name` sends, optionally narrowed to some
  columns or rows of a dataframe;
- `look_at(image)`: a figure variable, `last` (the last image a cell displayed) or a cell number.

Each call shows in the reply as one collapsed line (open it to see exactly what the model was given). A question
is at most `O4Magics.agent_max_steps` (default 8) model calls; each call is a row in the usage ledger, the budget
is checked before each one, and the footer gives the question's total. `--private` limits every tool to
structure (names, types, shapes, null counts): no cell value leaves.
"""),
    *setup_cells(),
    code(AGENT_SALES),
    code(AGENT_STEER),
    md("""
## Look-ups with `--tools`

o4-mini lists the variables, then describes the two columns it needs.
"""),
    code("""
%%o4 --tools
Which columns of my sales data have missing values, and is revenue skewed? {look_around}"""),
    md("""
## Looking at a figure

`look_at` sends the figure as an image, after the tool results.
"""),
    code("%o4 --tools What does my plot show? {look_at_plot}"),
    md("""
## A follow-up knows what the tools saw

The thread keeps the tool calls and their results (truncated), so a plain follow-up can build on them.
"""),
    code("%o4 From what you saw, what would you clean first?"),
    md("""
## From Python, in privacy mode

`ask(..., tools=True)` runs the same loop. With `private=True` the tools read structure only: the store names,
the revenues and the plot never leave the notebook.
"""),
    code("""
import o4_magics

reply = o4_magics.ask("Which columns could I group by? " + look_around, tools=True, private=True)
print(reply.text[:300])
print(" · ".join(reply.notes))"""),
    md("""
## Agent mode in the chat

`%o4_chat --agent` (or the **Agent** toggle) adds a fourth tool, `run_code(code, why)`: o4-mini may propose a
cell. It appears in the chat as highlighted code with **Run**, **Edit** and **Skip**, and **nothing runs until
you click Run**. An approved cell runs in your namespace like any cell (it gets an execution count and its
place in the history); what it prints, its value, the images it shows and any exception go back to o4-mini and
show in the chat. "Run without asking for this question" is an opt-in that lasts one question. Stop, or the
kernel's interrupt button, ends a running cell and the question.

Try: *"What is the total revenue per store? Check it with a cell."*
"""),
    code("%o4_chat --agent"),
]

NOTEBOOK_CELLS = {
    "explain-dataframes.ipynb": EXPLAIN_DATAFRAMES,
    "explain-plots.ipynb": explain_plots(),
    "chat.ipynb": CHAT,
    "cost-control.ipynb": COST_CONTROL,
    "agent.ipynb": AGENT,
}


def build(name: str, cells: list[dict]) -> nbformat.NotebookNode:
    notebook = new_notebook(
        metadata={"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}}
    )
    for index, cell in enumerate(cells):
        cell_id = hashlib.sha1(f"{name}:{index}".encode()).hexdigest()[:8]  # stable ids: re-runs change nothing
        if cell["kind"] == "markdown":
            notebook.cells.append(new_markdown_cell(cell["source"], id=cell_id))
        else:
            metadata = {"tags": ["raises-exception"]} if cell["raises"] else {}
            notebook.cells.append(new_code_cell(cell["source"], id=cell_id, metadata=metadata))
    nbformat.validate(notebook)
    return notebook


def main(argv: list[str]) -> int:
    names = argv or list(NOTEBOOK_CELLS)
    for name in names:
        path = NOTEBOOKS / name
        nbformat.write(build(name, NOTEBOOK_CELLS[name]), path)
        print(f"wrote {path.relative_to(NOTEBOOKS.parent)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
