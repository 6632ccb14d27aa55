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


def test_tool_calls_go_through_the_grammar_cache(llama3):
    """compile_tool_calls and compile_async(..., "tool_calls") share the Compiler's compiled-grammar cache:
    the same tags, triggers and options are a hit returning the same object; other options are other entries."""
    c = tollgate.Compiler(llama3)
    tags, triggers = tollgate.tool_call_tags([{"name": "get_weather", "parameters": WEATHER}], style="function")
    g = c.compile_tool_calls(tags, triggers=triggers)
    assert c.compile_tool_calls(tags, triggers=triggers) is g
    assert c.compile_tool_calls([{"begin": b, "schema": s, "end": e} for b, s, e in tags], triggers=triggers) is g
    stats = c.cache_stats()
    assert (stats["compiles"], stats["hits"], stats["entries"]) == (1, 2, 1)
    others = [c.compile_tool_calls(tags, triggers=triggers, whitespace="compact"),
              c.compile_tool_calls(tags, triggers=triggers, at_most_one=True),
              c.compile_tool_calls(tags, triggers=triggers, required=True),
              c.compile_tool_calls(tags)]
    assert len({id(x) for x in others + [g]}) == 5
    assert c.cache_stats()["entries"] == 5
    call = '<function=get_weather>{"city": "Oslo"}</function>'
    assert accepts(g, "ok " + call) and not accepts(others[0], "ok " + call)  # compact: no space after ':'

    spec = {"tags": tags, "triggers": triggers}
    assert c.compile_async(spec, "tool_calls").result() is g
    assert c.compile_async(spec, "tool_calls", whitespace="compact").result() is others[0]
    fresh = c.compile_async({"tags": tags, "triggers": triggers, "at_most_one": True, "required": True}, "tool_calls")
    one = fresh.result()
    assert c.compile_tool_calls(tags, triggers=triggers, at_most_one=True, required=True) is one
    assert not accepts(one, "no call") and accepts(one, call)
    with pytest.raises(TypeError):
        c.compile_async(tags, "tool_calls")
    with pytest.raises(tollgate.GrammarError, match="starts with no trigger"):
        c.compile_async({"tags": tags, "triggers": ["<tool>"]}, "tool_calls").result()
