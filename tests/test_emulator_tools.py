"""Tool calls from the emulator, so that tests can drive an agent loop over the wire."""

from __future__ import annotations

import json
import re
from typing import Any

import openai
import pytest
from test_emulator import MODEL, make_client, png_data_url, raw_post, sse_chunks

from o4_magics.testing import Emulator
from o4_magics.testing.directives import BAD_ARGUMENTS

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "read_csv",
            "description": "Read a CSV file",
            "parameters": {"type": "object", "properties": {"path": {"type": "string"}}},
        },
    },
    {"type": "function", "function": {"name": "plot", "parameters": {"type": "object", "properties": {}}}},
]
CALL_ID = re.compile(r"call_[A-Za-z0-9]{24}")


def user(text: str | list[dict[str, Any]]) -> dict[str, Any]:
    return {"role": "user", "content": text}


def run_tool(name: str, arguments: str) -> str:
    return f"{name} saw {arguments} " + "x" * 400


def accumulate(chunks: list[Any]) -> tuple[str, list[dict[str, str]], str | None]:
    """Content, tool calls (merged by index, as a client must) and finish reason of an SDK stream."""
    content, calls, finish = "", {}, None
    for chunk in chunks:
        if not chunk.choices:
            continue
        delta = chunk.choices[0].delta
        content += delta.content or ""
        for call in delta.tool_calls or []:
            slot = calls.setdefault(call.index, {"id": "", "name": "", "arguments": ""})
            slot["id"] += call.id or ""
            slot["name"] += (call.function.name or "") if call.function else ""
            slot["arguments"] += (call.function.arguments or "") if call.function else ""
        finish = chunk.choices[0].finish_reason or finish
    return content, [calls[index] for index in sorted(calls)], finish


def agent_loop(emu: Emulator, prompt: str, stream: bool, **options: Any) -> tuple[str, list[list[dict]]]:
    """Run the tool loop until a text answer: the answer and the calls made at each step."""
    client = make_client(emu)
    messages: list[dict[str, Any]] = [user(prompt)]
    steps = []
    for _ in range(10):
        if stream:
            chunks = list(
                client.chat.completions.create(model=MODEL, messages=messages, stream=True, **options)
            )
            content, calls, finish = accumulate(chunks)
            assert chunks[-1].usage.cost > 0
        else:
            reply = client.chat.completions.create(model=MODEL, messages=messages, **options)
            message, finish = reply.choices[0].message, reply.choices[0].finish_reason
            content = message.content
            calls = [
                {"id": c.id, "name": c.function.name, "arguments": c.function.arguments}
                for c in message.tool_calls or []
            ]
        if not calls:
            assert finish == "stop"
            return content, steps
        assert finish == "tool_calls"
        steps.append(calls)
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": c["id"],
                        "type": "function",
                        "function": {"name": c["name"], "arguments": c["arguments"]},
                    }
                    for c in calls
                ],
            }
        )
        messages += [
            {"role": "tool", "tool_call_id": c["id"], "content": run_tool(c["name"], c["arguments"])}
            for c in calls
        ]
    raise AssertionError("the loop did not end")


@pytest.mark.parametrize("stream", [True, False])
def test_an_agent_loop_runs_each_step_then_answers_with_the_results(
    o4_emulator: Emulator, stream: bool
) -> None:
    prompt = 'Load it [[call:read_csv:{"path": "data.csv"}]] then [[call:read_csv|plot]] and answer'
    answer, steps = agent_loop(o4_emulator, prompt, stream, tools=TOOLS)
    assert [[c["name"] for c in step] for step in steps] == [["read_csv"], ["read_csv", "plot"]]
    assert [[c["arguments"] for c in step] for step in steps] == [['{"path": "data.csv"}'], ["{}", "{}"]]
    ids = [c["id"] for step in steps for c in step]
    assert all(CALL_ID.fullmatch(i) for i in ids) and len(set(ids)) == 3
    quoted = [
        run_tool("read_csv", '{"path": "data.csv"}'),
        run_tool("read_csv", "{}"),
        run_tool("plot", "{}"),
    ]
    assert answer.startswith("From the tools:")
    assert [q[:300] in answer for q in quoted] == [True] * 3 and quoted[0][:301] not in answer
    assert answer.index(quoted[0][:300]) < answer.index(quoted[1][:300]) < answer.index(quoted[2][:300])
    records = o4_emulator.chat_requests
    assert [len(r.tool_calls) for r in records] == [1, 2, 0]
    assert records[1].tool_calls[1]["function"] == {"name": "plot", "arguments": "{}"}
    assert [r.finish_reason for r in records] == ["tool_calls", "tool_calls", "stop"]
    assert records[2].reply == answer and records[0].reply == ""


def test_streamed_tool_call_chunks_have_the_exact_shape(o4_emulator: Emulator) -> None:
    body = {
        "model": MODEL,
        "stream": True,
        "tools": TOOLS,
        "messages": [user('Go [[call:read_csv:{"path": "data.csv"}]]')],
    }
    status, data = raw_post(o4_emulator, body)
    chunks = sse_chunks(data)
    assert status == 200 and data.endswith(b"data: [DONE]\n\n")
    deltas = [c["choices"][0]["delta"] for c in chunks[:-2]]
    first = deltas[0]
    call_id = first["tool_calls"][0]["id"]
    assert CALL_ID.fullmatch(call_id)
    assert first == {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"index": 0, "id": call_id, "type": "function", "function": {"name": "read_csv", "arguments": ""}}
        ],
    }
    pieces = [d["tool_calls"][0]["function"]["arguments"] for d in deltas[1:]]
    assert len(pieces) >= 3 and "".join(pieces) == '{"path": "data.csv"}'
    assert all(
        d
        == {"role": "assistant", "content": None, "tool_calls": [{"index": 0, "function": {"arguments": p}}]}
        for d, p in zip(deltas[1:], pieces, strict=True)
    )
    finish = chunks[-2]["choices"][0]
    assert (finish["delta"], finish["finish_reason"], finish["native_finish_reason"]) == (
        {"role": "assistant", "content": ""},
        "tool_calls",
        "completed",
    )
    usage = chunks[-1]["usage"]
    assert chunks[-1]["choices"] == [] and usage["cost"] > 0
    assert usage["completion_tokens"] == round(len('read_csv {"path": "data.csv"}'.split()) * 1.3) + 192
    assert {c["id"] for c in chunks} == {o4_emulator.chat_requests[0].gen_id}


def test_two_calls_in_one_step_stream_under_indexes_0_and_1(o4_emulator: Emulator) -> None:
    body = {
        "model": MODEL,
        "stream": True,
        "tools": TOOLS,
        "messages": [user('[[call:plot|read_csv:{"a": 1}]]')],
    }
    chunks = sse_chunks(raw_post(o4_emulator, body)[1])
    calls = [d for c in chunks if c["choices"] for d in c["choices"][0]["delta"].get("tool_calls") or []]
    assert [c["index"] for c in calls] == sorted(c["index"] for c in calls)  # call 0 in full, then call 1
    starts = [c for c in calls if "id" in c]
    assert [(c["index"], c["function"]["name"]) for c in starts] == [(0, "plot"), (1, "read_csv")]
    assert "".join(c["function"]["arguments"] for c in calls if c["index"] == 1) == '{"a": 1}'
    message = make_client(o4_emulator).chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[user('[[call:plot|read_csv:{"a": 1}]]')]
    )
    choice = message.choices[0]
    assert choice.finish_reason == "tool_calls" and choice.message.content == ""
    assert [(c.function.name, c.function.arguments) for c in choice.message.tool_calls] == [
        ("plot", "{}"),
        ("read_csv", '{"a": 1}'),
    ]
    assert [c.model_extra["index"] for c in choice.message.tool_calls] == [0, 1]


def test_badjson_sends_arguments_that_do_not_parse(o4_emulator: Emulator) -> None:
    client = make_client(o4_emulator)
    reply = client.chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[user("[[call:read_csv:badjson]]")]
    )
    arguments = reply.choices[0].message.tool_calls[0].function.arguments
    assert arguments == BAD_ARGUMENTS
    with pytest.raises(json.JSONDecodeError):
        json.loads(arguments)


def test_a_tool_message_answering_no_call_is_refused_with_the_providers_400(o4_emulator: Emulator) -> None:
    messages = [user("hi [[call:plot]]"), {"role": "tool", "tool_call_id": "call_nope", "content": "x"}]
    with pytest.raises(openai.BadRequestError) as caught:
        make_client(o4_emulator).chat.completions.create(model=MODEL, tools=TOOLS, messages=messages)
    body = caught.value.body
    assert body["code"] == 400 and body["message"] == "Provider returned error"
    raw = json.loads(body["metadata"]["raw"])
    assert (
        raw["error"]["param"] == "messages.[1].role"
        and "must be a response to a preceeding" in (raw["error"]["message"])
    )
    assert body["metadata"]["provider_name"] == "OpenAI"
    assert o4_emulator.chat_requests[0].status == 400 and o4_emulator.chat_requests[0].gen_id is None


def test_an_unanswered_call_is_refused(o4_emulator: Emulator) -> None:
    call = {"id": "call_a", "type": "function", "function": {"name": "plot", "arguments": "{}"}}
    messages = [user("hi"), {"role": "assistant", "content": None, "tool_calls": [call]}, user("and?")]
    status, data = raw_post(o4_emulator, {"model": MODEL, "tools": TOOLS, "messages": messages})
    raw = json.loads(json.loads(data)["error"]["metadata"]["raw"])
    assert status == 400 and "did not have response messages: call_a" in raw["error"]["message"]


def test_assistant_reasoning_details_are_accepted_and_recorded(o4_emulator: Emulator) -> None:
    client = make_client(o4_emulator)
    first = client.chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[user("[[reasoning:encrypted]][[call:plot]]")]
    )
    message = first.choices[0].message
    details = message.reasoning_details
    assert details[0]["type"] == "reasoning.encrypted"
    messages = [
        user("[[reasoning:encrypted]][[call:plot]]"),
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "a plot"},
    ]
    final = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=messages)
    assert final.choices[0].message.content == "From the tools:\n\n- plot: a plot"
    assert o4_emulator.chat_requests[1].received_reasoning_details == details
    assert o4_emulator.chat_requests[1].body["messages"][1]["reasoning_details"] == details


def test_without_tools_the_directives_are_ignored(o4_emulator: Emulator) -> None:
    reply = make_client(o4_emulator).chat.completions.create(
        model=MODEL, messages=[user("Plot it [[call:plot]]")]
    )
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.tool_calls is None
    assert 'You asked: "Plot it"' in reply.choices[0].message.content


def test_tool_choice_none_answers_in_text(o4_emulator: Emulator) -> None:
    reply = make_client(o4_emulator).chat.completions.create(
        model=MODEL, tools=TOOLS, tool_choice="none", messages=[user("[[call:plot]]")]
    )
    assert reply.choices[0].finish_reason == "stop" and reply.choices[0].message.tool_calls is None


def test_images_sent_after_tool_results_are_billed_and_the_loop_continues(o4_emulator: Emulator) -> None:
    client = make_client(o4_emulator)
    prompt = "Plot then describe [[call:plot]] [[call:read_csv]]"
    first = (
        client.chat.completions.create(model=MODEL, tools=TOOLS, messages=[user(prompt)]).choices[0].message
    )
    tool_turn = [
        user(prompt),
        first.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": first.tool_calls[0].id, "content": "plotted; image below"},
    ]
    image = [
        {"type": "text", "text": "The plot:"},
        {"type": "image_url", "image_url": {"url": png_data_url(640, 480)}},
    ]
    without = client.chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[*tool_turn, user("The plot:")]
    )
    second = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=[*tool_turn, user(image)])
    assert second.usage.prompt_tokens - without.usage.prompt_tokens == 516  # ceil(20 * 15 patches * 1.72)
    assert [c.function.name for c in second.choices[0].message.tool_calls] == ["read_csv"]  # the next step
    assert o4_emulator.generations[second.id]["num_media_prompt"] == 1
    assert o4_emulator.chat_requests[-1].prompt == prompt
    messages = [
        *tool_turn,
        user(image),
        second.choices[0].message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": second.choices[0].message.tool_calls[0].id, "content": "a,b"},
    ]
    final = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=messages).choices[0].message
    assert final.content == (
        "From the tools:\n\n- plot: plotted; image below\n- read_csv: a,b\n\n"
        "I also looked at the 1 image(s) sent with the results."
    )


def test_a_new_user_turn_starts_a_fresh_set_of_directives(o4_emulator: Emulator) -> None:
    client = make_client(o4_emulator)
    first = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=[user("[[call:plot]]")])
    message = first.choices[0].message
    history = [
        user("[[call:plot]]"),
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": message.tool_calls[0].id, "content": "done"},
        {"role": "assistant", "content": "From the tools: done"},
    ]
    again = client.chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[*history, user("[[call:plot]]")]
    )
    assert again.choices[0].message.tool_calls[0].function.name == "plot"
    plain = client.chat.completions.create(model=MODEL, tools=TOOLS, messages=[*history, user("thanks")])
    assert plain.choices[0].message.content.startswith("## Offline answer")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"tools": [{"type": "function", "function": {"name": "bad name"}}]}, "function.name"),
        ({"tools": [{"type": "retrieval"}]}, "tools[0]"),
        ({"tools": TOOLS, "tool_choice": {"type": "function", "function": {"name": "nope"}}}, "tool_choice"),
    ],
)
def test_invalid_tools_are_a_400(o4_emulator: Emulator, options: dict[str, Any], message: str) -> None:
    with pytest.raises(openai.BadRequestError, match=re.escape(message)):
        make_client(o4_emulator).chat.completions.create(model=MODEL, messages=[user("x")], **options)


@pytest.mark.parametrize("directive", ["[[call:]]", "[[call:a:{oops}]]", "[[call:a:[1]]]", "[[call:a b]]"])
def test_a_bad_call_directive_is_a_400(o4_emulator: Emulator, directive: str) -> None:
    with pytest.raises(openai.BadRequestError, match="bad directive"):
        make_client(o4_emulator).chat.completions.create(model=MODEL, tools=TOOLS, messages=[user(directive)])


def test_arguments_may_hold_brackets_and_pipes(o4_emulator: Emulator) -> None:
    arguments = '{"grid": [[1, 2]], "sep": "|", "end": "]]"}'
    reply = make_client(o4_emulator).chat.completions.create(
        model=MODEL, tools=TOOLS, messages=[user(f"[[call:read_csv:{arguments}|plot]]")]
    )
    calls = reply.choices[0].message.tool_calls
    assert [(c.function.name, c.function.arguments) for c in calls] == [
        ("read_csv", arguments),
        ("plot", "{}"),
    ]
