// Clipboard and files (issue 22) on the room page's side: the holder's paste into the room's
// page, what they copy there coming back to their clipboard, the room page's file chooser put
// to them and their files sent in chunks, a refused download said. Plain TypeScript with a
// subscribe/snapshot pair for React's useSyncExternalStore (docs/protocol.md, "Clipboard and
// files").
//
// Contract: one upload at a time, the open chooser's; at most WINDOW_CHUNKS chunks in flight
// (each is acknowledged by a `file.status` "progress"), and at most SEND_BYTES_PER_SECOND (half
// of what the server lets one socket forward), so neither the socket's flood guard nor the
// agent's outbox is ever pushed. A snapshot is a new object whenever its content changed.
import type { Envelope } from "./protocol";
import type { ClipboardCopiedOut, DownloadRefusedOut, FileChooserOut, FileStatusOut } from "./wire";

/** Decoded bytes per `file.chunk` (the wire's FILE_CHUNK_BYTES). */
export const CHUNK_BYTES = 40_960;
/** The most text one paste carries whatever the room's own cap (the wire's CLIPBOARD_HARD_MAX_BYTES). */
export const PASTE_HARD_MAX_BYTES = 16_384;
export const WINDOW_CHUNKS = 4;
export const SEND_BYTES_PER_SECOND = 2 * 1024 * 1024;

export interface Copied {
  text: string;
  size: number;
  maxBytes: number;
  /** Whether it went onto this browser's clipboard (null: not tried yet). */
  onClipboard: boolean | null;
}

export interface Upload {
  id: string;
  names: string[];
  total: number;
  received: number;
  state: "sending" | "done" | "failed" | "cancelled";
  detail: string;
}

export interface ClipFilesView {
  copied: Copied | null;
  chooser: FileChooserOut | null;
  upload: Upload | null;
  download: DownloadRefusedOut | null;
  /** Why the last paste or file was refused (the server's words, or ours). */
  error: string | null;
}

export interface ClipFilesDeps {
  send(type: string, data: object): boolean;
  /** Puts text on this browser's clipboard; rejects when the browser refuses. */
  writeClipboard(text: string): Promise<void>;
  sleep(ms: number): Promise<void>;
  now(): number;
}

const EMPTY: ClipFilesView = { copied: null, chooser: null, upload: null, download: null, error: null };

export function utf8Bytes(text: string): number {
  return new TextEncoder().encode(text).length;
}

/** Bytes as base64 (in slices: a spread of 40 KB of arguments would overflow some stacks). */
export function toBase64(bytes: Uint8Array): string {
  let bin = "";
  for (let i = 0; i < bytes.length; i += 8192) bin += String.fromCharCode(...bytes.subarray(i, i + 8192));
  return btoa(bin);
}

/** Where each chunk of these files starts: [file index, offset, length], in sending order. */
export function chunkPlan(sizes: number[], chunk = CHUNK_BYTES): [number, number, number][] {
  const out: [number, number, number][] = [];
  sizes.forEach((size, index) => {
    for (let offset = 0; offset < size; offset += chunk) out.push([index, offset, Math.min(chunk, size - offset)]);
  });
  return out;
}

export function sizeWords(n: number): string {
  if (n < 1024) return `${n} bytes`;
  if (n < 1024 * 1024) return `${Math.round(n / 1024)} KB`;
  return `${(n / (1024 * 1024)).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MB`;
}

export class ClipFiles {
  private view: ClipFilesView = EMPTY;
  private listeners = new Set<() => void>();
  private acked = 0;
  private wake: (() => void) | null = null;

  constructor(private readonly deps: ClipFilesDeps) {}

  subscribe = (fn: () => void): (() => void) => {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  };

  snapshot = (): ClipFilesView => this.view;

  private set(patch: Partial<ClipFilesView>): void {
    this.view = { ...this.view, ...patch };
    for (const fn of this.listeners) fn();
  }

  private setUpload(patch: Partial<Upload>): void {
    if (this.view.upload) this.set({ upload: { ...this.view.upload, ...patch } });
  }

  /** A message from the room socket; false when it is none of this part's. */
  handle(msg: Envelope): boolean {
    switch (msg.type) {
      case "clipboard.copied":
        this.copied(msg.data as ClipboardCopiedOut);
        return true;
      case "file.chooser":
        this.set({ chooser: msg.data as FileChooserOut, upload: null, error: null });
        return true;
      case "file.status":
        this.status(msg.data as FileStatusOut);
        return true;
      case "download.refused":
        this.set({ download: msg.data as DownloadRefusedOut });
        return true;
      case "error": {
        const d = msg.data as { type?: string; detail?: unknown };
        if (d.type === "clipboard.paste" || d.type?.startsWith("file.")) {
          const detail = typeof d.detail === "string" ? d.detail : "The room refused that";
          this.set({ error: detail });
          if (d.type !== "clipboard.paste") this.fail(detail);
          return true;
        }
        return false;
      }
    }
    return false;
  }

  /** The remote left this viewer: a chooser put to them is no longer theirs to answer. */
  notHolder(): void {
    if (this.view.chooser || this.view.upload?.state === "sending") this.set({ chooser: null, upload: null });
    this.wake?.();
  }

  clear(): void {
    this.view = EMPTY;
    this.wake?.();
    for (const fn of this.listeners) fn();
  }

  // ------------------------------------------------------------------ clipboard

  /** The holder's text into the room page's focused field. */
  paste(text: string): boolean {
    if (!text) return false;
    const size = utf8Bytes(text);
    if (size > PASTE_HARD_MAX_BYTES) {
      this.set({ error: `Text to paste is limited to ${sizeWords(PASTE_HARD_MAX_BYTES)} (${PASTE_HARD_MAX_BYTES} bytes); this is ${size} bytes` });
      return false;
    }
    this.set({ error: null });
    return this.deps.send("clipboard.paste", { text });
  }

  private copied(d: ClipboardCopiedOut): void {
    const copied: Copied = { text: d.text, size: d.size, maxBytes: d.max_bytes, onClipboard: null };
    this.set({ copied });
    if (!d.text) return;
    this.deps.writeClipboard(d.text).then(
      () => this.markCopied(copied, true),
      () => this.markCopied(copied, false),
    );
  }

  private markCopied(copied: Copied, ok: boolean): void {
    if (this.view.copied === copied) this.set({ copied: { ...copied, onClipboard: ok } });
  }

  /** The Copy button: a click is a user gesture, which every browser accepts. */
  async copyAgain(): Promise<void> {
    const copied = this.view.copied;
    if (!copied?.text) return;
    try {
      await this.deps.writeClipboard(copied.text);
      this.markCopied(copied, true);
    } catch {
      this.markCopied(copied, false);
    }
  }

  dismissCopied(): void {
    this.set({ copied: null });
  }

  dismissDownload(): void {
    this.set({ download: null });
  }

  dismissError(): void {
    this.set({ error: null });
  }

  // ------------------------------------------------------------------ files

  cancelChooser(): void {
    const chooser = this.view.chooser;
    if (!chooser) return;
    this.deps.send("file.cancel", { id: chooser.id });
    this.set({ chooser: null, upload: null });
    this.wake?.();
  }

  /** The holder's files for the open chooser, sent in order; resolves when all left or it stopped. */
  async sendFiles(files: File[]): Promise<void> {
    const chooser = this.view.chooser;
    if (!chooser || files.length === 0 || this.view.upload?.state === "sending") return;
    const total = files.reduce((n, f) => n + f.size, 0);
    if (!chooser.multiple && files.length > 1) {
      this.set({ error: "This file field takes one file" });
      return;
    }
    if (total > chooser.max_bytes) {
      this.set({ error: `Files for the room's page are limited to ${sizeWords(chooser.max_bytes)} together; these weigh ${sizeWords(total)}` });
      return;
    }
    const id = chooser.id;
    this.acked = 0;
    this.set({ error: null, upload: { id, names: files.map((f) => f.name), total, received: 0, state: "sending", detail: "" } });
    const meta = files.map((f) => ({ name: (f.name || "file").slice(-255), size: f.size, type: f.type.slice(0, 255) }));
    if (!this.deps.send("file.upload", { id, files: meta })) return this.fail("The room is not connected");
    let sent = 0;
    const started = this.deps.now();
    for (const [index, offset, length] of chunkPlan(files.map((f) => f.size))) {
      while (this.sending(id) && sent - this.acked >= WINDOW_CHUNKS * CHUNK_BYTES) await this.ack();
      if (!this.sending(id)) return;
      const file = files[index];
      if (!file) return;
      const bytes = new Uint8Array(await file.slice(offset, offset + length).arrayBuffer());
      if (!this.sending(id)) return;
      if (!this.deps.send("file.chunk", { id, index, offset, b64: toBase64(bytes) })) return this.fail("The room is not connected");
      sent += length;
      const early = (sent / SEND_BYTES_PER_SECOND) * 1000 - (this.deps.now() - started);
      if (early > 0) await this.deps.sleep(early);
    }
  }

  private sending(id: string): boolean {
    return this.view.upload?.id === id && this.view.upload.state === "sending";
  }

  /** Until the next acknowledgement (or anything that ends the upload). */
  private ack(): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.wake = null;
        this.fail("The room's browser stopped answering");
        resolve();
      }, 15_000);
      this.wake = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
    });
  }

  private status(d: FileStatusOut): void {
    if (this.view.upload?.id !== d.id) {
      if (d.state === "failed" && this.view.chooser?.id === d.id) this.set({ error: d.detail });
      return;
    }
    this.acked = d.received;
    if (d.state === "progress") this.setUpload({ received: d.received });
    else if (d.state === "done") {
      this.setUpload({ received: d.received, state: "done" });
      this.set({ chooser: null });
    } else {
      // The agent forgot the chooser: the page has to open it again for another try.
      this.fail(d.detail || "Cancelled", d.state);
      this.set({ chooser: null });
    }
    this.wake?.();
  }

  private fail(detail: string, state: "failed" | "cancelled" = "failed"): void {
    if (this.view.upload?.state === "sending") this.setUpload({ state, detail });
    this.wake?.();
  }
}
