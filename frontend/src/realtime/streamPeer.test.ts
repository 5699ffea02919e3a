import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Op, encodePing } from "./inputEncoder";
import { StreamPeer, type StreamPeerOptions } from "./streamPeer";

class FakeChannel {
  readyState: RTCDataChannelState = "connecting";
  binaryType = "blob";
  sent: Uint8Array[] = [];
  onopen: (() => void) | null = null;
  onmessage: ((e: MessageEvent) => void) | null = null;
  constructor(
    readonly label: string,
    readonly init: RTCDataChannelInit | undefined,
  ) {}
  send(b: Uint8Array): void {
    this.sent.push(b.slice());
  }
  open(): void {
    this.readyState = "open";
    this.onopen?.();
  }
  receive(bytes: Uint8Array): void {
    this.onmessage?.({ data: bytes.slice().buffer } as MessageEvent);
  }
}

class FakePC {
  static last: FakePC | null = null;
  log: string[] = [];
  transceivers: { kind: string; init: RTCRtpTransceiverInit | undefined }[] = [];
  channels: FakeChannel[] = [];
  signalingState: RTCSignalingState = "stable";
  iceGatheringState: RTCIceGatheringState = "new";
  connectionState: RTCPeerConnectionState = "new";
  remoteDescription: RTCSessionDescriptionInit | null = null;
  closed = false;
  ontrack: ((e: RTCTrackEvent) => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  private local: RTCSessionDescriptionInit | null = null;
  private gathered: string[] = [];
  private listeners = new Set<() => void>();

  constructor(readonly config: RTCConfiguration) {
    FakePC.last = this;
  }
  addTransceiver(kind: string, init?: RTCRtpTransceiverInit): void {
    this.log.push(`transceiver:${kind}`);
    this.transceivers.push({ kind, init });
  }
  createDataChannel(label: string, init?: RTCDataChannelInit): FakeChannel {
    this.log.push(`channel:${label}`);
    const ch = new FakeChannel(label, init);
    this.channels.push(ch);
    return ch;
  }
  async createOffer(): Promise<RTCSessionDescriptionInit> {
    this.log.push("createOffer");
    return { type: "offer", sdp: "v=0 offer" };
  }
  async setLocalDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.log.push(`local:${d.type}`);
    this.local = d;
    this.signalingState = "have-local-offer";
    this.iceGatheringState = "gathering";
  }
  get localDescription(): RTCSessionDescriptionInit | null {
    return this.local && { ...this.local, sdp: [this.local.sdp, ...this.gathered].join("\n") };
  }
  async setRemoteDescription(d: RTCSessionDescriptionInit): Promise<void> {
    this.log.push(`remote:${d.type}`);
    this.remoteDescription = d;
    this.signalingState = "stable";
  }
  addEventListener(type: string, fn: () => void): void {
    if (type === "icegatheringstatechange") this.listeners.add(fn);
  }
  removeEventListener(type: string, fn: () => void): void {
    if (type === "icegatheringstatechange") this.listeners.delete(fn);
  }
  gather(candidate: string, complete = false): void {
    this.gathered.push(`a=candidate:${candidate}`);
    if (complete) this.iceGatheringState = "complete";
    for (const fn of [...this.listeners]) fn();
  }
  stats: Record<string, unknown>[] = [];
  async getStats(): Promise<Map<string, Record<string, unknown>>> {
    return new Map(this.stats.map((s) => [String(s.id), s]));
  }
  close(): void {
    this.closed = true;
  }
}

class FakeMediaStream {
  tracks: MediaStreamTrack[] = [];
  addTrack(t: MediaStreamTrack): void {
    this.tracks.push(t);
  }
}

function pc(): FakePC {
  if (!FakePC.last) throw new Error("no peer connection");
  return FakePC.last;
}
const channel = (label: string): FakeChannel => {
  const ch = pc().channels.find((c) => c.label === label);
  if (!ch) throw new Error(`no ${label} channel`);
  return ch;
};

let states: string[];
let offers: string[];
function make(over: Partial<StreamPeerOptions> = {}): StreamPeer {
  return new StreamPeer({
    iceServers: [{ urls: ["stun:turn.example.org:3478"] }],
    sendOffer: (sdp) => {
      offers.push(sdp);
      return true;
    },
    onStream: () => undefined,
    onState: (s) => states.push(s),
    PeerConnection: FakePC as unknown as typeof RTCPeerConnection,
    ...over,
  });
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"] });
  vi.stubGlobal("MediaStream", FakeMediaStream);
  FakePC.last = null;
  states = [];
  offers = [];
});

afterEach(() => {
  vi.unstubAllGlobals();
  vi.useRealTimers();
});

describe("StreamPeer setup", () => {
  it("creates recvonly video and audio and the pointer and input channels before the offer", async () => {
    const peer = make();
    const p = pc();
    expect(p.config.iceServers).toEqual([{ urls: ["stun:turn.example.org:3478"] }]);
    expect(p.transceivers).toEqual([
      { kind: "video", init: { direction: "recvonly" } },
      { kind: "audio", init: { direction: "recvonly" } },
    ]);
    expect(channel("pointer").init).toEqual({ ordered: false, maxRetransmits: 0 });
    const input = channel("input").init;
    expect(input?.ordered ?? true).toBe(true);
    expect(input?.maxRetransmits).toBeUndefined();
    expect(input?.maxPacketLifeTime).toBeUndefined();
    expect(p.channels.map((c) => c.binaryType)).toEqual(["arraybuffer", "arraybuffer"]);
    void peer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(p.log.slice(0, 5)).toEqual(["transceiver:video", "transceiver:audio", "channel:pointer", "channel:input", "createOffer"]);
  });

  it("waits for ICE gathering to complete before sending the offer, with every candidate", async () => {
    const peer = make();
    const started = peer.start();
    await vi.advanceTimersByTimeAsync(0);
    expect(states).toEqual(["connecting"]);
    pc().gather("1 host");
    await vi.advanceTimersByTimeAsync(100);
    expect(offers).toEqual([]);
    pc().gather("2 srflx", true);
    await started;
    expect(offers).toEqual(["v=0 offer\na=candidate:1 host\na=candidate:2 srflx"]);
  });

  it("sends what it has when gathering hangs (timeout)", async () => {
    const peer = make({ gatherTimeoutMs: 1500 });
    const started = peer.start();
    await vi.advanceTimersByTimeAsync(0);
    pc().gather("1 host");
    await vi.advanceTimersByTimeAsync(1499);
    expect(offers).toEqual([]);
    await vi.advanceTimersByTimeAsync(1);
    await started;
    expect(offers).toEqual(["v=0 offer\na=candidate:1 host"]);
  });

  it("start fails when the offer cannot be sent", async () => {
    const peer = make({ sendOffer: () => false });
    const started = peer.start();
    const check = expect(started).rejects.toThrow(/offer/);
    await vi.advanceTimersByTimeAsync(0);
    pc().gather("1 host", true);
    await check;
  });

  it("accepts the agent's answer only while its offer is out", async () => {
    const peer = make();
    await peer.accept("too early");
    expect(pc().remoteDescription).toBeNull();
    const started = peer.start();
    await vi.advanceTimersByTimeAsync(0);
    pc().gather("1 host", true);
    await started;
    await peer.accept("v=0 answer");
    expect(pc().remoteDescription).toEqual({ type: "answer", sdp: "v=0 answer" });
    await peer.accept("duplicate");
    expect(pc().remoteDescription?.sdp).toBe("v=0 answer");
  });

  it("sets jitterBufferTarget = 0 on the video receiver and hands out one stream", () => {
    const streams: MediaStream[] = [];
    make({ onStream: (s) => streams.push(s) });
    const videoReceiver: { jitterBufferTarget?: number | null } = { jitterBufferTarget: null };
    const audioReceiver: { jitterBufferTarget?: number | null } = { jitterBufferTarget: null };
    pc().ontrack?.({ track: { kind: "video" }, receiver: videoReceiver, streams: [] } as unknown as RTCTrackEvent);
    pc().ontrack?.({ track: { kind: "audio" }, receiver: audioReceiver, streams: [] } as unknown as RTCTrackEvent);
    expect(videoReceiver.jitterBufferTarget).toBe(0);
    expect(audioReceiver.jitterBufferTarget).toBeNull();
    expect(streams).toHaveLength(2);
    expect(streams[0]).toBe(streams[1]);
    expect((streams[0] as unknown as FakeMediaStream).tracks.map((t) => t.kind)).toEqual(["video", "audio"]);
  });

  it("reports connected and failed, and closed once", () => {
    const peer = make();
    pc().connectionState = "connected";
    pc().onconnectionstatechange?.();
    pc().connectionState = "failed";
    pc().onconnectionstatechange?.();
    peer.close();
    peer.close();
    expect(states).toEqual(["connected", "failed", "closed"]);
    expect(pc().closed).toBe(true);
  });
});

describe("StreamPeer data channels", () => {
  it("sends only on open channels", () => {
    const peer = make();
    expect(peer.channelsOpen).toBe(false);
    expect(peer.sendPointer(Uint8Array.of(Op.move, 0, 0, 0, 0))).toBe(false);
    channel("pointer").open();
    expect(peer.channelsOpen).toBe(false);
    expect(peer.sendPointer(Uint8Array.of(Op.move, 0, 0, 0, 0))).toBe(true);
    channel("input").open();
    expect(peer.channelsOpen).toBe(true);
    expect(peer.sendInput(Uint8Array.of(Op.releaseAll))).toBe(true);
    expect(channel("pointer").sent).toHaveLength(1);
  });

  it("pings on the input channel once it opens; a pong sets the RTT", async () => {
    const rtts: number[] = [];
    const peer = make({ onRtt: (ms) => rtts.push(ms), pingIntervalMs: 1000 });
    const input = channel("input");
    input.open();
    expect(input.sent.map((b) => b[0])).toEqual([0x0b, Op.ping]); // the quality cap, then a ping
    input.sent.shift();
    const ping = input.sent[0] ?? new Uint8Array();
    expect(ping[0]).toBe(Op.ping);
    expect(ping.length).toBe(13);
    await vi.advanceTimersByTimeAsync(42);
    const pong = ping.slice();
    pong[0] = Op.pong;
    input.receive(pong);
    expect(rtts).toHaveLength(1);
    expect(rtts[0]).toBeCloseTo(42, 3);
    const stats = await peer.stats();
    expect(stats.rttMs).toBeCloseTo(42, 3);
    await vi.advanceTimersByTimeAsync(1000);
    expect(input.sent).toHaveLength(2);
    const view = new DataView((input.sent[1] ?? new Uint8Array()).buffer);
    expect(view.getUint32(1, true)).toBe(2); // ids count up
    peer.close();
    await vi.advanceTimersByTimeAsync(5000);
    expect(input.sent).toHaveLength(2);
  });

  it("passes the agent's cursor messages on and ignores text and unknown ones", () => {
    const positions: [number, number][] = [];
    const shapes: number[][] = [];
    const rtts: number[] = [];
    make({ onCursorPosition: (x, y) => positions.push([x, y]), onCursorShape: (s) => shapes.push([s.width, s.height, s.hotX, s.hotY, ...s.rgba]), onRtt: (ms) => rtts.push(ms) });
    channel("pointer").receive(Uint8Array.of(0x81, 0xff, 0xff, 0, 0));
    channel("input").receive(Uint8Array.of(0x82, 1, 0, 1, 0, 0, 0, 0, 0, 1, 2, 3, 4));
    channel("input").receive(Uint8Array.of(0x82, 1, 0, 1, 0, 0, 0, 0, 0, 1)); // truncated
    channel("input").onmessage?.({ data: "text" } as MessageEvent);
    channel("input").receive(encodePing(1, 0)); // a ping is not a pong
    expect(positions).toEqual([[1, 0]]);
    expect(shapes).toEqual([[1, 1, 0, 0, 1, 2, 3, 4]]);
    expect(rtts).toEqual([]);
  });
});

describe("StreamPeer stats", () => {
  it("reads fps, size, codec, loss and bitrate from the inbound video", async () => {
    const peer = make();
    const inbound = (bytes: number, timestamp: number) => ({
      id: "in1",
      type: "inbound-rtp",
      kind: "video",
      codecId: "c1",
      framesPerSecond: 30,
      frameWidth: 1280,
      frameHeight: 720,
      packetsLost: 5,
      packetsReceived: 95,
      bytesReceived: bytes,
      timestamp,
    });
    pc().stats = [{ id: "c1", type: "codec", mimeType: "video/H264" }, inbound(1_000_000, 10_000)];
    const first = await peer.stats();
    expect(first).toMatchObject({ fps: 30, width: 1280, height: 720, codec: "H264", packetLossPct: 5, bitrateKbps: null });
    pc().stats = [{ id: "c1", type: "codec", mimeType: "video/H264" }, inbound(1_250_000, 11_000)];
    expect((await peer.stats()).bitrateKbps).toBe(2000); // 250 kB in 1 s
  });
});

describe("StreamPeer quality", () => {
  const u16At = (b: Uint8Array | undefined, o: number) => new DataView((b ?? new Uint8Array(8)).buffer).getUint16(o, true);

  it("sends the saved cap when the input channel opens and every change after", () => {
    const peer = make({ qualityCap: 480 });
    const input = channel("input");
    peer.setQualityCap(360); // not open yet: nothing sent, remembered
    expect(input.sent).toEqual([]);
    input.open();
    expect(input.sent[0]?.[0]).toBe(0x0b);
    expect(u16At(input.sent[0], 1)).toBe(360);
    peer.setQualityCap(0);
    const last = input.sent[input.sent.length - 1];
    expect([...(last ?? [])]).toEqual([0x0b, 0, 0]);
  });

  it("reports the receiver counters (0x0C) from each stats poll", async () => {
    const peer = make();
    channel("input").open();
    channel("input").sent.length = 0;
    pc().stats = [
      { id: "in1", type: "inbound-rtp", kind: "video", bytesReceived: 123456, packetsReceived: 200, packetsLost: 4, framesDecoded: 90, framesDropped: 2, freezeCount: 1, totalFreezesDuration: 0.25, jitterBufferDelay: 1.5, jitterBufferEmittedCount: 50 },
    ];
    await peer.stats();
    const sent = channel("input").sent;
    expect(sent).toHaveLength(1);
    const v = new DataView((sent[0] ?? new Uint8Array(31)).buffer);
    expect(v.getUint8(0)).toBe(0x0c);
    expect([1, 5, 9, 13, 17, 21, 25].map((o) => v.getUint32(o, true))).toEqual([123456, 200, 4, 90, 2, 1, 250]);
    expect(v.getUint16(29, true)).toBe(30);
  });

  it("passes the agent's quality status (0x83) on", () => {
    const got: unknown[] = [];
    make({ onQualityStatus: (s) => got.push(s) });
    const msg = Uint8Array.of(0x83, 0x56, 0x03, 0xe0, 0x01, 30, 1, 0x4c, 0x04, 0, 0, 0, 0);
    channel("input").receive(msg);
    channel("input").receive(msg.slice(0, 7)); // truncated: ignored
    expect(got).toEqual([{ width: 854, height: 480, fps: 30, linkLimited: true, capped: false, estimateKbps: 1100, maxHeightCap: 0 }]);
  });
});
