// Voice chat as a browser-to-browser mesh, signalled over the room socket's `rtc.*` messages
// (`to` = a user id, `conn` = one tab of theirs).
//
// Negotiation follows the "perfect negotiation" pattern: either side may offer at any time (both
// do when two people join voice at once); on a collision the polite side (the larger user id)
// rolls back and answers, the impolite side ignores the other's offer. The joiner calls
// `connect` for everyone already in voice; people already in voice wait for the joiner's offer.
// A failed ICE connection is restarted (a new offer with fresh credentials).

export type Signal =
  | { type: "rtc.offer" | "rtc.answer"; to: string; conn?: string; sdp: string }
  | { type: "rtc.ice"; to: string; conn?: string; candidate: string; sdpMid: string | null; sdpMLineIndex: number | null };

export interface IncomingSignal {
  type: "rtc.offer" | "rtc.answer" | "rtc.ice";
  from: string;
  conn?: string;
  sdp?: string;
  candidate?: string;
  sdpMid?: string | null;
  sdpMLineIndex?: number | null;
}

export interface VoicePeerInfo {
  userId: string;
  state: RTCPeerConnectionState;
}

export interface VoiceMeshOptions {
  selfId: string;
  iceServers: RTCIceServer[];
  send: (signal: Signal) => boolean;
  /** Your speaking state changed (detected from the microphone's level). */
  onSpeaking?: (speaking: boolean) => void;
  onPeers?: (peers: VoicePeerInfo[]) => void;
  getUserMedia?: (c: MediaStreamConstraints) => Promise<MediaStream>;
  PeerConnection?: typeof RTCPeerConnection;
  createAudio?: () => HTMLAudioElement;
  AudioContextImpl?: typeof AudioContext;
  /** RMS level (0..1) above which you count as speaking. */
  speakingThreshold?: number;
}

interface Peer {
  userId: string;
  conn: string | undefined;
  pc: RTCPeerConnection;
  polite: boolean;
  makingOffer: boolean;
  ignoreOffer: boolean;
  audio: HTMLAudioElement;
  volume: number;
}

/** Whether we are the polite side towards `other` (pure: both sides agree without talking). */
export function isPolite(selfId: string, other: string): boolean {
  return selfId > other;
}

export class VoiceMesh {
  private readonly peers = new Map<string, Peer>();
  private local: MediaStream | null = null;
  private ctx: AudioContext | null = null;
  private levelTimer: ReturnType<typeof setInterval> | null = null;
  private speaking = false;
  private lastLoud = 0;
  private _muted = false;
  private _deafened = false;
  private pushToTalk = false;
  private pttHeld = false;
  private readonly volumes = new Map<string, number>();

  constructor(private readonly opts: VoiceMeshOptions) {}

  get joined(): boolean {
    return this.local !== null;
  }

  get muted(): boolean {
    return this._muted;
  }

  get deafened(): boolean {
    return this._deafened;
  }

  /** Opens the microphone (echo cancellation, noise suppression, auto gain on). */
  async join(deviceId?: string): Promise<void> {
    const AC = this.opts.AudioContextImpl ?? globalThis.AudioContext;
    // Created inside the click that joins, so autoplay rules let it run.
    this.ctx ??= AC ? new AC() : null;
    this.local = await this.openMic(deviceId);
    this.applyMicEnabled();
    this.watchLevel();
  }

  leave(): void {
    for (const userId of [...this.peers.keys()]) this.drop(userId);
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = null;
    if (this.levelTimer !== null) clearInterval(this.levelTimer);
    this.levelTimer = null;
    void this.ctx?.close().catch(() => undefined);
    this.ctx = null;
    this.setSpeaking(false);
  }

  /** Start a connection to someone already in voice (we offer). */
  connect(userId: string): void {
    if (!this.joined || userId === this.opts.selfId || this.peers.has(userId)) return;
    this.peerFor(userId, undefined);
  }

  /** Someone left voice or the room. */
  drop(userId: string): void {
    const peer = this.peers.get(userId);
    if (!peer) return;
    this.peers.delete(userId);
    peer.pc.close();
    peer.audio.srcObject = null;
    this.emitPeers();
  }

  async handle(sig: IncomingSignal): Promise<void> {
    if (!this.joined) return; // not in voice: offers are for our other tabs
    const existing = this.peers.get(sig.from);
    if (existing && existing.conn !== undefined && sig.conn !== undefined && existing.conn !== sig.conn) return; // another tab of theirs
    const peer = existing ?? (sig.type === "rtc.offer" ? this.peerFor(sig.from, sig.conn) : undefined);
    if (!peer) return;
    peer.conn ??= sig.conn;
    const pc = peer.pc;
    if (sig.type === "rtc.ice") {
      try {
        await pc.addIceCandidate({ candidate: sig.candidate ?? "", sdpMid: sig.sdpMid ?? null, sdpMLineIndex: sig.sdpMLineIndex ?? null });
      } catch (err) {
        if (!peer.ignoreOffer) console.warn("voice: bad ICE candidate", err);
      }
      return;
    }
    const description: RTCSessionDescriptionInit = { type: sig.type === "rtc.offer" ? "offer" : "answer", sdp: sig.sdp ?? "" };
    const collision = description.type === "offer" && (peer.makingOffer || pc.signalingState !== "stable");
    peer.ignoreOffer = !peer.polite && collision;
    if (peer.ignoreOffer) return;
    if (description.type === "answer" && pc.signalingState !== "have-local-offer") return; // a late duplicate
    await pc.setRemoteDescription(description); // rolls back our own offer when polite
    if (description.type === "offer") {
      await pc.setLocalDescription();
      const sdp = pc.localDescription?.sdp;
      if (sdp) this.opts.send({ type: "rtc.answer", to: peer.userId, conn: peer.conn, sdp });
    }
  }

  setMuted(muted: boolean): void {
    this._muted = muted;
    this.applyMicEnabled();
  }

  /** Deafened: you hear nobody, and nobody hears you. */
  setDeafened(deafened: boolean): void {
    this._deafened = deafened;
    for (const p of this.peers.values()) p.audio.muted = deafened;
    this.applyMicEnabled();
  }

  setPushToTalk(enabled: boolean): void {
    this.pushToTalk = enabled;
    this.pttHeld = false;
    this.applyMicEnabled();
  }

  /** The push-to-talk key went down (true) or up (false). */
  talk(held: boolean): void {
    this.pttHeld = held;
    this.applyMicEnabled();
  }

  get transmitting(): boolean {
    return this.joined && !this._muted && !this._deafened && (!this.pushToTalk || this.pttHeld);
  }

  setVolume(userId: string, volume: number): void {
    const v = Math.min(1, Math.max(0, volume));
    this.volumes.set(userId, v);
    const peer = this.peers.get(userId);
    if (peer) peer.audio.volume = v;
  }

  /** Switch microphones without renegotiating (replaceTrack on every sender). */
  async setDevice(deviceId: string): Promise<void> {
    if (!this.joined) return;
    const next = await this.openMic(deviceId);
    const track = next.getAudioTracks()[0] ?? null;
    for (const p of this.peers.values()) {
      for (const s of p.pc.getSenders()) if (s.track?.kind === "audio" || s.track === null) await s.replaceTrack(track);
    }
    this.local?.getTracks().forEach((t) => t.stop());
    this.local = next;
    this.applyMicEnabled();
    this.watchLevel();
  }

  peerList(): VoicePeerInfo[] {
    return [...this.peers.values()].map((p) => ({ userId: p.userId, state: p.pc.connectionState }));
  }

  private peerFor(userId: string, conn: string | undefined): Peer {
    const PC = this.opts.PeerConnection ?? RTCPeerConnection;
    const pc = new PC({ iceServers: this.opts.iceServers });
    const audio = (this.opts.createAudio ?? (() => new Audio()))();
    audio.autoplay = true;
    audio.muted = this._deafened;
    audio.volume = this.volumes.get(userId) ?? 1;
    const peer: Peer = { userId, conn, pc, polite: isPolite(this.opts.selfId, userId), makingOffer: false, ignoreOffer: false, audio, volume: audio.volume };
    this.peers.set(userId, peer);
    pc.ontrack = (e: RTCTrackEvent) => {
      audio.srcObject = e.streams[0] ?? new MediaStream([e.track]);
      void audio.play().catch(() => undefined);
    };
    pc.onicecandidate = (e: RTCPeerConnectionIceEvent) => {
      if (!e.candidate) return;
      this.opts.send({ type: "rtc.ice", to: userId, conn: peer.conn, candidate: e.candidate.candidate, sdpMid: e.candidate.sdpMid, sdpMLineIndex: e.candidate.sdpMLineIndex });
    };
    pc.onnegotiationneeded = async () => {
      try {
        peer.makingOffer = true;
        await pc.setLocalDescription();
        const sdp = pc.localDescription?.sdp;
        if (sdp && pc.signalingState === "have-local-offer") this.opts.send({ type: "rtc.offer", to: userId, conn: peer.conn, sdp });
      } catch (err) {
        console.warn("voice: offer failed", err);
      } finally {
        peer.makingOffer = false;
      }
    };
    pc.oniceconnectionstatechange = () => {
      if (pc.iceConnectionState === "failed") pc.restartIce();
    };
    pc.onconnectionstatechange = () => this.emitPeers();
    const track = this.local?.getAudioTracks()[0];
    if (track && this.local) pc.addTrack(track, this.local);
    else pc.addTransceiver("audio", { direction: "recvonly" });
    this.emitPeers();
    return peer;
  }

  private async openMic(deviceId?: string): Promise<MediaStream> {
    const gum = this.opts.getUserMedia ?? ((c) => navigator.mediaDevices.getUserMedia(c));
    return gum({
      audio: {
        echoCancellation: true,
        noiseSuppression: true,
        autoGainControl: true,
        ...(deviceId ? { deviceId: { exact: deviceId } } : {}),
      },
      video: false,
    });
  }

  private applyMicEnabled(): void {
    const on = this.transmitting;
    this.local?.getAudioTracks().forEach((t) => (t.enabled = on));
    if (!on) this.setSpeaking(false);
  }

  private watchLevel(): void {
    if (this.levelTimer !== null) clearInterval(this.levelTimer);
    this.levelTimer = null;
    if (!this.ctx || !this.local) return;
    const analyser = this.ctx.createAnalyser();
    analyser.fftSize = 512;
    this.ctx.createMediaStreamSource(this.local).connect(analyser);
    const buf = new Float32Array(analyser.fftSize);
    const threshold = this.opts.speakingThreshold ?? 0.02;
    this.levelTimer = setInterval(() => {
      if (this.ctx?.state === "suspended") void this.ctx.resume().catch(() => undefined);
      analyser.getFloatTimeDomainData(buf);
      const now = performance.now();
      if (this.transmitting && rms(buf) > threshold) this.lastLoud = now;
      // Speaking starts at once and ends after 400 ms of quiet, so words don't flicker it.
      this.setSpeaking(this.transmitting && now - this.lastLoud < 400);
    }, 100);
  }

  private setSpeaking(speaking: boolean): void {
    if (speaking === this.speaking) return;
    this.speaking = speaking;
    this.opts.onSpeaking?.(speaking);
  }

  private emitPeers(): void {
    this.opts.onPeers?.(this.peerList());
  }
}

/** Root mean square of audio samples (-1..1). */
export function rms(samples: Float32Array): number {
  let sum = 0;
  for (const s of samples) sum += s * s;
  return samples.length ? Math.sqrt(sum / samples.length) : 0;
}
