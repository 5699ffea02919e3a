// RoomClient's contract with the stream: a new offer to the agent after every fresh room.state,
// when the agent comes back, and a second after the peer fails; none while the room starts.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { RoomClient, type RoomSink } from "./roomClient";

class FakeWS {
  static all: FakeWS[] = [];
  readyState = 0;
  sent: { type: string; data: Record<string, unknown> }[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: { data: string }) => void) | null = null;
  onclose: ((e: { code: number }) => void) | null = null;
  onerror: (() => void) | null = null;
  constructor(readonly url: string) {
    FakeWS.all.push(this);
    queueMicrotask(() => {
      this.readyState = 1;
      this.onopen?.();
    });
  }
  send(raw: string): void {
    this.sent.push(JSON.parse(raw) as { type: string; data: Record<string, unknown> });
  }
  close(): void {
    this.readyState = 3;
  }
  deliver(msg: object): void {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
  offers(): number {
    return this.sent.filter((m) => m.type === "rtc.offer" && m.data.to === "agent").length;
  }
}

class FakePC {
  static all: FakePC[] = [];
  connectionState: RTCPeerConnectionState = "new";
  iceGatheringState: RTCIceGatheringState = "complete";
  signalingState: RTCSignalingState = "stable";
  localDescription: { sdp: string } | null = null;
  closed = false;
  onconnectionstatechange: (() => void) | null = null;
  ontrack: unknown = null;
  constructor() {
    FakePC.all.push(this);
  }
  addTransceiver(): void {}
  channels: { label: string; readyState: string; sent: Uint8Array[]; onopen: (() => void) | null; onmessage: ((e: { data: unknown }) => void) | null }[] = [];
  createDataChannel(label: string) {
    const ch = {
      label,
      readyState: "connecting",
      binaryType: "blob",
      sent: [] as Uint8Array[],
      onmessage: null,
      onopen: null as (() => void) | null,
      send(b: Uint8Array) {
        this.sent.push(b.slice());
      },
    };
    this.channels.push(ch);
    return ch;
  }
  /** Opens the input channel; the u16 heights of the quality caps (0x0B) it then carried. */
  openInput(): () => number[] {
    const ch = this.channels.find((c) => c.label === "input");
    if (!ch) throw new Error("no input channel");
    ch.readyState = "open";
    ch.onopen?.();
    return () => ch.sent.filter((b) => b[0] === 0x0b).map((b) => new DataView(b.buffer).getUint16(1, true));
  }
  async createOffer() {
    return { type: "offer", sdp: "v=0" };
  }
  async setLocalDescription(d: { sdp: string }) {
    this.localDescription = d;
    this.signalingState = "have-local-offer";
  }
  async setRemoteDescription() {
    this.signalingState = "stable";
  }
  addEventListener(): void {}
  removeEventListener(): void {}
  async getStats() {
    return new Map();
  }
  close(): void {
    this.closed = true;
  }
  fail(): void {
    this.connectionState = "failed";
    this.onconnectionstatechange?.();
  }
}

function state(seq: number, status: string, agent: boolean) {
  return {
    type: "room.state",
    seq,
    data: {
      room: { id: "r", code: "abc", title: "t", host_id: "u1", status, stage: status === "ready" ? "ready" : "booting", status_reason: null, created_at: "", ended_at: null, max_participants: 10, start_url: null, join_url: "" },
      you: { user_id: "u1", conn_id: "c1", role: "host" },
      participants: [],
      remote: { holder_id: null, requests: [] },
      browser: null,
      agent_connected: agent,
      chat: [],
      ice_servers: [],
    },
  };
}

const sink = (): RoomSink & { peerStates: string[] } => {
  const peerStates: string[] = [];
  return { peerStates, apply() {}, addPending() {}, socketStatus() {}, peerStatus: (s) => void peerStates.push(s), stats() {}, fatal() {}, stream() {} };
};

async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await vi.advanceTimersByTimeAsync(0);
}

describe("RoomClient stream lifecycle", () => {
  beforeEach(() => {
    FakeWS.all = [];
    FakePC.all = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeWS);
    vi.stubGlobal("RTCPeerConnection", FakePC);
    vi.stubGlobal("MediaStream", class { addTrack() {} });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  async function open(status: string, agent: boolean) {
    const s = sink();
    const client = new RoomClient({ code: "abc", wsUrl: "ws://x/api/rooms/abc/ws", getToken: async () => "tok", sink: s });
    client.start();
    await settle();
    const ws = FakeWS.all[0];
    if (!ws) throw new Error("no socket");
    ws.deliver(state(5, status, agent));
    await settle();
    return { client, ws, s };
  }

  it("offers once the room is ready and its agent connected, not while it starts", async () => {
    const { client, ws } = await open("starting", true);
    expect(ws.offers()).toBe(0);
    ws.deliver({ type: "room.status", seq: 6, data: { status: "ready", stage: "ready", agent_connected: true } });
    await settle();
    expect(ws.offers()).toBe(1);
    client.stop();
  });

  it("offers again when the agent reconnects", async () => {
    const { client, ws } = await open("ready", true);
    expect(ws.offers()).toBe(1);
    ws.deliver({ type: "room.status", seq: 6, data: { agent_connected: false } });
    await settle();
    expect(FakePC.all[0]?.closed).toBe(true);
    ws.deliver({ type: "room.status", seq: 7, data: { agent_connected: true } });
    await settle();
    expect(ws.offers()).toBe(2);
    client.stop();
  });

  it("offers again a second after the peer fails", async () => {
    const { client, ws, s } = await open("ready", true);
    FakePC.all[0]?.fail();
    await settle();
    expect(s.peerStates).toContain("reconnecting");
    expect(ws.offers()).toBe(1);
    await vi.advanceTimersByTimeAsync(1_000);
    await settle();
    expect(ws.offers()).toBe(2);
    client.stop();
  });

  it("offers again after every fresh room.state (the hub closed the old peer with the old socket)", async () => {
    const { client, ws } = await open("ready", true);
    ws.deliver(state(9, "ready", true));
    await settle();
    expect(FakePC.all).toHaveLength(2);
    expect(FakePC.all[0]?.closed).toBe(true);
    expect(ws.offers()).toBe(2);
    client.stop();
  });
});

describe("RoomClient quality choice", () => {
  const saved = new Map<string, string>();
  beforeEach(() => {
    FakeWS.all = [];
    FakePC.all = [];
    saved.clear();
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeWS);
    vi.stubGlobal("RTCPeerConnection", FakePC);
    vi.stubGlobal("MediaStream", class { addTrack() {} });
    vi.stubGlobal("localStorage", { getItem: (k: string) => saved.get(k) ?? null, setItem: (k: string, v: string) => void saved.set(k, v) });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("starts from the saved choice, saves a change, and tells the agent on every peer", async () => {
    saved.set("wp.quality", "480");
    const caps: number[] = [];
    const statuses: unknown[] = [];
    const client = new RoomClient({
      code: "abc",
      wsUrl: "ws://x/api/rooms/abc/ws",
      getToken: async () => "tok",
      sink: { ...sink(), qualityCap: (c) => void caps.push(c), quality: (q) => void statuses.push(q) },
    });
    client.start();
    await settle();
    FakeWS.all[0]?.deliver(state(5, "ready", true));
    await settle();
    const first = FakePC.all[0];
    if (!first) throw new Error("no peer");
    const sentFirst = first.openInput();
    expect(sentFirst()).toEqual([480]);
    client.setQualityCap(360);
    expect(sentFirst()).toEqual([480, 360]);
    expect(saved.get("wp.quality")).toBe("360");
    expect(caps).toEqual([480, 360]);
    // A new peer (fresh room.state) starts at the current choice; the old one's status is cleared.
    FakeWS.all[0]?.deliver(state(9, "ready", true));
    await settle();
    expect(statuses).toContain(null);
    const sentSecond = FakePC.all[1]?.openInput();
    expect(sentSecond?.()).toEqual([360]);
    client.stop();
  });
});

describe("RoomClient watching together", () => {
  beforeEach(() => {
    FakeWS.all = [];
    FakePC.all = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeWS);
    vi.stubGlobal("RTCPeerConnection", FakePC);
    vi.stubGlobal("MediaStream", class { addTrack() {} });
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  async function open() {
    const applied: string[] = [];
    const client = new RoomClient({ code: "abc", wsUrl: "ws://x/api/rooms/abc/ws", getToken: async () => "tok", sink: { ...sink(), apply: (m) => void applied.push(m.type) } });
    client.start();
    await settle();
    const ws = FakeWS.all[0];
    if (!ws) throw new Error("no socket");
    ws.deliver(state(5, "starting", false));
    await settle();
    return { client, ws, applied };
  }

  it("sends media commands, reactions and queue changes as the contract names them", async () => {
    const { client, ws } = await open();
    client.mediaCommand("pause");
    client.mediaCommand("seek", 42.5);
    client.react("👏");
    client.queueAdd("https://a.example/v");
    client.queueRemove("q1");
    client.queueMove("q2", 0);
    expect(ws.sent.filter((m) => m.type !== "auth" && m.type !== "ping")).toEqual([
      { type: "media.cmd", data: { action: "pause" } },
      { type: "media.cmd", data: { action: "seek", value: 42.5 } },
      { type: "reaction.send", data: { emoji: "👏" } },
      { type: "queue.add", data: { url: "https://a.example/v" } },
      { type: "queue.remove", data: { id: "q1" } },
      { type: "queue.move", data: { id: "q2", index: 0 } },
    ]);
    client.stop();
  });

  it("coalesces pointing to 10 a second, the latest winning", async () => {
    const { client, ws } = await open();
    for (let i = 1; i <= 5; i++) client.pointAt(i / 10, 0.5);
    const points = () => ws.sent.filter((m) => m.type === "pointer.show").map((m) => m.data.x);
    expect(points()).toEqual([0.1]);
    await vi.advanceTimersByTimeAsync(100);
    expect(points()).toEqual([0.1, 0.5]);
    client.stop();
  });

  it("shows reactions and pointers for a moment, and still hands every message to the store", async () => {
    const { client, ws, applied } = await open();
    ws.deliver({ type: "reaction", seq: 6, data: { id: "r1", user_id: "u2", username: "ben", emoji: "😂" } });
    ws.deliver({ type: "pointer", seq: 7, data: { user_id: "u2", username: "ben", x: 0.25, y: 0.75 } });
    expect(client.reactions.snapshot().map((r) => r.emoji)).toEqual(["😂"]);
    expect(client.pointers.snapshot().map((p) => [p.username, p.x, p.y])).toEqual([["ben", 0.25, 0.75]]);
    expect(applied).toEqual(["room.state", "reaction", "pointer"]);
    await vi.advanceTimersByTimeAsync(5_000);
    expect(client.reactions.snapshot()).toEqual([]);
    expect(client.pointers.snapshot()).toEqual([]);
    client.stop();
  });
});

describe("RoomClient chat across a move (1012)", () => {
  beforeEach(() => {
    FakeWS.all = [];
    vi.useFakeTimers();
    vi.stubGlobal("WebSocket", FakeWS);
  });
  afterEach(() => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  });

  it("sends an unconfirmed message again after the move, once, with its client_id; a confirmed one never", async () => {
    const statuses: string[] = [];
    const s = { ...sink(), socketStatus: (st: string) => void statuses.push(st) };
    const client = new RoomClient({ code: "abc", wsUrl: "ws://x/api/rooms/abc/ws", getToken: async () => "tok", sink: s });
    client.start();
    await settle();
    const ws = FakeWS.all[0];
    if (!ws) throw new Error("no socket");
    ws.deliver(state(5, "starting", false));
    await settle();
    const me = { id: "u1", username: "ana" };
    expect(client.sendChat("echoed", me)).toBe(true);
    expect(client.sendChat("lost in the move", me)).toBe(true);
    expect(client.sendChat("stored, echo lost", me)).toBe(true);
    const [echoed, lost, stored] = ws.sent.filter((m) => m.type === "chat.send").map((m) => String(m.data.client_id));
    ws.deliver({ type: "chat.message", seq: 6, data: { id: "m1", user: me, text: "echoed", created_at: "", client_id: echoed, kind: "user" } });
    ws.onclose?.({ code: 1012 }); // the server process is stopping
    await settle();
    const ws2 = FakeWS.all[1];
    if (!ws2) throw new Error("no reconnect");
    const fresh = state(9, "starting", false);
    fresh.data.chat = [{ id: "m2", user: me, text: "stored, echo lost", created_at: "", client_id: stored, kind: "user" }] as never[];
    ws2.deliver(fresh);
    await settle();
    const resent = ws2.sent.filter((m) => m.type === "chat.send");
    expect(resent).toEqual([{ type: "chat.send", data: { text: "lost in the move", client_id: lost } }]);
    expect(statuses).not.toContain("reconnecting");
    ws2.deliver({ type: "chat.message", seq: 10, data: { id: "m3", user: me, text: "lost in the move", created_at: "", client_id: lost, kind: "user" } });
    ws2.onclose?.({ code: 1012 });
    await settle();
    FakeWS.all[2]?.deliver(state(10, "starting", false));
    await settle();
    expect(FakeWS.all[2]?.sent.filter((m) => m.type === "chat.send")).toEqual([]);
    client.stop();
  });
});
