"""The Watch Party wire contract: every message of the room socket and of the agent channel
(docs/protocol.md), as pydantic models, in one place.

Three programs speak it and all three are built from here: the control plane validates and sends
these models, the room agent (in the browser image) sends and reads them, and the web app's
message types (`frontend/src/realtime/wire.ts`) are generated from them (`typescript.py`,
`npm run gen:wire`). Pure: pydantic and the standard library only (no FastAPI, no SQL, nothing of
the control plane), so the agent's image carries it without the control plane's dependencies.

- `envelope`: the `{type, data}` frame, parsing and its errors, the two model bases.
- `room`: room socket, client → server (`CLIENT_MESSAGES`) and server → client (`ROOM_MESSAGES`).
- `agent`: agent channel, agent → control plane (`AGENT_MESSAGES`) and control plane → agent
  (`CONTROL_MESSAGES`).
"""
