"""The IPython front: ``%o4`` / ``%%o4`` and ``%o4_key`` parse their input, call the core, and display.

Heavy work lives elsewhere (``core``, ``client``, ``render``); this module only turns a cell into a
``CallSpec`` and a reply into what the notebook shows.
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
from ..errors import O4Error
from .options import split_options, with_call_arguments


@magics_class
class O4Magics(Magics, O4Settings):
    """Ask OpenAI's o4-mini (through OpenRouter) from a notebook; every setting is ``%config O4Magics.<name>``."""

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        super().__init__(shell=shell, **kwargs)
        self.session = Session(self, shell)
        self.last_reply: Any = None

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
        reasoning tokens, cost in USD and seconds. Consecutive calls form one conversation (the
        notebook's "main" thread); ``-n`` starts afresh and ``-t NAME`` picks another thread.
        Errors (no key, no credits, rate limits, network) show as a short message; what streamed stays.

        Examples::

            %o4 What is a p-value, in two sentences?
            %%o4 -e high --max-tokens 4000
            Derive the OLS estimator.
        """
        return self._guarded(self._ask, line, cell, local_ns)

    def _guarded(self, handler: Any, *args: Any) -> Any:
        try:
            return handler(*args)
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

    def _call(self, args: Any, prompt: str, local_ns: dict | None, *, source: str, extra_images: list = ()) -> Any:
        from .frontend import call_spec, dry_run_markdown, make_view, store_and_return

        attachments = self._builder(args, local_ns).build(prompt, args.var, args.image, extra_images)
        spec = call_spec(self, args, attachments.content, source=source, images=attachments.images)
        if args.dry_run:
            from IPython.display import Markdown, display

            display(Markdown(dry_run_markdown(self.session, spec, attachments.placeholders)))
            return None
        from ..call.engine import run

        reply = run(self.session, spec, make_view(self, spec))
        self.last_reply = reply
        return store_and_return(self, args, spec, reply)

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
        traceback and the failing cell's source), else the last output or displayed image.

        Examples::

            %o4_explain df
            %o4_explain fig Is a log scale better here?
            %o4_explain
        """
        return self._guarded(self._explain, line, local_ns)

    def _explain(self, line: str, local_ns: dict | None) -> Any:
        from ..context import ContextError, to_image_part
        from .explain import choose_target

        args, rest = split_options(self.o4_explain.parser, line)
        expr, _, question = rest.partition(" ")
        builder = self._builder(args, local_ns)
        if expr.isidentifier() and not any(expr in namespace for namespace in builder.namespaces):
            try:  # "%o4_explain why did this fail?": no EXPR, the whole line is the question
                target = choose_target(self, builder, "", rest)
            except UsageError:
                raise UsageError(f"name {expr!r} is not defined; nothing was sent.") from None
        else:
            target = choose_target(self, builder, expr, question.strip())
        prompt = "\n\n".join([target.question, *target.text_blocks])
        try:
            images = [to_image_part(value, max_side=int(self.image_max_side)) for value in target.image_values]
        except ContextError as exc:
            raise UsageError(f"{expr or 'the last image'}: {exc}") from None
        args.no_interp = True  # the question and blocks are sent as written
        return self._call(args, prompt, local_ns, source="explain", extra_images=images)

    # -- %o4_chat and %o4_usage: the widgets live in o4_magics.widgets --------------------------------------
    @line_magic
    def o4_chat(self, line: str = "") -> Any:
        """Show an inline chat with o4-mini that shares this notebook's conversation with %%o4.

        Usage: ``%o4_chat [-t THREAD] [-m MODEL] [-e {low,medium,high}]``. Enter sends; the ¶ button
        switches to a multi-line box where the Send button sends. Stop cancels a streaming reply (what
        streamed is kept, marked stopped). The chat uses the notebook's main
        thread unless given -t, so a question asked with %%o4 can be followed up here, and the reverse.
        """
        from ..widgets.chat import chat_magic

        return self._guarded(chat_magic, self, line)

    @magic_arguments()
    @argument("--csv", metavar="PATH", help="Write the matching calls to a CSV file instead of showing the panel.")
    @argument("--since", metavar="DATE", help="Only calls from this ISO date or datetime on (local time).")
    @argument("--all", action="store_true", dest="all_notebooks", help="Every notebook on this machine.")
    @line_magic
    def o4_usage(self, line: str = "") -> Any:
        """Show this notebook's o4-magics usage: calls, tokens, cost, budget, per model, recent calls.

        Usage: ``%o4_usage [--all] [--since DATE] [--csv PATH]``. The panel updates live as calls finish.
        ``--all`` covers every notebook on this machine; ``--csv`` exports the rows.
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

