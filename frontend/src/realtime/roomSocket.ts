// The room WebSocket as a plain object: authenticates with the first frame, reconnects with
// backoff, and asks for a fresh `room.state` (by reconnecting) when a broadcast `seq` jumps.
//
// Contract: `onMessage` sees every message in arrival order, `room.state` first after each
// (re)connection. Broadcasts are numbered per room without gaps, so the socket tracks the last
// one it saw; a jump means it missed something and the state it built is stale. Final close codes
// (kicked, ended, no such room, left) stop it; 4401 refreshes the token once before retrying.
// The server closes a socket whose token expires (4401): `reauthenticate` hands it each
// refreshed token (an `auth` frame on the open socket), which extends it.
// A server process that is stopping (a rolling upgrade) closes its sockets with 1012: an open
// socket then reconnects at once, with status "moving", which the room page does not show as a
// problem; a 1012 before room.state (refused by a stopping process) backs off like any close.
import { CLOSE_SERVICE_RESTART, CLOSE_UNAUTHORIZED, DIRECT_TYPES, FINAL_CLOSE_CODES, type Envelope } from "./protocol";

/** "moving": the server asked us to reconnect elsewhere (1012) and we are; not an error. */
export type SocketStatus = "connecting" | "open" | "moving" | "reconnecting" | "closed";

export interface RoomSocketOptions {
  url: string;
  /** A valid access token; `force` asks for a refreshed one (after a 4401). Null: signed out. */
  getToken: (force: boolean) => Promise<string | null>;
  onMessage: (msg: Envelope) => void;
  onStatus?: (status: SocketStatus) => void;
  /** A final close: the reason in words. */
  onFinal?: (code: number, reason: string) => void;
  WebSocketImpl?: typeof WebSocket;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Ping this often; a socket silent for 3 intervals is treated as dead. */
  pingIntervalMs?: number;
  random?: () => number;
}

export class RoomSocket {
  private ws: WebSocket | null = null;
  private lastSeq: number | null = null;
  private attempt = 0;
  private stopped = false;
  private forceToken = false;
  /** Reconnecting at once because the server moved us (1012), not because something failed. */
  private moving = false;
  /** A token refreshed while the socket was not open yet: sent once room.state arrives. */
  private pendingToken: string | null = null;
  private retryTimer: ReturnType<typeof setTimeout> | null = null;
  private pingTimer: ReturnType<typeof setInterval> | null = null;
  private lastHeard = 0;
  private _status: SocketStatus = "closed";
  /** Incremented on every fresh room.state: lets callers tell one connection from the next. */
  generation = 0;

  constructor(private readonly opts: RoomSocketOptions) {}

  get status(): SocketStatus {
    return this._status;
  }

  start(): void {
    this.stopped = false;
    void this.open();
  }

  stop(): void {
    this.stopped = true;
    this.clearTimers();
    const ws = this.ws;
    this.ws = null;
    if (ws && ws.readyState <= 1) ws.close(1000, "bye");
    this.setStatus("closed");
  }

  /** Send a client message; false when the socket is not open (the caller may retry or queue). */
  send(type: string, data: object = {}): boolean {
    const ws = this.ws;
    if (!ws || ws.readyState !== 1 || this._status !== "open") return false;
    ws.send(JSON.stringify({ type, data }));
    return true;
  }

  /**
   * A refreshed access token: sent as `auth` on the open socket so the server keeps it open past
   * the old token's expiry. While (re)connecting it is sent right after room.state.
   */
  reauthenticate(token: string): void {
    if (this.stopped) return;
    if (this.send("auth", { token })) {
      this.pendingToken = null;
      return;
    }
    this.pendingToken = token;
  }

  /** Drop the connection and reconnect now (for a fresh room.state). */
  resync(): void {
    const ws = this.ws;
    this.ws = null;
    if (ws) {
      ws.onclose = null;
      ws.close(1000, "resync");
    }
    this.clearTimers();
    this.setStatus("reconnecting");
    void this.open();
  }

  private async open(): Promise<void> {
    if (this.stopped) return;
    if (this.moving) this.setStatus("moving");
    else this.setStatus(this.generation === 0 && this.attempt === 0 ? "connecting" : "reconnecting");
    let token: string | null;
    try {
      token = await this.opts.getToken(this.forceToken);
    } catch {
      this.scheduleRetry();
      return;
    }
    this.forceToken = false;
    if (this.pendingToken === token) this.pendingToken = null;
    if (this.stopped) return;
    if (token === null) {
      this.finish(CLOSE_UNAUTHORIZED, "You are signed out. Log in again to rejoin the room.");
      return;
    }
    const Impl = this.opts.WebSocketImpl ?? WebSocket;
    const ws = new Impl(this.opts.url);
    this.ws = ws;
    let authed = false;
    ws.onopen = () => ws.send(JSON.stringify({ type: "auth", data: { token } }));
    ws.onmessage = (ev: MessageEvent) => {
      if (this.ws !== ws) return;
      this.lastHeard = Date.now();
      let msg: Envelope;
      try {
        msg = JSON.parse(String(ev.data)) as Envelope;
      } catch {
        return;
      }
      if (msg.type === "room.state") {
        authed = true;
        this.attempt = 0;
        this.moving = false;
        this.generation += 1;
        // The state includes every broadcast up to its seq; the next one is seq + 1.
        this.lastSeq = typeof msg.seq === "number" ? msg.seq : null;
        this.setStatus("open");
        this.startPing(ws);
        if (this.pendingToken !== null) this.reauthenticate(this.pendingToken);
        this.opts.onMessage(msg);
        return;
      }
      if (!authed) return;
      if (!DIRECT_TYPES.has(msg.type) && typeof msg.seq === "number" && this.lastSeq !== null) {
        if (msg.seq <= this.lastSeq) return; // already included in the state we hold
        if (msg.seq > this.lastSeq + 1) {
          // A gap: something was missed; only a fresh room.state can be trusted now.
          this.resync();
          return;
        }
        this.lastSeq = msg.seq;
      }
      this.opts.onMessage(msg);
    };
    ws.onclose = (ev: CloseEvent) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.clearTimers();
      const final = FINAL_CLOSE_CODES[ev.code];
      if (final !== undefined) {
        this.finish(ev.code, final);
        return;
      }
      if (ev.code === CLOSE_SERVICE_RESTART && authed) {
        // The server is stopping and handing its sockets to the others: go there now.
        this.moving = true;
        void this.open();
        return;
      }
      if (ev.code === CLOSE_UNAUTHORIZED) this.forceToken = true;
      this.scheduleRetry();
    };
    ws.onerror = () => undefined; // onclose follows and decides
  }

  private scheduleRetry(): void {
    if (this.stopped) return;
    this.moving = false;
    this.setStatus("reconnecting");
    const base = this.opts.initialBackoffMs ?? 500;
    const max = this.opts.maxBackoffMs ?? 10_000;
    const delay = Math.min(max, base * 2 ** this.attempt) * (0.75 + 0.5 * (this.opts.random ?? Math.random)());
    this.attempt += 1;
    this.retryTimer = setTimeout(() => void this.open(), delay);
  }

  private startPing(ws: WebSocket): void {
    const every = this.opts.pingIntervalMs ?? 15_000;
    this.pingTimer = setInterval(() => {
      if (this.ws !== ws) return;
      if (Date.now() - this.lastHeard > every * 3) {
        this.resync();
        return;
      }
      this.send("ping");
    }, every);
  }

  private finish(code: number, reason: string): void {
    this.stopped = true;
    this.clearTimers();
    this.setStatus("closed");
    this.opts.onFinal?.(code, reason);
  }

  private clearTimers(): void {
    if (this.retryTimer !== null) clearTimeout(this.retryTimer);
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.retryTimer = null;
    this.pingTimer = null;
  }

  private setStatus(s: SocketStatus): void {
    if (s === this._status) return;
    this._status = s;
    this.opts.onStatus?.(s);
  }
}
