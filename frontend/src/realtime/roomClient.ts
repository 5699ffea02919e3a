// One open room: the room socket, the stream peer to the agent and the voice mesh, wired
// together. Plain TypeScript; the room page reaches it through hooks (hooks/useRoom.ts).
//
// Contract: the stream peer is rebuilt (a new offer) after every fresh `room.state` (the hub
// closes our agent peer when our socket goes), whenever the agent reconnects, and 1 s after the
// peer fails; never while the room is not ready. Voice signalling from other users goes to the
// mesh; the agent's answer goes to the current stream peer.
import { ClipFiles } from "./clipFiles";

// A chat message stays unconfirmed until its echo (same client_id) arrives; after a reconnect
// (a rolling upgrade moves sockets between server processes: 1012) those the fresh room.state
// does not hold are sent again with their client_id, which the server stores at most once.
import { PointerBoard, PointerSender, ReactionFeed } from "./ephemeral";
import type { ChatMessage, Envelope, MediaAction, PointerMark, Reaction, RoomStateData } from "./protocol";
import { loadQualityCap, saveQualityCap, type QualityCap, type QualityStatus } from "./quality";
import { RoomSocket, type SocketStatus } from "./roomSocket";
import { StreamPeer, type CursorShape, type StreamStats } from "./streamPeer";
import { VoiceMesh, type IncomingSignal, type Signal } from "./voiceMesh";

export interface RoomSink {
  apply(msg: Envelope): void;
  addPending(msg: ChatMessage): void;
  socketStatus(status: SocketStatus): void;
  peerStatus(status: "idle" | "connecting" | "connected" | "reconnecting" | "failed"): void;
  stats(stats: StreamStats): void;
  fatal(reason: string): void;
  stream(stream: MediaStream | null): void;
  /** The agent's latest quality status for this viewer; null when the stream peer is gone. */
  quality?(status: QualityStatus | null): void;
  /** This viewer's quality choice (saved per browser), at start and on every change. */
  qualityCap?(cap: QualityCap): void;
  speaking?(speaking: boolean): void;
  voicePeers?(peers: Record<string, RTCPeerConnectionState>): void;
}

export interface CursorListener {
  position(x: number, y: number): void;
  shape(shape: CursorShape): void;
}

export interface RoomClientOptions {
  code: string;
  wsUrl: string;
  getToken: (force: boolean) => Promise<string | null>;
  sink: RoomSink;
}

let clientIds = 0;

export class RoomClient {
  readonly socket: RoomSocket;
  private peer: StreamPeer | null = null;
  private peerRetry: ReturnType<typeof setTimeout> | null = null;
  private statsTimer: ReturnType<typeof setInterval> | null = null;
  private state: RoomStateData | null = null;
  private ready = false;
  private agentConnected = false;
  private cursor: CursorListener | null = null;
  private lastCursor: { x: number; y: number } | null = null;
  private lastShape: CursorShape | null = null;
  private stopped = false;
  private qualityCap: QualityCap = loadQualityCap();
  /** Our chat messages not yet echoed back, by client_id, oldest first. */
  private readonly unconfirmed = new Map<string, string>();
  voice: VoiceMesh | null = null;
  /** Reactions shown over the stream for a moment (fed by `reaction` broadcasts). */
  readonly reactions = new ReactionFeed();
  /** Members' pointers on the picture (fed by `pointer` broadcasts). */
  readonly pointers = new PointerBoard();
  private readonly pointerSender = new PointerSender((x, y) => void this.send("pointer.show", { x, y }));
  /** Clipboard and files: the holder's paste, copies coming back, the page's file chooser. */
  readonly clipFiles = new ClipFiles({
    send: (type, data) => this.send(type, data),
    writeClipboard: (text) => (navigator.clipboard ? navigator.clipboard.writeText(text) : Promise.reject(new Error("no clipboard"))),
    sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
    now: () => Date.now(),
  });

  constructor(private readonly opts: RoomClientOptions) {
    this.socket = new RoomSocket({
      url: opts.wsUrl,
      getToken: opts.getToken,
      onMessage: (msg) => this.onMessage(msg),
      onStatus: (s) => {
        opts.sink.socketStatus(s);
        if (s === "reconnecting") this.closePeer("reconnecting");
      },
      onFinal: (_code, reason) => {
        this.closePeer("idle");
        opts.sink.fatal(reason);
      },
    });
  }

  start(): void {
    this.stopped = false;
    this.opts.sink.qualityCap?.(this.qualityCap);
    this.socket.start();
    this.statsTimer = setInterval(() => void this.pollStats(), 1_000);
  }

  stop(): void {
    this.stopped = true;
    this.socket.stop();
    this.closePeer("idle");
    this.voice?.leave();
    this.voice = null;
    if (this.statsTimer !== null) clearInterval(this.statsTimer);
    this.pointerSender.stop();
    this.reactions.clear();
    this.pointers.clear();
    this.clipFiles.clear();
  }

  send(type: string, data: object = {}): boolean {
    return this.socket.send(type, data);
  }

  /** Sends a chat message and shows it at once as pending; the server's echo confirms it. */
  sendChat(text: string, self: { id: string; username: string }): boolean {
    const clientId = `c-${Date.now().toString(36)}-${++clientIds}`;
    if (!this.send("chat.send", { text, client_id: clientId })) return false;
    this.unconfirmed.set(clientId, text);
    this.opts.sink.addPending({ id: clientId, user: self, text, created_at: new Date().toISOString(), client_id: clientId });
    return true;
  }

  // ------------------------------------------------------------------ watching together

  /** Play, pause, seek (absolute seconds), seek_by (relative seconds) or rate the room's media. */
  mediaCommand(action: MediaAction, value?: number): boolean {
    return this.send("media.cmd", value === undefined ? { action } : { action, value });
  }

  react(emoji: string): boolean {
    return this.send("reaction.send", { emoji });
  }

  /** Point at the picture (`x`, `y`: 0..1 of the stream); at most 10 a second leave, the latest wins. */
  pointAt(x: number, y: number): void {
    this.pointerSender.point(x, y);
  }

  queueAdd(url: string): boolean {
    return this.send("queue.add", { url });
  }

  queueRemove(id: string): boolean {
    return this.send("queue.remove", { id });
  }

  queueMove(id: string, index: number): boolean {
    return this.send("queue.move", { id, index });
  }

  // ------------------------------------------------------------------ tabs (the holder's)

  /** Opens a tab in the room's browser (on `url`, else blank); it comes to the front. */
  tabsOpen(url?: string): boolean {
    return this.send("tabs.open", url === undefined ? {} : { url });
  }

  tabsSwitch(id: string): boolean {
    return this.send("tabs.switch", { id });
  }

  tabsClose(id: string): boolean {
    return this.send("tabs.close", { id });
  }

  /** Caps only this viewer's rung (0 = Auto); saved for this browser's next rooms. */
  setQualityCap(cap: QualityCap): void {
    this.qualityCap = cap;
    saveQualityCap(cap);
    this.opts.sink.qualityCap?.(cap);
    this.peer?.setQualityCap(cap);
  }

  get streamPeer(): StreamPeer | null {
    return this.peer;
  }

  setCursorListener(listener: CursorListener | null): void {
    this.cursor = listener;
    if (listener && this.lastShape) listener.shape(this.lastShape);
    if (listener && this.lastCursor) listener.position(this.lastCursor.x, this.lastCursor.y);
  }

  // ------------------------------------------------------------------ voice

  async joinVoice(deviceId?: string): Promise<void> {
    const me = this.state?.you.user_id;
    if (!me || this.voice) return;
    const mesh = new VoiceMesh({
      selfId: me,
      iceServers: this.state?.ice_servers ?? [],
      send: (sig: Signal) => {
        const { type, ...data } = sig;
        return this.send(type, data);
      },
      onPeers: (peers) => this.opts.sink.voicePeers?.(Object.fromEntries(peers.map((p) => [p.userId, p.state]))),
      onSpeaking: (speaking) => {
        this.opts.sink.speaking?.(speaking);
        this.sendVoiceState(speaking);
      },
    });
    this.voice = mesh;
    try {
      await mesh.join(deviceId);
    } catch (err) {
      this.voice = null;
      throw err;
    }
    this.sendVoiceState(false);
    for (const p of this.state?.participants ?? []) if (p.voice && p.online && p.user_id !== me) mesh.connect(p.user_id);
  }

  leaveVoice(): void {
    this.voice?.leave();
    this.voice = null;
    this.opts.sink.voicePeers?.({});
    this.send("voice.leave");
  }

  sendVoiceState(speaking?: boolean): void {
    const v = this.voice;
    if (!v) return;
    this.send("voice.state", { muted: v.muted, deafened: v.deafened, speaking: speaking ?? false });
  }

  // ------------------------------------------------------------------ messages

  private onMessage(msg: Envelope): void {
    const d = msg.data as Record<string, unknown>;
    if (msg.type === "room.state") {
      this.state = msg.data as RoomStateData;
      this.ready = this.state.room.status === "ready" || this.state.room.status === "idle";
      this.agentConnected = this.state.agent_connected;
      this.opts.sink.apply(msg);
      this.resendUnconfirmed(this.state.chat);
      // The hub closed our previous agent peer with the previous socket: offer again.
      this.closePeer("idle");
      this.maybeConnectPeer();
      // Voice peers survive a socket reconnect (they are browser to browser), but anyone who
      // joined voice while we were away must be dialled.
      if (this.voice) {
        this.sendVoiceState(false);
        for (const p of this.state.participants) if (p.voice && p.online && p.user_id !== this.state.you.user_id) this.voice.connect(p.user_id);
      }
      return;
    }
    this.opts.sink.apply(msg);
    this.track(msg);
    this.clipFiles.handle(msg);
    switch (msg.type) {
      case "chat.message":
        if (typeof d.client_id === "string" && this.isMine(d.user)) this.unconfirmed.delete(d.client_id);
        break;
      case "remote.changed":
        if (d.holder_id !== this.state?.you.user_id) this.clipFiles.notHolder();
        break;
      case "room.status": {
        const wasUp = this.ready && this.agentConnected;
        if (typeof d.status === "string") this.ready = d.status === "ready" || d.status === "idle";
        if (typeof d.agent_connected === "boolean") this.agentConnected = d.agent_connected;
        const up = this.ready && this.agentConnected;
        if (!up) this.closePeer(this.ready ? "reconnecting" : "idle");
        else if (!wasUp) this.maybeConnectPeer();
        break;
      }
      case "reaction":
        this.reactions.add(d as unknown as Reaction);
        break;
      case "pointer":
        this.pointers.show(d as unknown as PointerMark);
        break;
      case "room.ended":
        this.closePeer("idle");
        this.voice?.leave();
        this.voice = null;
        break;
      case "rtc.answer":
        if (d.from === "agent") void this.peer?.accept(String(d.sdp)).catch(() => this.peerFailed());
        else void this.voice?.handle({ ...(d as object), type: "rtc.answer" } as IncomingSignal);
        break;
      case "rtc.offer":
      case "rtc.ice":
        void this.voice?.handle({ ...(d as object), type: msg.type } as IncomingSignal);
        break;
      case "voice.left":
      case "presence.left":
      case "participant.removed":
        this.voice?.drop(String(d.user_id));
        break;
      case "error":
        if (d.code === "agent_error" || d.code === "agent_unavailable") this.peerFailed();
        break;
    }
  }

  /** After a fresh room.state: our messages it holds are confirmed; the rest (sent into a
   * socket that closed before they were handled) go again, with their client_id. */
  private resendUnconfirmed(chat: readonly { client_id?: string | null; user: unknown }[]): void {
    for (const m of chat) if (m.client_id && this.isMine(m.user)) this.unconfirmed.delete(m.client_id);
    for (const [clientId, text] of this.unconfirmed) this.send("chat.send", { text, client_id: clientId });
  }

  /** client_ids are the sender's own: another member may use the same one. */
  private isMine(user: unknown): boolean {
    const me = this.state?.you.user_id;
    return me !== undefined && typeof user === "object" && user !== null && (user as { id?: unknown }).id === me;
  }

  /** Keep the snapshot the voice mesh consults (who is in voice) current. */
  private track(msg: Envelope): void {
    const s = this.state;
    if (!s) return;
    const d = msg.data as Record<string, unknown>;
    if (msg.type === "voice.state") {
      const p = s.participants.find((x) => x.user_id === d.user_id);
      if (p) p.voice = { muted: Boolean(d.muted), deafened: Boolean(d.deafened), speaking: Boolean(d.speaking) };
    } else if (msg.type === "voice.left" || msg.type === "presence.left") {
      const p = s.participants.find((x) => x.user_id === d.user_id);
      if (p) p.voice = null;
    } else if (msg.type === "presence.joined" && !s.participants.some((x) => x.user_id === d.user_id)) {
      s.participants.push({ user_id: String(d.user_id), username: String(d.username), role: "guest", online: true, voice: null });
    }
  }

  // ------------------------------------------------------------------ stream peer

  private maybeConnectPeer(): void {
    if (this.stopped || this.peer || !this.ready || !this.agentConnected || !this.state) return;
    const peer = new StreamPeer({
      iceServers: this.state.ice_servers,
      qualityCap: this.qualityCap,
      onQualityStatus: (status) => {
        if (this.peer === peer) this.opts.sink.quality?.(status);
      },
      sendOffer: (sdp) => this.send("rtc.offer", { to: "agent", sdp }),
      onStream: (stream) => this.opts.sink.stream(stream),
      onState: (s) => {
        if (this.peer !== peer) return;
        if (s === "connected") this.opts.sink.peerStatus("connected");
        else if (s === "failed") this.peerFailed();
      },
      onCursorPosition: (x, y) => {
        this.lastCursor = { x, y };
        this.cursor?.position(x, y);
      },
      onCursorShape: (shape) => {
        this.lastShape = shape;
        this.cursor?.shape(shape);
      },
    });
    this.peer = peer;
    this.opts.sink.peerStatus("connecting");
    peer.start().catch(() => this.peerFailed());
  }

  private peerFailed(): void {
    this.closePeer("reconnecting");
    if (this.peerRetry !== null || this.stopped) return;
    this.peerRetry = setTimeout(() => {
      this.peerRetry = null;
      this.maybeConnectPeer();
    }, 1_000);
  }

  private closePeer(status: "idle" | "reconnecting"): void {
    const peer = this.peer;
    this.peer = null;
    if (peer) {
      peer.close();
      this.opts.sink.stream(null);
      this.opts.sink.quality?.(null);
    }
    this.opts.sink.peerStatus(status);
  }

  private async pollStats(): Promise<void> {
    const peer = this.peer;
    if (!peer || peer.pc.connectionState !== "connected") return;
    try {
      this.opts.sink.stats(await peer.stats());
    } catch {
      // a closing peer: the next poll sees the new one
    }
  }
}
