"""Tags for Compiler.compile_tool_calls from OpenAI-style tool definitions.

    tools = [{"type": "function", "function": {"name": "get_weather", "parameters": {...}}}]
    tags, triggers = tollgate.tool_call_tags(tools, style="function")
    compiled = compiler.compile_tool_calls(tags, triggers=triggers)
"""
import json as _json
from typing import Any, Dict, List, Sequence, Tuple

__all__ = ["tool_call_tags"]

# style → (begin, end, trigger); begin and end are formatted with the tool's name.
_STYLES = {
    # Llama 3.1 custom tool calling: <function=NAME>{...}</function>
    "function": ("<function={name}>", "</function>", "<function="),
    # Hermes / Qwen: <tool_call>{"name": NAME, "arguments": {...}}</tool_call>
    "hermes": ('<tool_call>{{"name": {qname}, "arguments": ', "}}</tool_call>", "<tool_call>"),
}


def tool_call_tags(tools: Sequence[Dict[str, Any]],
                   style: str = "function") -> Tuple[List[Tuple[str, Dict[str, Any], str]], List[str]]:
    """(tags, triggers) for compile_tool_calls: one (begin, schema, end) tag per tool.

    tools: OpenAI-style {"type": "function", "function": {"name", "parameters"}} dicts, or plain
    {"name", "parameters"} dicts. style: "function" (<function=NAME>{args}</function>) or
    "hermes" (<tool_call>{"name": NAME, "arguments": {args}}</tool_call>)."""
    if style not in _STYLES:
        raise ValueError("style must be one of " + ", ".join(sorted(_STYLES)) + ", not " + repr(style))
    begin_f, end_f, trigger = _STYLES[style]
    tags: List[Tuple[str, Dict[str, Any], str]] = []
    for tool in tools:
        fn = tool.get("function", tool)
        name = fn["name"]
        schema = fn.get("parameters", {"type": "object"})
        tags.append((begin_f.format(name=name, qname=_json.dumps(name)), schema, end_f.format(name=name)))
    return tags, [trigger]
