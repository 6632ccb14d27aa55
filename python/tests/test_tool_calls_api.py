"""Compiler.compile_tool_calls and tollgate.tool_call_tags: tool calls inside free text, on Llama-3.
The language (free text, calls, at most one / required), errors, and masks in free text."""
import json

import numpy as np
import pytest

import tollgate

WEATHER = {"type": "object", "properties": {"city": {"type": "string"}, "unit": {"enum": ["c", "f"]}},
           "required": ["city"], "additionalProperties": False}


@pytest.fixture(scope="module")
def compiler(llama3):
    return tollgate.Compiler(llama3)


def accepts(compiled, text):
    m = tollgate.Matcher(compiled)
    return m.accept_string(text) and m.is_accepting()


def test_free_text_and_calls(compiler):
    g = compiler.compile_tool_calls([("<function=get_weather>", WEATHER, "</function>")], triggers=["<function="])
    assert accepts(g, "No call here, though 1 < 2 and <func is fine.")
    assert accepts(g, 'Checking. <function=get_weather>{"city": "Paris"}</function> Done.')
    assert not accepts(g, 'x <function=get_weather>{"town": "Paris"}</function>')
    assert not accepts(g, "x <function=get_time>{}</function>")
    one = compiler.compile_tool_calls([{"begin": "<function=get_weather>", "schema": json.dumps(WEATHER),
                                        "end": "</function>"}], triggers=["<function="], at_most_one=True,
                                      required=True, whitespace="compact")
    call = '<function=get_weather>{"city":"Oslo","unit":"c"}</function>'
    assert accepts(one, "a " + call + " b")
    assert not accepts(one, "a b")
    assert not accepts(one, call + call)
    assert not accepts(one, '<function=get_weather>{"city": "Oslo"}</function>')  # compact


def test_tool_call_tags_from_openai_tools(compiler):
    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": WEATHER}},
             {"name": "noop"}]
    tags, triggers = tollgate.tool_call_tags(tools, style="hermes")
    assert triggers == ["<tool_call>"]
    g = compiler.compile_tool_calls(tags, triggers=triggers)
    assert accepts(g, 'Sure. <tool_call>{"name": "get_weather", "arguments": {"city": "Rome"}}</tool_call>')
    assert accepts(g, '<tool_call>{"name": "noop", "arguments": {}}</tool_call>')
    assert not accepts(g, '<tool_call>{"name": "other", "arguments": {}}</tool_call>')
    with pytest.raises(ValueError):
        tollgate.tool_call_tags(tools, style="xml")


def test_errors(compiler):
    with pytest.raises(tollgate.GrammarError, match="starts with no trigger"):
        compiler.compile_tool_calls([("<f=a>", WEATHER, "</f>")], triggers=["<function="])
    with pytest.raises(tollgate.GrammarError) as e:
        compiler.compile_tool_calls([("<f=a>", {"type": "strin"}, "</f>")])
    assert e.value.pointer == "/type" and "tag 0" in str(e.value)
    with pytest.raises(TypeError):
        compiler.compile_tool_calls([("<f=a>", WEATHER)])


def test_free_text_mask_is_nearly_everything(compiler, llama3):
    g = compiler.compile_tool_calls([("<function=get_weather>", WEATHER, "</function>")], triggers=["<function="])
    m = tollgate.Matcher(g)
    assert m.accept_string("Hello there")
    bitmask = tollgate.allocate_token_bitmask(1, llama3.vocab_size)
    m.fill_next_token_bitmask(bitmask)
    allowed = int(np.unpackbits(bitmask.view(np.uint8)).sum())
    # Everything bar special tokens, tokens that break UTF-8 after ASCII text, and a few that
    # would complete the trigger wrongly.
    assert allowed > 0.95 * llama3.vocab_size
