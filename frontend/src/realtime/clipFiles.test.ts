import { describe, expect, it } from "vitest";
import { CHUNK_BYTES, ClipFiles, PASTE_HARD_MAX_BYTES, WINDOW_CHUNKS, chunkPlan, toBase64, utf8Bytes, type ClipFilesDeps } from "./clipFiles";
import { isPasteShortcut } from "./inputController";

interface Sent {
  type: string;
  data: Record<string, unknown>;
}

function harness(write: (text: string) => Promise<void> = () => Promise.resolve()) {
  const sent: Sent[] = [];
  const deps: ClipFilesDeps = {
    send: (type, data) => {
      sent.push({ type, data: data as Record<string, unknown> });
      return true;
    },
    writeClipboard: write,
    sleep: () => Promise.resolve(),
    now: () => 0,
  };
  return { sent, cf: new ClipFiles(deps) };
}

const tick = () => new Promise((r) => setTimeout(r, 0));

describe("clipboard", () => {
  it("sends a paste, refuses one no frame can carry", () => {
    const { sent, cf } = harness();
    expect(cf.paste("héllo")).toBe(true);
    expect(sent).toEqual([{ type: "clipboard.paste", data: { text: "héllo" } }]);
    expect(cf.paste("é".repeat(PASTE_HARD_MAX_BYTES / 2 + 1))).toBe(false);
    expect(sent).toHaveLength(1);
    expect(cf.snapshot().error).toMatch(/limited to 16 KB/);
  });

  it("puts a copy on the clipboard, or says the browser kept it off", async () => {
    const written: string[] = [];
    const ok = harness((t) => (written.push(t), Promise.resolve()));
    ok.cf.handle({ type: "clipboard.copied", data: { text: "copied", size: 6, max_bytes: 8192 } });
    await tick();
    expect(written).toEqual(["copied"]);
    expect(ok.cf.snapshot().copied).toMatchObject({ text: "copied", onClipboard: true });
    const refused = harness(() => Promise.reject(new Error("not focused")));
    refused.cf.handle({ type: "clipboard.copied", data: { text: "copied", size: 6, max_bytes: 8192 } });
    await tick();
    expect(refused.cf.snapshot().copied?.onClipboard).toBe(false);
  });

  it("Ctrl+V and Cmd+V are the browser's own paste", () => {
    const k = (key: string, mods: Partial<Record<"ctrlKey" | "metaKey" | "altKey", boolean>>) => ({ key, code: "KeyV", ctrlKey: false, metaKey: false, altKey: false, ...mods });
    expect(isPasteShortcut(k("v", { ctrlKey: true }))).toBe(true);
    expect(isPasteShortcut(k("V", { metaKey: true }))).toBe(true);
    expect(isPasteShortcut(k("v", {}))).toBe(false);
    expect(isPasteShortcut(k("v", { ctrlKey: true, altKey: true }))).toBe(false);
  });
});

describe("files", () => {
  it("plans chunks file after file", () => {
    expect(chunkPlan([0, 5, 12], 5)).toEqual([
      [1, 0, 5],
      [2, 0, 5],
      [2, 5, 5],
      [2, 10, 2],
    ]);
    expect(toBase64(new Uint8Array([104, 105, 255]))).toBe("aGn/");
    expect(utf8Bytes("👋")).toBe(4);
  });

  it("sends a file in chunks, at most a window ahead of the agent's acknowledgements", async () => {
    const { sent, cf } = harness();
    cf.handle({ type: "file.chooser", data: { id: "c1", multiple: false, accept: "", max_bytes: 10_000_000 } });
    const size = CHUNK_BYTES * (WINDOW_CHUNKS + 2) + 10;
    const done = cf.sendFiles([new File([new Uint8Array(size)], "a.bin")]);
    for (let i = 0; i < 20; i++) await tick();
    const chunks = () => sent.filter((s) => s.type === "file.chunk");
    expect(sent[0]).toEqual({ type: "file.upload", data: { id: "c1", files: [{ name: "a.bin", size, type: "" }] } });
    expect(chunks()).toHaveLength(WINDOW_CHUNKS);
    cf.handle({ type: "file.status", data: { id: "c1", state: "progress", received: CHUNK_BYTES * 2, detail: "" } });
    for (let i = 0; i < 20; i++) await tick();
    expect(chunks()).toHaveLength(WINDOW_CHUNKS + 2);
    cf.handle({ type: "file.status", data: { id: "c1", state: "progress", received: CHUNK_BYTES * (WINDOW_CHUNKS + 2), detail: "" } });
    await done;
    expect(chunks().map((c) => c.data.offset)).toEqual(chunkPlan([size]).map(([, offset]) => offset));
    cf.handle({ type: "file.status", data: { id: "c1", state: "done", received: size, detail: "" } });
    expect(cf.snapshot()).toMatchObject({ chooser: null, upload: { state: "done", received: size } });
  });

  it("refuses what the chooser will not take, before sending anything", async () => {
    const { sent, cf } = harness();
    cf.handle({ type: "file.chooser", data: { id: "c1", multiple: false, accept: "", max_bytes: 10 } });
    await cf.sendFiles([new File(["x".repeat(11)], "big.txt")]);
    expect(cf.snapshot().error).toBe("Files for the room's page are limited to 10 bytes together; these weigh 11 bytes");
    await cf.sendFiles([new File(["a"], "a"), new File(["b"], "b")]);
    expect(cf.snapshot().error).toBe("This file field takes one file");
    expect(sent).toEqual([]);
  });

  it("a failure stops the upload and closes the chooser; Cancel says so to the room", async () => {
    const { sent, cf } = harness();
    cf.handle({ type: "file.chooser", data: { id: "c1", multiple: false, accept: "", max_bytes: 10_000_000 } });
    const done = cf.sendFiles([new File([new Uint8Array(CHUNK_BYTES * 10)], "a.bin")]);
    await tick();
    cf.handle({ type: "file.status", data: { id: "c1", state: "failed", received: 0, detail: "The page's file field is gone" } });
    await done;
    expect(cf.snapshot()).toMatchObject({ chooser: null, upload: { state: "failed", detail: "The page's file field is gone" } });
    expect(sent.filter((s) => s.type === "file.chunk").length).toBeLessThanOrEqual(WINDOW_CHUNKS);
    cf.handle({ type: "file.chooser", data: { id: "c2", multiple: true, accept: "", max_bytes: 10 } });
    cf.cancelChooser();
    expect(sent.at(-1)).toEqual({ type: "file.cancel", data: { id: "c2" } });
    expect(cf.snapshot().chooser).toBeNull();
  });
});
