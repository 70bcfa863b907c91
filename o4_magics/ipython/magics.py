"""The IPython front: ``%o4`` / ``%%o4``, ``%o4_explain``, ``%o4_chat``, ``%o4_usage`` and ``%o4_key``.

Thin by design: each magic parses its line, resolves what the user named, says what was asked (an ``Ask``),
and hands it to the one door (``call.spec.prepare`` then ``call.engine.run``); display and -f/-o follow.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import (
    Magics,
    line_cell_magic,
    line_magic,
    magics_class,
    needs_local_scope,
    no_var_expand,
)
from IPython.core.magic_arguments import argument, magic_arguments

from ..call.session import Session
from ..call.settings import O4Settings
from ..errors import InvalidRequest, O4Error
from .options import split_options, with_call_arguments


@magics_class
class O4Magics(Magics, O4Settings):
    """Ask OpenAI's o4-mini (through OpenRouter) from a notebook; every setting is ``%config O4Magics.<name>``."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = Session(self, shell)
        self.last_reply: Any = None
        self.capture: Any = None

    # -- %o4 / %%o4 --------------------------------------------------------------------------------------
    @magic_arguments()
    @with_call_arguments
    @argument("prompt", nargs="*", help="The question (line form; in the cell form the cell body is the question).")
    @no_var_expand
    @needs_local_scope
    @line_cell_magic
    def o4(self, line: str = "", cell: str | None = None, local_ns: dict | None = None) -> Any:
        """Ask o4-mini: ``%o4 QUESTION`` for one line, ``%%o4 [options]`` over a cell for longer prompts.

        The answer streams in as rendered markdown with a footer: model, input / cached / output /
        reasoning tokens, cost in USD and seconds. While o4-mini reasons, its reasoning summary (when it
        sends one) grows in place, then folds into a collapsed "Reasoning" block above the answer.
        Consecutive calls form one conversation (the notebook's "main" thread); ``-n`` starts afresh and
        ``-t NAME`` picks another thread. Errors (no key, no credits, rate limits, network) show as a short
        message; what streamed stays.

        Examples::

            %o4 What is a p-value, in two sentences?
            %%o4 -e high --max-tokens 4000
            Derive the OLS estimator.
        """
        return self._guarded(self._ask, line, cell, local_ns)

    def _guarded(self, handler: Any, *args: Any) -> Any:
        try:
            return handler(*args)
        except InvalidRequest as error:  # a bad option or value: IPython's own one-line usage error
            if self.debug:
                raise
            raise UsageError(str(error)) from None
        except O4Error as error:
            if self.debug:
                raise RuntimeError(str(error)) from error
            raise

    def _ask(self, line: str, cell: str | None, local_ns: dict | None) -> Any:
        args, rest = split_options(self.o4.parser, line)
        prompt = "\n".join(part.strip() for part in (rest, cell or "") if part.strip())
        if not prompt.strip():
            raise UsageError("nothing to ask: write the question after %o4, or below %%o4 in the cell.")
        return self._call(args, prompt, local_ns, source="magic")

    def _builder(self, args: Any, local_ns: dict | None) -> Any:
        from .attachments import ContentBuilder

        private = self.private if args.private is None else args.private
        return ContentBuilder(self, local_ns, private=private, interpolate=self.interpolate and not args.no_interp)

    def _call(
        self, args: Any, prompt: str, local_ns: dict | None, *, source: str, values: dict | None = None,
        images: list | None = None, builder: Any = None,
    ) -> Any:
        from ..call.spec import check_out_name, prepare
        from .asking import ask_from_args

        out = check_out_name(args.out) if args.out is not None else None  # before anything is sent
        builder = builder or self._builder(args, local_ns)
        attached = builder.build(prompt, args.var, args.image)
        ask = ask_from_args(
            args, attached.prompt, source=source, shell=self.shell,
            values={**attached.values, **(values or {})}, images=[*attached.images, *(images or [])],
        )
        spec = prepare(self.session, ask)
        if args.dry_run:
            from IPython.display import display

            from .dry_run import dry_run_markdown

            display({"text/markdown": dry_run_markdown(self.session, spec)}, raw=True)
            return None
        return self._run(spec, out, local_ns)

    def _run(self, spec: Any, out: str | None, local_ns: dict | None = None) -> Any:
        from ..call.engine import run
        from .results import store_and_return
        from .views import make_view

        try:
            if spec.tools:  # --tools: the model may look at the variables first (call.agent's bounded loop)
                reply = self._run_agent(spec, make_view(self, spec), local_ns)
            else:
                reply = run(self.session, spec, make_view(self, spec))
        except O4Error:
            if out:
                self.shell.user_ns[out] = None
            raise
        self.last_reply = reply
        return store_and_return(self.shell, spec.format, out, reply)

    def _run_agent(self, spec: Any, view: Any, local_ns: dict | None) -> Any:
        from collections import ChainMap

        from ..call.agent import run_agent
        from ..call.tools import Toolbox

        user_ns = self.shell.user_ns
        namespace = ChainMap(local_ns, user_ns) if local_ns is not None and local_ns is not user_ns else user_ns
        toolbox = Toolbox(
            self.session, namespace, capture=self.capture, hidden=self.shell.user_ns_hidden, private=spec.private
        )
        return run_agent(self.session, spec, view, toolbox=toolbox)

    # -- %o4_explain -------------------------------------------------------------------------------------
    @magic_arguments()
    @with_call_arguments
    @argument("target", nargs="*", help="EXPR [QUESTION...]: what to explain, then an optional question.")
    @no_var_expand
    @needs_local_scope
    @line_magic
    def o4_explain(self, line: str = "", local_ns: dict | None = None) -> Any:
        """Explain a dataframe, series, array, figure, image or any object, or the last error, in one line.

        ``%o4_explain df`` sends df's compact description (schema, statistics, sample) with a good default
        question for its kind; add your own question after the name. A matplotlib figure or an image is
        sent as a real image. With no name: the last exception if the last cell failed (type, message,
        traceback and the failing cell's source; a syntax error too), else the last cell's warnings, else
        the last output or displayed image. With --private, literals in the cell's source are masked and
        images are not sent.

        Examples::

            %o4_explain df
            %o4_explain fig Is a log scale better here?
            %o4_explain
        """
        return self._guarded(self._explain, line, local_ns)

    def _explain(self, line: str, local_ns: dict | None) -> Any:
        from .explain import choose_target, split_target

        args, rest = split_options(self.o4_explain.parser, line)
        builder = self._builder(args, local_ns)
        builder.interpolate = False  # the question and blocks are sent as written
        expr, question = split_target(rest, builder.namespaces)
        target = choose_target(self, builder, expr, question)
        prompt = "\n\n".join([target.question, *target.text_blocks])
        images = [builder.explain_image(value, expr) for value in target.image_values]
        return self._call(args, prompt, local_ns, source="explain", images=images, builder=builder)

    # -- %o4_chat and %o4_usage: the widgets live in o4_magics.widgets --------------------------------------
    @line_magic
    def o4_chat(self, line: str = "") -> Any:
        """Show an inline chat with o4-mini that shares this notebook's conversation with %%o4.

        Usage: ``%o4_chat [-t THREAD] [-m MODEL] [-e {low,medium,high}] [--agent]``. Enter sends; the ¶ button
        switches to a multi-line box where the Send button sends. Stop cancels a streaming reply (what
        streamed is kept, marked stopped). The chat uses the notebook's main
        thread unless given -t, so a question asked with %%o4 can be followed up here, and the reverse.
        While another cell runs, the kernel handles the chat's clicks when that cell ends.

        The Agent toggle (or ``--agent``) lets o4-mini look at your variables with read-only tools and
        propose cells; a proposed cell shows with Run, Edit and Skip, and nothing runs until you click Run.
        """
        from ..widgets.chat import chat_magic

        return self._guarded(chat_magic, self, line)

    @magic_arguments()
    @argument("--csv", metavar="PATH", help="Write the matching calls to a CSV file instead of showing the panel.")
    @argument("--since", metavar="DATE", help="Only calls from this ISO date or datetime on (local time).")
    @argument("--all", action="store_true", dest="all_notebooks", help="Every notebook on this machine.")
    @argument("--team", action="store_true", help="The whole team: totals per user and per notebook.")
    @line_magic
    def o4_usage(self, line: str = "") -> Any:
        """Show this notebook's o4-magics usage: calls, tokens, cost, budget, per model, recent calls.

        Usage: ``%o4_usage [--all | --team] [--since DATE] [--csv PATH]``. The panel updates live as calls
        finish. ``--all`` covers every notebook on this machine (with a team ledger: all of yours);
        ``--team`` the whole team's totals per user and per notebook; ``--csv`` exports the rows.
        """
        from ..widgets.usage_panel import usage_magic

        return self._guarded(usage_magic, self, line)

    # -- %o4_key -----------------------------------------------------------------------------------------
    @magic_arguments()
    @argument("--clear", action="store_true", help="Forget the key entered earlier.")
    @argument("rest", nargs="*", help="(never type the key itself here)")
    @line_magic
    def o4_key(self, line: str = "") -> None:
        """Enter the OpenRouter API key without echoing it; it is kept in this kernel's memory only.

        The key is never written to the notebook, the history, the ledger or any output. It takes
        precedence over $OPENROUTER_API_KEY until ``%o4_key --clear``.
        """
        from IPython.core.magic_arguments import parse_argstring

        if line.strip() and not line.strip().startswith("--clear"):
            raise UsageError(
                "do not type the key in the cell (it would be saved with the notebook); run %o4_key alone."
            )
        args = parse_argstring(self.o4_key, line)
        if args.clear:
            self.session.set_api_key(None)
            print("o4: the key entered with %o4_key is forgotten.")
            return
        import getpass

        key = getpass.getpass("OpenRouter API key (input hidden): ")
        if not key.strip():
            print("o4: no key entered; nothing changed.")
            return
        self.session.set_api_key(key)
        print("o4: key kept in memory for this kernel.")
