"""Tricky model replies for ``to_display_markdown``: money, math, shell prompts, code, tables, HTML.

Each case: ``reply`` (what the model wrote) and the facts its rendering must show in every frontend:
``money``: text shown with a plain ``$`` (no backslash, not typeset), ``math``: TeX typeset as math (as the
source between the delimiters, stripped), ``code``: text shown inside code, verbatim, ``cells``: a table's
cell texts in order (None: not checked), ``text``: other visible text. ``math`` lists every math span: anything else typeset
is a failure.
"""

from __future__ import annotations

CASES: list[dict] = [
    {
        "id": "money-prose",
        "reply": "Revenue rose from $5M to $7M, while costs fell from $3M to $2M.",
        "money": ["$5M", "$7M", "$3M", "$2M"],
        "math": [],
    },
    {
        "id": "money-thousands",
        "reply": "The budget grew from $20,000 to $30,000 (a $10,000 rise).",
        "money": ["$20,000", "$30,000", "$10,000"],
        "math": [],
    },
    {
        "id": "money-range-no-spaces",
        "reply": "Expect to pay $100-$200 per seat, or $5/$10 for the add-ons.",
        "money": ["$100-$200", "$5/$10"],
        "math": [],
    },
    {
        "id": "money-list",
        "reply": "Pricing:\n\n- Basic: $5 per month\n- Pro: $15 per month\n- Team: $49 per month\n",
        "money": ["$5 per month", "$15 per month", "$49 per month"],
        "math": [],
    },
    {
        "id": "money-table",
        "reply": "| Item | Q1 | Q2 |\n|---|---:|---:|\n| Widgets | $3 | $4 |\n| Gadgets | $12.50 | $9 |\n",
        "money": ["$3", "$4", "$12.50", "$9"],
        "cells": ["Item", "Q1", "Q2", "Widgets", "$3", "$4", "Gadgets", "$12.50", "$9"],
        "math": [],
    },
    {
        "id": "money-footer-like",
        "reply": "That call cost $0.00065 and the next one $0.00123.",
        "money": ["$0.00065", "$0.00123"],
        "math": [],
    },
    {
        "id": "money-bold-and-italic",
        "reply": "**Total: $1,234.56** and *tax: $98.76* were billed.",
        "money": ["$1,234.56", "$98.76"],
        "math": [],
    },
    {
        "id": "money-and-math-together",
        "reply": "If a ticket costs $20 and you buy $n$ of them, you pay $20n$ dollars; at $5 each it is $5n$.",
        "money": ["$20 and", "at $5 each"],
        "math": ["n", "20n", "5n"],
    },
    {
        "id": "math-inline-dollars",
        "reply": "Let $x$ be real, $\\alpha > 0$ and $x^2 + 1 > 0$ for all $x$.",
        "math": ["x", "\\alpha > 0", "x^2 + 1 > 0", "x"],
    },
    {
        "id": "math-display-dollars",
        "reply": "The Gaussian integral:\n\n$$\n\\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx = \\sqrt{\\pi}\n$$\n\nNeat.",
        "math": ["\\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx = \\sqrt{\\pi}"],
        "text": ["Neat."],
    },
    {
        "id": "math-inline-double",
        "reply": "Inline display $$E = mc^2$$ inside a sentence.",
        "math": ["E = mc^2"],
    },
    {
        "id": "math-paren",
        "reply": "The mean is \\( \\bar{x} = \\frac{1}{n}\\sum_i x_i \\) and the variance \\(s^2\\).",
        "math": ["\\bar{x} = \\frac{1}{n}\\sum_i x_i", "s^2"],
    },
    {
        "id": "math-bracket",
        "reply": "Ordinary least squares:\n\n\\[\n\\hat\\beta = (X^\\top X)^{-1} X^\\top y\n\\]\n\nDone.",
        "math": ["\\hat\\beta = (X^\\top X)^{-1} X^\\top y"],
        "text": ["Done."],
    },
    {
        "id": "math-bracket-inline",
        "reply": "So \\[ a^2 + b^2 = c^2 \\] holds for right triangles.",
        "math": ["a^2 + b^2 = c^2"],
    },
    {
        "id": "math-align",
        "reply": "The system:\n\n\\begin{align}\nx + y &= 2 \\\\\nx - y &= 0\n\\end{align}\n\nso $x = 1$.",
        "math": ["\\begin{align}\nx + y &= 2 \\\\\nx - y &= 0\n\\end{align}", "x = 1"],
    },
    {
        "id": "math-with-underscores",
        "reply": "Both $a_1 * b_1$ and $a_2 * b_2$ keep their underscores and stars.",
        "math": ["a_1 * b_1", "a_2 * b_2"],
    },
    {
        "id": "math-and-price-in-list",
        "reply": "1. The fee is $4.99.\n2. The model is $y = \\beta x$.\n3. Shipping: $7.\n",
        "money": ["$4.99", "$7."],
        "math": ["y = \\beta x"],
    },
    {
        "id": "shell-prompt",
        "reply": "Install it:\n\n$ pip install o4-magics\n$ jupyter lab\n\nThen open a notebook.",
        "money": ["$ pip install o4-magics", "$ jupyter lab"],
        "math": [],
    },
    {
        "id": "dollar-inline-code",
        "reply": "Use `$HOME` and `$PATH`, not $HOME alone.",
        "code": ["$HOME", "$PATH"],
        "money": ["$HOME alone"],
        "math": [],
    },
    {
        "id": "dollar-fenced-code",
        "reply": 'Run:\n\n```bash\necho "$HOME" costs $5 and $6\nexport X=$((1 + 2))\n```\n\nThat prints $5.',
        "code": ['echo "$HOME" costs $5 and $6', "export X=$((1 + 2))"],
        "money": ["prints $5"],
        "math": [],
    },
    {
        "id": "dollar-tilde-fence-in-list",
        "reply": "1. Set it:\n\n   ~~~sh\n   X=$A$B\n   ~~~\n2. Pay $3 and $4.\n",
        "code": ["X=$A$B"],
        "money": ["$3 and $4"],
        "math": [],
    },
    {
        "id": "list-fence-then-math",
        "reply": "1. Check:\n   ```bash\n   echo $HOME\n   ```\n2. Then $x^2$ grows, for $5.\n",
        "code": ["echo $HOME"],
        "money": ["for $5."],
        "math": ["x^2"],
    },
    {
        "id": "dollar-in-url",
        "reply": "See [the docs](https://example.com/api?$filter=a&$top=5) and [more](https://example.com/$x$y).",
        "text": ["the docs", "more"],
        "hrefs": ["https://example.com/api?$filter=a&$top=5", "https://example.com/$x$y"],
        "math": [],
    },
    {
        "id": "escaped-dollar",
        "reply": "It costs \\$5 and \\$6, already escaped.",
        "money": ["$5 and $6"],
        "math": [],
    },
    {
        "id": "unbalanced-dollar",
        "reply": "Only one dollar sign: $ here, and a trailing one $",
        "money": ["sign: $ here", "one $"],
        "math": [],
    },
    {
        "id": "dollar-entity",
        "reply": "An entity &#36;5 and another &#36;6 stay money.",
        "money": ["$5 and another $6"],
        "math": [],
    },
    {
        "id": "html-mixed",
        "reply": "Some <b>bold $5</b> and <sub>sub $6</sub> text.<br>\n\n<div>\ncosts $7 and $8\n</div>\n",
        "money": ["$5", "$6", "$7 and $8"],
        "text": ["bold", "sub"],
        "math": [],
    },
    {
        "id": "details-block",
        "reply": "<details>\n<summary>Show the cost</summary>\nIt is $9 or $10.\n</details>\n\nAfter.",
        "money": ["$9 or $10"],
        "text": ["Show the cost", "After."],
        "math": [],
    },
    {
        "id": "heading-and-quote",
        "reply": "## Budget: $5M\n\n> The quote says $3 and $4.\n> And $x$ is math.\n",
        "money": ["$5M", "$3 and $4"],
        "math": ["x"],
    },
    {
        "id": "mixed-table-math",
        "reply": "| Model | Formula | Cost |\n|---|---|---|\n| OLS | $\\hat y = Xb$ | $0 |\n| Ridge | $\\lambda b^2$ | $2 |\n",
        "math": ["\\hat y = Xb", "\\lambda b^2"],
        "money": ["$0", "$2"],
        "cells": ["Model", "Formula", "Cost", "OLS", None, "$0", "Ridge", None, "$2"],
    },
    {
        "id": "money-then-math-paren",
        "reply": "At $5 per unit, the cost is \\(c(n) = 5n\\) and for $3 more you get \\(n+1\\).",
        "money": ["At $5 per unit", "for $3 more"],
        "math": ["c(n) = 5n", "n+1"],
    },
    {
        "id": "math-word-after",
        "reply": "The $n$th term and the \\(k\\)th one.",
        "math": ["n", "k"],
    },
    {
        "id": "unclosed-paren",
        "reply": "An unclosed \\( x + 1 and $5 left.",
        "money": ["$5 left"],
        "math": [],
    },
    {
        "id": "task-list-and-money",
        "reply": "- [ ] pay $5\n- [x] paid $6\n",
        "money": ["pay $5", "paid $6"],
        "math": [],
    },
]
