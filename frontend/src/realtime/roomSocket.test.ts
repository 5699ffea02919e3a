import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { FINAL_CLOSE_CODES, type Envelope } from "./protocol";
import { RoomSocket, type RoomSocketOptions, type SocketStatus } from "./roomSocket";

/** Enough of a browser WebSocket for RoomSocket; the test plays the server. */
class FakeWebSocket {
  static instances: FakeWebSocket[] = [];
  readyState = 0;
  sent: Envelope[] = [];
  closedWith: { code?: number; reason?: string } | null = null;
  onopen: ((ev: Event) => void) | null = null;
  onmessage: ((ev: MessageEvent) => void) | null = null;
  onclose: ((ev: CloseEvent) => void) | null = null;
  onerror: ((ev: Event) => void) | null = null;

  constructor(readonly url: string) {
    FakeWebSocket.instances.push(this);
  }

  send(data: string): void {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(JSON.parse(data) as Envelope);
  }

  close(code?: number, reason?: string): void {
    this.closedWith = { code, reason };
    if (this.readyState === 3) return;
    this.readyState = 3;
    queueMicrotask(() => this.onclose?.({ code: code ?? 1005 } as CloseEvent));
  }

  // The server's side:
  accept(): void {
    this.readyState = 1;
    this.onopen?.({} as Event);
  }

  receive(msg: Envelope): void {
    this.onmessage?.({ data: JSON.stringify(msg) } as MessageEvent);
  }

  serverClose(code: number): void {
    this.readyState = 3;
    this.onclose?.({ code } as CloseEvent);
  }
}

const latest = (): FakeWebSocket => {
  const ws = FakeWebSocket.instances.at(-1);
  if (!ws) throw new Error("no WebSocket created");
  return ws;
};
const flush = () => vi.advanceTimersByTimeAsync(0);
const roomState = (seq: number): Envelope => ({ type: "room.state", data: { seq }, seq, ts: "t" });
const bcast = (seq: number, type = "chat.message"): Envelope => ({ type, data: { n: seq }, seq, ts: "t" });

let received: Envelope[];
let statuses: SocketStatus[];
let finals: [number, string][];
let getToken: ReturnType<typeof vi.fn<(force: boolean) => Promise<string | null>>>;

function make(over: Partial<RoomSocketOptions> = {}): RoomSocket {
  return new RoomSocket({
    url: "ws://host/api/rooms/k7qm3xtp/ws",
    getToken,
    onMessage: (m) => received.push(m),
    onStatus: (s) => statuses.push(s),
    onFinal: (code, reason) => finals.push([code, reason]),
    WebSocketImpl: FakeWebSocket as unknown as typeof WebSocket,
    random: () => 0.5, // jitter factor 0.75 + 0.5 × 0.5 = 1
    ...over,
  });
}

/** Start and get to `open` with room.state at `seq`. */
async function connected(seq = 10, over: Partial<RoomSocketOptions> = {}): Promise<{ s: RoomSocket; ws: FakeWebSocket }> {
  const s = make(over);
  s.start();
  await flush();
  const ws = latest();
  ws.accept();
  ws.receive(roomState(seq));
  return { s, ws };
}

beforeEach(() => {
  vi.useFakeTimers();
  FakeWebSocket.instances = [];
  received = [];
  statuses = [];
  finals = [];
  getToken = vi.fn(async (force: boolean) => (force ? "fresh-token" : "token"));
});

afterEach(() => {
  vi.useRealTimers();
});

describe("RoomSocket: staying signed in", () => {
  it("sends auth with a refreshed token on the open socket, without reconnecting", async () => {
    const { s, ws } = await connected(10);
    s.reauthenticate("refreshed-token");
    expect(ws.sent.at(-1)).toEqual({ type: "auth", data: { token: "refreshed-token" } });
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(s.status).toBe("open");
  });

  it("a token refreshed while connecting is sent right after room.state", async () => {
    const s = make();
    s.start();
    await flush();
    const ws = latest();
    ws.accept();
    s.reauthenticate("refreshed-token");
    expect(ws.sent).toEqual([{ type: "auth", data: { token: "token" } }]);
    ws.receive(roomState(3));
    expect(ws.sent).toEqual([
      { type: "auth", data: { token: "token" } },
      { type: "auth", data: { token: "refreshed-token" } },
    ]);
    s.reauthenticate("third-token");
    expect(ws.sent).toHaveLength(3);
  });

  it("a 4401 on an open socket (its token expired) reconnects with a refreshed token", async () => {
    const { ws } = await connected(10);
    ws.serverClose(4401);
    await vi.advanceTimersByTimeAsync(600);
    expect(getToken).toHaveBeenLastCalledWith(true);
    latest().accept();
    expect(latest().sent).toEqual([{ type: "auth", data: { token: "fresh-token" } }]);
  });
});

describe("RoomSocket: connecting", () => {
  it("sends auth with the token as the first frame", async () => {
    const s = make();
    s.start();
    expect(s.status).toBe("connecting");
    await flush();
    expect(getToken).toHaveBeenCalledWith(false);
    const ws = latest();
    expect(ws.url).toBe("ws://host/api/rooms/k7qm3xtp/ws");
    ws.accept();
    expect(ws.sent).toEqual([{ type: "auth", data: { token: "token" } }]);
  });

  it("room.state opens it and is delivered first", async () => {
    const { s } = await connected(10);
    expect(s.status).toBe("open");
    expect(statuses).toEqual(["connecting", "open"]);
    expect(received.map((m) => m.type)).toEqual(["room.state"]);
    expect(s.generation).toBe(1);
  });

  it("ignores anything before room.state", async () => {
    const s = make();
    s.start();
    await flush();
    latest().accept();
    latest().receive(bcast(3));
    expect(received).toEqual([]);
    expect(s.status).toBe("connecting");
  });

  it("send returns false before room.state, true (and sends JSON) after", async () => {
    const s = make();
    expect(s.send("ping")).toBe(false);
    s.start();
    await flush();
    const ws = latest();
    ws.accept();
    expect(s.send("chat.send", { text: "hi" })).toBe(false);
    ws.receive(roomState(1));
    expect(s.send("chat.send", { text: "hi", client_id: "c-1" })).toBe(true);
    expect(ws.sent.at(-1)).toEqual({ type: "chat.send", data: { text: "hi", client_id: "c-1" } });
  });

  it("a null token (signed out) is final", async () => {
    getToken.mockResolvedValue(null);
    const s = make();
    s.start();
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(0);
    expect(finals.map(([c]) => c)).toEqual([4401]);
    expect(s.status).toBe("closed");
  });
});

describe("RoomSocket: seq", () => {
  it("passes broadcasts in order through", async () => {
    const { ws } = await connected(10);
    ws.receive(bcast(11));
    ws.receive(bcast(12, "presence.joined"));
    expect(received.map((m) => m.seq)).toEqual([10, 11, 12]);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });

  it("a seq gap reconnects for a fresh room.state", async () => {
    const { s, ws } = await connected(10);
    ws.receive(bcast(11));
    ws.receive(bcast(13)); // 12 was missed
    expect(received.map((m) => m.seq)).toEqual([10, 11]);
    expect(ws.closedWith?.code).toBe(1000);
    expect(s.status).toBe("reconnecting");
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(2);
    const ws2 = latest();
    ws2.accept();
    expect(ws2.sent).toEqual([{ type: "auth", data: { token: "token" } }]);
    ws.receive(bcast(14)); // the old socket is no longer listened to
    ws2.receive(roomState(20));
    ws2.receive(bcast(21));
    expect(received.map((m) => [m.type, m.seq])).toEqual([
      ["room.state", 10],
      ["chat.message", 11],
      ["room.state", 20],
      ["chat.message", 21],
    ]);
    expect(s.status).toBe("open");
    expect(s.generation).toBe(2);
    await vi.advanceTimersByTimeAsync(20_000);
    expect(FakeWebSocket.instances).toHaveLength(2); // the resync's own close does not trigger another reconnect
  });

  it("direct messages never resync, whatever their seq", async () => {
    const { ws } = await connected(10);
    ws.receive({ type: "rtc.answer", data: { from: "agent", sdp: "v=0" }, seq: 99 });
    ws.receive({ type: "error", data: { code: "not_holder" }, seq: 3 });
    ws.receive({ type: "pong", data: {}, seq: 50 });
    ws.receive({ type: "rtc.ice", data: {}, seq: 70 });
    ws.receive({ type: "rtc.offer", data: {}, seq: 1 });
    ws.receive(bcast(11)); // the broadcast count is unaffected
    expect(received.map((m) => m.type)).toEqual(["room.state", "rtc.answer", "error", "pong", "rtc.ice", "rtc.offer", "chat.message"]);
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(ws.closedWith).toBeNull();
  });

  it("drops a stale broadcast (seq ≤ last)", async () => {
    const { ws } = await connected(10);
    ws.receive(bcast(10));
    ws.receive(bcast(11));
    ws.receive(bcast(11));
    ws.receive(bcast(7));
    ws.receive(bcast(12));
    expect(received.map((m) => m.seq)).toEqual([10, 11, 12]);
    await flush();
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe("RoomSocket: closes", () => {
  it("an abnormal close reconnects with growing backoff (500 ms, 1 s, 2 s)", async () => {
    const { s, ws } = await connected(10);
    ws.serverClose(1006);
    expect(s.status).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(2);
    latest().serverClose(1006); // fails again before room.state
    await vi.advanceTimersByTimeAsync(999);
    expect(FakeWebSocket.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
    latest().serverClose(1006);
    await vi.advanceTimersByTimeAsync(1999);
    expect(FakeWebSocket.instances).toHaveLength(3);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(4);
    // A fresh room.state resets the backoff.
    latest().accept();
    latest().receive(roomState(30));
    latest().serverClose(1006);
    await vi.advanceTimersByTimeAsync(500);
    expect(FakeWebSocket.instances).toHaveLength(5);
  });

  it("1012 (the server is stopping) reconnects at once, as 'moving', with no error and no backoff", async () => {
    const { s, ws } = await connected(10);
    ws.serverClose(1012);
    await flush(); // no timer runs: the new connection is made now
    expect(FakeWebSocket.instances).toHaveLength(2);
    expect(s.status).toBe("moving");
    expect(statuses).not.toContain("reconnecting");
    expect(finals).toEqual([]);
    const ws2 = latest();
    ws2.accept();
    expect(ws2.sent).toEqual([{ type: "auth", data: { token: "token" } }]);
    ws2.receive(roomState(12));
    expect(s.status).toBe("open");
    expect(statuses).toEqual(["connecting", "open", "moving", "open"]);
    expect(received.map((m) => m.type)).toEqual(["room.state", "room.state"]);
  });

  it("1012 before room.state (a stopping server refused it) backs off like any close", async () => {
    const { ws } = await connected(10);
    ws.serverClose(1012);
    await flush();
    latest().serverClose(1012); // the new connection reached a stopping server too
    expect(statuses.at(-1)).toBe("reconnecting");
    await vi.advanceTimersByTimeAsync(499);
    expect(FakeWebSocket.instances).toHaveLength(2);
    await vi.advanceTimersByTimeAsync(1);
    expect(FakeWebSocket.instances).toHaveLength(3);
  });

  it("the jitter comes from the injected random and the delay is capped", async () => {
    const { ws } = await connected(10, { random: () => 0, maxBackoffMs: 600 });
    ws.serverClose(1006);
    await vi.advanceTimersByTimeAsync(374);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1); // 500 × 0.75
    expect(FakeWebSocket.instances).toHaveLength(2);
    for (let i = 0; i < 5; i++) {
      latest().serverClose(1006);
      await vi.advanceTimersByTimeAsync(450); // capped: 600 × 0.75
    }
    expect(FakeWebSocket.instances).toHaveLength(7);
  });

  it("4401 asks for a refreshed token before reconnecting", async () => {
    const { ws } = await connected(10);
    expect(getToken.mock.calls).toEqual([[false]]);
    ws.serverClose(4401);
    await vi.advanceTimersByTimeAsync(500);
    expect(getToken.mock.calls).toEqual([[false], [true]]);
    const ws2 = latest();
    expect(ws2).not.toBe(ws);
    ws2.accept();
    expect(ws2.sent[0]).toEqual({ type: "auth", data: { token: "fresh-token" } });
    ws2.serverClose(1006);
    await vi.advanceTimersByTimeAsync(1000);
    expect(getToken.mock.calls.at(-1)).toEqual([false]); // only once
    expect(finals).toEqual([]);
  });

  it.each([4403, 4404, 4410, 4000])("close %i is final: onFinal with words, no reconnect", async (code) => {
    const { s, ws } = await connected(10);
    ws.serverClose(code);
    expect(finals).toEqual([[code, FINAL_CLOSE_CODES[code]]]);
    expect(finals[0]?.[1]).toMatch(/\w+ \w+/);
    expect(s.status).toBe("closed");
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(s.send("ping")).toBe(false);
  });

  it("stop() closes and never reconnects", async () => {
    const { s, ws } = await connected(10);
    s.stop();
    expect(ws.closedWith?.code).toBe(1000);
    expect(s.status).toBe("closed");
    expect(s.send("ping")).toBe(false);
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    expect(finals).toEqual([]);
  });

  it("stop() while a retry is pending cancels it", async () => {
    const { s, ws } = await connected(10);
    ws.serverClose(1006);
    s.stop();
    await vi.advanceTimersByTimeAsync(60_000);
    expect(FakeWebSocket.instances).toHaveLength(1);
  });
});

describe("RoomSocket: keepalive", () => {
  it("pings every interval and resyncs a socket silent for 3 intervals", async () => {
    const { ws } = await connected(10, { pingIntervalMs: 1000 });
    await vi.advanceTimersByTimeAsync(1000);
    expect(ws.sent.at(-1)).toEqual({ type: "ping", data: {} });
    ws.receive({ type: "pong", data: {}, seq: 10 });
    await vi.advanceTimersByTimeAsync(3000);
    expect(FakeWebSocket.instances).toHaveLength(1);
    await vi.advanceTimersByTimeAsync(1000); // nothing heard for > 3 s
    expect(ws.closedWith?.code).toBe(1000);
    expect(FakeWebSocket.instances).toHaveLength(2);
  });
});
