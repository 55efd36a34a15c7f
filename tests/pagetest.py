"""Driving the page's own components from AppTest."""

from __future__ import annotations

import json

from streamlit.components.v2.bidi_component.main import _make_trigger_id


def send_event(at, key: str, event: str, value, timeout: float = 60):
    """What a custom component (``st.components.v2``) keyed ``key`` sends when its script
    calls ``setTriggerValue(event, value)`` in the browser: the trigger widget's JSON list
    of payloads, with every other widget's value as AppTest would send it. AppTest has no
    element class for these components, so this builds the browser's message itself."""
    (element,) = [e for e in at.get("bidi_component") if e.key == key]
    states = at._tree.get_widget_states()
    trigger = states.widgets.add()
    trigger.id = _make_trigger_id(element.proto.id, "events")
    trigger.json_trigger_value = json.dumps([{"event": event, "value": value}])
    return at._tree._runner._run(states, timeout=timeout)


def set_code(at, code: str, timeout: float = 60):
    """Type ``code`` into the page's program editor and run it (Ctrl+Enter)."""
    return send_event(at, "program_view", "code", code, timeout)


def editor_text(at) -> str:
    """The program the page's editor holds."""
    (element,) = [e for e in at.get("bidi_component") if e.key == "program_view"]
    return json.loads(element.proto.json)["source"]
