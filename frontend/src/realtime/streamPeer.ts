// The viewer's WebRTC peer to the room agent: receives the shared browser's video and audio,
// opens the `pointer` and `input` data channels, measures round trips with data-channel pings.
//
// Signalling is non-trickle (the agent answers with every candidate and takes none): the offer
// goes out once ICE gathering is complete. One StreamPeer is one attempt; on failure the owner
// builds a new one (a new offer), which is also what the agent expects after it reconnects.
import { decodeAgentMessage, encodePing } from "./inputEncoder";
import { decodeQualityStatus, encodeQualityCap, encodeReceiverStats, QualityOp, receiverCounters, type QualityCap, type QualityStatus } from "./quality";

export interface StreamStats {
  fps: number | null;
  bitrateKbps: number | null;
  packetLossPct: number | null;
  rttMs: number | null;
  width: number | null;
  height: number | null;
  codec: string | null;
}

export interface CursorShape {
  width: number;
  height: number;
  hotX: number;
  hotY: number;
  rgba: Uint8ClampedArray;
}

export interface StreamPeerOptions {
  iceServers: RTCIceServer[];
  /** Sends the offer through the room socket (`rtc.offer {to: "agent", sdp}`). */
  sendOffer: (sdp: string) => boolean;
  onStream: (stream: MediaStream) => void;
  onState: (state: "connecting" | "connected" | "failed" | "closed") => void;
  onCursorPosition?: (x: number, y: number) => void;
  onCursorShape?: (shape: CursorShape) => void;
  onRtt?: (ms: number) => void;
  /** The agent's quality status (0x83): this viewer's rung and what limits it. */
  onQualityStatus?: (status: QualityStatus) => void;
  /** This viewer's quality cap, sent (0x0B) when the input channel opens. Default 0 (Auto). */
  qualityCap?: QualityCap;
  PeerConnection?: typeof RTCPeerConnection;
  gatherTimeoutMs?: number;
  pingIntervalMs?: number;
}

export class StreamPeer {
  readonly pc: RTCPeerConnection;
  readonly pointer: RTCDataChannel;
  readonly input: RTCDataChannel;
  private readonly stream = new MediaStream();
  private pingId = 0;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private closed = false;
  private rtt: number | null = null;
  private lastBytes: { bytes: number; at: number } | null = null;
  private qualityCap: QualityCap;
  private readonly jitter = { delayS: 0, emitted: 0 };

  constructor(private readonly opts: StreamPeerOptions) {
    this.qualityCap = opts.qualityCap ?? 0;
    const PC = opts.PeerConnection ?? RTCPeerConnection;
    this.pc = new PC({ iceServers: opts.iceServers });
    this.pc.addTransceiver("video", { direction: "recvonly" });
    this.pc.addTransceiver("audio", { direction: "recvonly" });
    this.pointer = this.pc.createDataChannel("pointer", { ordered: false, maxRetransmits: 0 });
    this.input = this.pc.createDataChannel("input");
    for (const ch of [this.pointer, this.input]) {
      ch.binaryType = "arraybuffer";
      ch.onmessage = (e: MessageEvent) => this.onAgentMessage(e.data);
    }
    this.input.onopen = () => {
      // The agent starts every viewer on Auto: tell it our choice before anything else.
      this.sendInput(encodeQualityCap(this.qualityCap));
      this.startPing();
    };
    this.pc.ontrack = (e: RTCTrackEvent) => {
      if (e.track.kind === "video") {
        // Play frames as soon as they decode: the lowest playout delay the browser allows.
        const receiver = e.receiver as RTCRtpReceiver & { jitterBufferTarget?: number | null; playoutDelayHint?: number };
        receiver.jitterBufferTarget = 0;
        receiver.playoutDelayHint = 0;
      }
      this.stream.addTrack(e.track);
      opts.onStream(this.stream);
    };
    this.pc.onconnectionstatechange = () => {
      const s = this.pc.connectionState;
      if (s === "connected") opts.onState("connected");
      else if (s === "failed") opts.onState("failed");
    };
  }

  /** Gathers candidates and sends the offer; the answer comes back through `accept`. */
  async start(): Promise<void> {
    this.opts.onState("connecting");
    await this.pc.setLocalDescription(await this.pc.createOffer());
    await this.gathered();
    if (this.closed) return;
    const sdp = this.pc.localDescription?.sdp;
    if (!sdp || !this.opts.sendOffer(sdp)) throw new Error("could not send the stream offer");
  }

  async accept(sdp: string): Promise<void> {
    if (this.closed || this.pc.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription({ type: "answer", sdp });
  }

  /** Both data channels open: input can go the fast way. */
  get channelsOpen(): boolean {
    return this.pointer.readyState === "open" && this.input.readyState === "open";
  }

  sendPointer(bytes: Uint8Array): boolean {
    return this.sendOn(this.pointer, bytes);
  }

  sendInput(bytes: Uint8Array): boolean {
    return this.sendOn(this.input, bytes);
  }

  /** Caps this viewer's rung (0 = Auto); sent now if the input channel is open, else on open. */
  setQualityCap(cap: QualityCap): void {
    this.qualityCap = cap;
    this.sendInput(encodeQualityCap(cap));
  }

  /**
   * The quality line's figures, from one getStats call. The same report's cumulative receiver
   * counters go to the agent (0x0C) for its bandwidth estimate: the owner calls this about once
   * a second, so one getStats serves both.
   */
  async stats(): Promise<StreamStats> {
    const out: StreamStats = { fps: null, bitrateKbps: null, packetLossPct: null, rttMs: this.rtt, width: null, height: null, codec: null };
    const report = await this.pc.getStats();
    const codecs = new Map<string, string>();
    report.forEach((s: Record<string, unknown>) => {
      if (s.type === "codec") codecs.set(String(s.id), String(s.mimeType ?? ""));
    });
    report.forEach((s: Record<string, unknown>) => {
      if (s.type !== "inbound-rtp" || s.kind !== "video") return;
      out.fps = typeof s.framesPerSecond === "number" ? s.framesPerSecond : null;
      out.width = typeof s.frameWidth === "number" ? s.frameWidth : null;
      out.height = typeof s.frameHeight === "number" ? s.frameHeight : null;
      out.codec = codecs.get(String(s.codecId))?.replace(/^video\//, "") ?? null;
      const lost = Number(s.packetsLost ?? 0);
      const got = Number(s.packetsReceived ?? 0);
      out.packetLossPct = got + lost > 0 ? (100 * Math.max(0, lost)) / (got + lost) : 0;
      const bytes = Number(s.bytesReceived ?? 0);
      const at = Number(s.timestamp ?? Date.now());
      if (this.lastBytes && at > this.lastBytes.at) out.bitrateKbps = ((bytes - this.lastBytes.bytes) * 8) / (at - this.lastBytes.at);
      this.lastBytes = { bytes, at };
    });
    const counters = receiverCounters(report, this.jitter);
    if (counters) this.sendInput(encodeReceiverStats(counters));
    return out;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pc.ontrack = null;
    this.pc.onconnectionstatechange = null;
    this.pc.close();
    this.opts.onState("closed");
  }

  private sendOn(ch: RTCDataChannel, bytes: Uint8Array): boolean {
    if (ch.readyState !== "open") return false;
    ch.send(bytes as Uint8Array<ArrayBuffer>);
    return true;
  }

  private onAgentMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) return;
    if (data.byteLength > 0 && new Uint8Array(data)[0] === QualityOp.status) {
      const status = decodeQualityStatus(data);
      if (status) this.opts.onQualityStatus?.(status);
      return;
    }
    const msg = decodeAgentMessage(data);
    if (msg.op === "pong") {
      this.rtt = performance.now() - msg.sentMs;
      this.opts.onRtt?.(this.rtt);
    } else if (msg.op === "cursorPosition") this.opts.onCursorPosition?.(msg.x, msg.y);
    else if (msg.op === "cursorShape") this.opts.onCursorShape?.(msg);
  }

  private startPing(): void {
    const every = this.opts.pingIntervalMs ?? 2_000;
    const ping = () => this.sendInput(encodePing(++this.pingId, performance.now()));
    ping();
    this.pingTimer = setInterval(ping, every);
  }

  private gathered(): Promise<void> {
    if (this.pc.iceGatheringState === "complete") return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.pc.removeEventListener("icegatheringstatechange", check);
        resolve();
      };
      const check = () => {
        if (this.pc.iceGatheringState === "complete") done();
      };
      // Without STUN/TURN answers gathering can hang on an unreachable server: send what we have.
      const timer = setTimeout(done, this.opts.gatherTimeoutMs ?? 2_000);
      this.pc.addEventListener("icegatheringstatechange", check);
    });
  }
}
