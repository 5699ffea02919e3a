import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { VoiceMesh, isPolite, rms, type IncomingSignal, type Signal, type VoiceMeshOptions } from "./voiceMesh";

type Desc = { type: RTCSdpType; sdp: string };

/**
 * Enough of RTCPeerConnection for perfect negotiation: operations run one after another on a
 * chain; setLocalDescription() without arguments makes an offer or an answer from the signaling
 * state; setRemoteDescription(offer) in have-local-offer rolls back implicitly (what browsers do,
 * and what the polite side relies on); negotiationneeded fires asynchronously once stable.
 */
class FakePC {
  static all: FakePC[] = [];
  private static n = 0;
  readonly id = ++FakePC.n;
  signalingState: RTCSignalingState = "stable";
  connectionState: RTCPeerConnectionState = "new";
  iceConnectionState: RTCIceConnectionState = "new";
  localDescription: Desc | null = null;
  remoteDescription: Desc | null = null;
  /** What happened, in order: "local:offer", "rollback", "remote:offer", "local:answer", "remote:answer". */
  log: string[] = [];
  candidates: RTCIceCandidateInit[] = [];
  tracks: MediaStreamTrack[] = [];
  transceivers: { kind: string; direction: string }[] = [];
  closed = false;
  restarted = 0;
  onnegotiationneeded: (() => void) | null = null;
  ontrack: ((e: RTCTrackEvent) => void) | null = null;
  onicecandidate: ((e: RTCPeerConnectionIceEvent) => void) | null = null;
  oniceconnectionstatechange: (() => void) | null = null;
  onconnectionstatechange: (() => void) | null = null;
  private chain: Promise<unknown> = Promise.resolve();
  private needsNegotiation = false;
  private made = 0;

  constructor(readonly config: RTCConfiguration) {
    FakePC.all.push(this);
  }

  addTrack(track: MediaStreamTrack): RTCRtpSender {
    this.tracks.push(track);
    this.transceivers.push({ kind: track.kind, direction: "sendrecv" });
    this.negotiationNeeded();
    return {} as RTCRtpSender;
  }

  addTransceiver(kind: string, init?: RTCRtpTransceiverInit): RTCRtpTransceiver {
    this.transceivers.push({ kind, direction: init?.direction ?? "sendrecv" });
    this.negotiationNeeded();
    return {} as RTCRtpTransceiver;
  }

  getSenders(): RTCRtpSender[] {
    return [];
  }

  setLocalDescription(desc?: RTCSessionDescriptionInit): Promise<void> {
    return this.op(() => {
      const type = desc?.type ?? (this.signalingState === "have-remote-offer" ? "answer" : "offer");
      if (type === "offer") {
        if (this.signalingState !== "stable" && this.signalingState !== "have-local-offer") throw new Error(`InvalidStateError: offer in ${this.signalingState}`);
        this.localDescription = { type, sdp: `offer ${this.id}.${++this.made}` };
        this.signalingState = "have-local-offer";
      } else if (type === "answer") {
        if (this.signalingState !== "have-remote-offer") throw new Error(`InvalidStateError: answer in ${this.signalingState}`);
        this.localDescription = { type, sdp: `answer ${this.id}.${++this.made}` };
        this.signalingState = "stable";
        this.needsNegotiation = false; // our track went into the answer
      } else throw new Error(`unsupported ${type}`);
      this.log.push(`local:${type}`);
      const sdp = this.localDescription.sdp;
      setTimeout(() => this.onicecandidate?.({ candidate: { candidate: `candidate:${sdp}`, sdpMid: "0", sdpMLineIndex: 0 } } as RTCPeerConnectionIceEvent), 1);
    });
  }

  setRemoteDescription(desc: RTCSessionDescriptionInit): Promise<void> {
    return this.op(() => {
      const d: Desc = { type: desc.type, sdp: desc.sdp ?? "" };
      if (d.type === "offer") {
        if (this.signalingState === "have-local-offer") {
          this.log.push("rollback");
          this.localDescription = null;
          this.signalingState = "stable";
        }
        if (this.signalingState !== "stable") throw new Error(`InvalidStateError: remote offer in ${this.signalingState}`);
        this.signalingState = "have-remote-offer";
      } else if (d.type === "answer") {
        if (this.signalingState !== "have-local-offer") throw new Error(`InvalidStateError: remote answer in ${this.signalingState}`);
        this.signalingState = "stable";
        this.needsNegotiation = false;
      } else throw new Error(`unsupported ${d.type}`);
      this.remoteDescription = d;
      this.log.push(`remote:${d.type}`);
    });
  }

  addIceCandidate(c: RTCIceCandidateInit): Promise<void> {
    return this.op(() => {
      if (!this.remoteDescription) throw new Error("InvalidStateError: no remote description");
      this.candidates.push(c);
    });
  }

  restartIce(): void {
    this.restarted += 1;
  }

  close(): void {
    this.closed = true;
    this.signalingState = "closed";
    this.connectionState = "closed";
  }

  private op(fn: () => void): Promise<void> {
    const run = this.chain.then(async () => {
      await Promise.resolve();
      if (this.closed) throw new Error("InvalidStateError: closed");
      fn();
      if (this.signalingState === "stable" && this.needsNegotiation) this.fireNegotiationNeeded();
    });
    this.chain = run.catch(() => undefined);
    return run;
  }

  private negotiationNeeded(): void {
    this.needsNegotiation = true;
    this.fireNegotiationNeeded();
  }

  private fireNegotiationNeeded(): void {
    setTimeout(() => {
      if (!this.closed && this.needsNegotiation && this.signalingState === "stable") this.onnegotiationneeded?.();
    }, 0);
  }
}

class FakeTrack {
  kind = "audio";
  enabled = true;
  stopped = false;
  stop(): void {
    this.stopped = true;
  }
}

function fakeStream(track: FakeTrack): MediaStream {
  return { getAudioTracks: () => [track], getTracks: () => [track] } as unknown as MediaStream;
}

let level = 0;
class FakeAudioContext {
  state = "running";
  closed = false;
  createAnalyser() {
    return {
      fftSize: 2048,
      getFloatTimeDomainData(buf: Float32Array) {
        buf.fill(level);
      },
    };
  }
  createMediaStreamSource() {
    return { connect: () => undefined };
  }
  resume(): Promise<void> {
    return Promise.resolve();
  }
  close(): Promise<void> {
    this.closed = true;
    return Promise.resolve();
  }
}

interface FakeAudio {
  autoplay: boolean;
  muted: boolean;
  volume: number;
  srcObject: MediaStream | null;
  play: () => Promise<void>;
}

interface Harness {
  mesh: VoiceMesh;
  id: string;
  sent: Signal[];
  tracks: FakeTrack[];
  audios: FakeAudio[];
  speaking: boolean[];
}

const meshes = new Map<string, Harness>();
/** Signals in flight: each arrives 10 ms after it is sent, in order. */
const NETWORK_MS = 10;

function make(id: string, over: Partial<VoiceMeshOptions> = {}): Harness {
  const h: Harness = { mesh: undefined as unknown as VoiceMesh, id, sent: [], tracks: [], audios: [], speaking: [] };
  h.mesh = new VoiceMesh({
    selfId: id,
    iceServers: [{ urls: ["stun:stun.example.org"] }],
    send: (sig) => {
      h.sent.push(sig);
      const target = meshes.get(sig.to);
      if (target) {
        const incoming: IncomingSignal = { ...sig, from: id, conn: `conn-${id}` };
        setTimeout(() => void target.mesh.handle(incoming), NETWORK_MS);
      }
      return true;
    },
    onSpeaking: (s) => h.speaking.push(s),
    getUserMedia: async () => {
      const t = new FakeTrack();
      h.tracks.push(t);
      return fakeStream(t);
    },
    PeerConnection: FakePC as unknown as typeof RTCPeerConnection,
    AudioContextImpl: FakeAudioContext as unknown as typeof AudioContext,
    createAudio: () => {
      const a: FakeAudio = { autoplay: false, muted: false, volume: 1, srcObject: null, play: () => Promise.resolve() };
      h.audios.push(a);
      return a as unknown as HTMLAudioElement;
    },
    ...over,
  });
  meshes.set(id, h);
  return h;
}

// Which mesh and peer each FakePC belongs to, recorded from the creation order below.
const pcsByMesh = new Map<FakePC, string>();
const peersOf = new Map<FakePC, string>();
function track(h: Harness, peerId: string, act: () => void): FakePC {
  const before = FakePC.all.length;
  act();
  const pc = FakePC.all[before];
  if (!pc) throw new Error("no peer connection was created");
  pcsByMesh.set(pc, h.id);
  peersOf.set(pc, peerId);
  return pc;
}

beforeEach(() => {
  vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout", "setInterval", "clearInterval", "Date", "performance"] });
  FakePC.all = [];
  meshes.clear();
  pcsByMesh.clear();
  peersOf.clear();
  level = 0;
});

afterEach(() => {
  for (const h of meshes.values()) h.mesh.leave();
  vi.useRealTimers();
});

describe("isPolite", () => {
  it("the larger user id is polite; both sides agree", () => {
    expect(isPolite("b", "a")).toBe(true);
    expect(isPolite("a", "b")).toBe(false);
  });
});

describe("VoiceMesh negotiation", () => {
  it("glare: both offer at once, the polite side rolls back and answers, the impolite one ignores the offer", async () => {
    const a = make("user-a"); // impolite towards b
    const b = make("user-b"); // polite towards a
    await a.mesh.join();
    await b.mesh.join();
    const pcA = track(a, "user-b", () => a.mesh.connect("user-b"));
    const pcB = track(b, "user-a", () => b.mesh.connect("user-a"));
    await vi.advanceTimersByTimeAsync(200);

    // Both offered before either offer arrived: a real collision.
    expect(a.sent.filter((s) => s.type === "rtc.offer")).toHaveLength(1);
    expect(b.sent.filter((s) => s.type === "rtc.offer")).toHaveLength(1);
    // Exactly one answer: the polite side's.
    expect(a.sent.filter((s) => s.type === "rtc.answer")).toHaveLength(0);
    expect(b.sent.filter((s) => s.type === "rtc.answer")).toHaveLength(1);

    expect(pcA.signalingState).toBe("stable");
    expect(pcB.signalingState).toBe("stable");
    expect(pcB.log).toEqual(["local:offer", "rollback", "remote:offer", "local:answer"]);
    expect(pcA.log).toEqual(["local:offer", "remote:answer"]); // b's offer was ignored
    // One exchange accepted: a's offer and b's answer on both sides.
    expect(pcB.remoteDescription).toEqual(pcA.localDescription);
    expect(pcA.remoteDescription).toEqual(pcB.localDescription);
    expect(pcA.localDescription?.type).toBe("offer");
    expect(pcB.localDescription?.type).toBe("answer");
    // Replies go to the tab that offered.
    expect(b.sent.find((s) => s.type === "rtc.answer")).toMatchObject({ to: "user-a", conn: "conn-user-a" });
    // ICE of the accepted exchange went through both ways.
    expect(pcA.candidates.map((c) => c.candidate)).toContain(`candidate:${pcB.localDescription?.sdp}`);
    expect(pcB.candidates.map((c) => c.candidate)).toContain(`candidate:${pcA.localDescription?.sdp}`);
    // Nothing more happens afterwards.
    const sentA = a.sent.length;
    const sentB = b.sent.length;
    await vi.advanceTimersByTimeAsync(1000);
    expect([a.sent.length, b.sent.length]).toEqual([sentA, sentB]);
    expect(FakePC.all).toHaveLength(2);
  });

  it("the same glare ends the same way whichever side is created first", async () => {
    const b = make("user-b");
    const a = make("user-a");
    await b.mesh.join();
    await a.mesh.join();
    const pcB = track(b, "user-a", () => b.mesh.connect("user-a"));
    const pcA = track(a, "user-b", () => a.mesh.connect("user-b"));
    await vi.advanceTimersByTimeAsync(200);
    expect([pcA.signalingState, pcB.signalingState]).toEqual(["stable", "stable"]);
    expect(pcB.log).toContain("rollback");
    expect(pcA.log).not.toContain("rollback");
    expect(pcA.log).not.toContain("remote:offer");
    expect(b.sent.filter((s) => s.type === "rtc.answer")).toHaveLength(1);
  });

  it("a joiner's offer is answered by someone already in voice (no collision)", async () => {
    const a = make("user-a");
    const b = make("user-b");
    await a.mesh.join();
    await b.mesh.join();
    const pcA = track(a, "user-b", () => a.mesh.connect("user-b"));
    await vi.advanceTimersByTimeAsync(200);
    const pcB = FakePC.all.find((p) => p !== pcA);
    expect(pcA.log).toEqual(["local:offer", "remote:answer"]);
    expect(pcB?.log).toEqual(["remote:offer", "local:answer"]);
    expect(pcB?.signalingState).toBe("stable");
    expect(pcB?.tracks).toHaveLength(1); // b sends its microphone too
    expect(FakePC.all).toHaveLength(2);
  });

  it("an offer while not joined is ignored", async () => {
    const a = make("user-a");
    await a.mesh.handle({ type: "rtc.offer", from: "user-b", conn: "c1", sdp: "offer x" });
    expect(FakePC.all).toHaveLength(0);
    expect(a.sent).toEqual([]);
    a.mesh.connect("user-b");
    expect(FakePC.all).toHaveLength(0);
  });

  it("connect ignores yourself and peers already connected", async () => {
    const a = make("user-a");
    await a.mesh.join();
    a.mesh.connect("user-a");
    expect(FakePC.all).toHaveLength(0);
    a.mesh.connect("user-b");
    a.mesh.connect("user-b");
    expect(FakePC.all).toHaveLength(1);
    expect(FakePC.all[0]?.config.iceServers).toEqual([{ urls: ["stun:stun.example.org"] }]);
  });

  it("signals from another tab of a connected peer are ignored", async () => {
    const a = make("user-a");
    await a.mesh.join();
    await a.mesh.handle({ type: "rtc.offer", from: "user-b", conn: "tab-1", sdp: "offer 1" });
    await a.mesh.handle({ type: "rtc.offer", from: "user-b", conn: "tab-2", sdp: "offer 2" });
    expect(FakePC.all).toHaveLength(1);
    expect(FakePC.all[0]?.remoteDescription?.sdp).toBe("offer 1");
    expect(a.sent.filter((s) => s.type === "rtc.answer").map((s) => s.conn)).toEqual(["tab-1"]);
  });

  it("drop closes the peer and forgets it", async () => {
    const peers: string[][] = [];
    const a = make("user-a", { onPeers: (ps) => peers.push(ps.map((p) => p.userId)) });
    await a.mesh.join();
    a.mesh.connect("user-b");
    const pc = FakePC.all[0];
    expect(a.mesh.peerList().map((p) => p.userId)).toEqual(["user-b"]);
    a.mesh.drop("user-b");
    expect(pc?.closed).toBe(true);
    expect(a.mesh.peerList()).toEqual([]);
    expect(peers.at(-1)).toEqual([]);
    expect(a.audios[0]?.srcObject).toBeNull();
    a.mesh.connect("user-b"); // can dial again
    expect(FakePC.all).toHaveLength(2);
  });

  it("a failed ICE connection is restarted", async () => {
    const a = make("user-a");
    await a.mesh.join();
    a.mesh.connect("user-b");
    const pc = FakePC.all[0];
    if (!pc) throw new Error("no pc");
    pc.iceConnectionState = "failed";
    pc.oniceconnectionstatechange?.();
    expect(pc.restarted).toBe(1);
  });

  it("leave closes every peer and stops the microphone", async () => {
    const a = make("user-a");
    await a.mesh.join();
    a.mesh.connect("user-b");
    a.mesh.connect("user-c");
    a.mesh.leave();
    expect(FakePC.all.every((p) => p.closed)).toBe(true);
    expect(a.tracks[0]?.stopped).toBe(true);
    expect(a.mesh.joined).toBe(false);
  });
});

describe("VoiceMesh microphone", () => {
  it("mute, deafen and push-to-talk toggle the local track", async () => {
    const a = make("user-a");
    expect(a.mesh.transmitting).toBe(false);
    await a.mesh.join();
    const t = a.tracks[0];
    expect(t?.enabled).toBe(true);
    expect(a.mesh.transmitting).toBe(true);

    a.mesh.setMuted(true);
    expect([t?.enabled, a.mesh.transmitting, a.mesh.muted]).toEqual([false, false, true]);
    a.mesh.setMuted(false);
    expect(t?.enabled).toBe(true);

    a.mesh.connect("user-b");
    a.mesh.setDeafened(true);
    expect([t?.enabled, a.mesh.transmitting, a.mesh.deafened]).toEqual([false, false, true]);
    expect(a.audios[0]?.muted).toBe(true); // you hear nobody
    a.mesh.setDeafened(false);
    expect([t?.enabled, a.audios[0]?.muted]).toEqual([true, false]);

    a.mesh.setPushToTalk(true);
    expect(t?.enabled).toBe(false);
    a.mesh.talk(true);
    expect([t?.enabled, a.mesh.transmitting]).toEqual([true, true]);
    a.mesh.talk(false);
    expect(t?.enabled).toBe(false);
    a.mesh.setPushToTalk(false);
    expect(t?.enabled).toBe(true);
  });

  it("a peer added while deafened starts muted", async () => {
    const a = make("user-a");
    await a.mesh.join();
    a.mesh.setDeafened(true);
    a.mesh.connect("user-b");
    expect(a.audios[0]?.muted).toBe(true);
  });

  it("speaking follows the microphone level, ends after 400 ms of quiet, never while muted", async () => {
    const a = make("user-a", { speakingThreshold: 0.1 });
    await a.mesh.join();
    level = 0.5;
    await vi.advanceTimersByTimeAsync(100);
    expect(a.speaking).toEqual([true]);
    level = 0;
    await vi.advanceTimersByTimeAsync(300);
    expect(a.speaking).toEqual([true]);
    await vi.advanceTimersByTimeAsync(200);
    expect(a.speaking).toEqual([true, false]);
    a.mesh.setMuted(true);
    level = 0.5;
    await vi.advanceTimersByTimeAsync(500);
    expect(a.speaking).toEqual([true, false]);
  });

  it("rms is the root mean square", () => {
    expect(rms(new Float32Array([]))).toBe(0);
    expect(rms(new Float32Array([0, 0, 0]))).toBe(0);
    expect(rms(new Float32Array([0.5, -0.5, 0.5, -0.5]))).toBeCloseTo(0.5, 6);
    expect(rms(new Float32Array([1, 0]))).toBeCloseTo(Math.SQRT1_2, 6);
  });
});
