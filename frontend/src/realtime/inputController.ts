// Turns pointer, wheel and keyboard events over the stream into agent input: the binary data
// channel messages while the channels are open, the room socket's JSON fallbacks otherwise.
// Plain DOM code with no React; `attach` returns the function that detaches it.
//
// Contract: nothing is sent unless `isHolder()` says so at the time of the event. Keys are
// captured (preventDefault) only while the viewport has focus, so browser shortcuts reach the
// shared browser and not this tab. Whatever is held is released on blur and when the tab hides,
// so a lost key-up never leaves a key stuck in the room's browser.
import { contentBox, toStreamFraction, type Box } from "./coords";
import { encodeButton, encodeKey, encodeMove, encodeReleaseAll, encodeText, encodeWheel, xButton } from "./inputEncoder";
import { TouchGestures, type TouchAction } from "./touchGestures";

export interface InputSink {
  /** Data channels open: input takes the fast path. */
  channelsOpen(): boolean;
  pointer(bytes: Uint8Array): void;
  input(bytes: Uint8Array): void;
  /** The room socket's JSON fallback (`browser.mouse_move`, `.click`, `.scroll`, `.keypress`). */
  fallback(type: string, data: object): void;
  /** Text the holder pastes (`clipboard.paste`); without it, a paste is typed as the text op. */
  paste?(text: string): void;
}

export interface InputControllerOptions {
  /** The element that receives the events and keyboard focus (wraps the video). */
  target: HTMLElement;
  video: HTMLVideoElement;
  sink: InputSink;
  isHolder: () => boolean;
  /** Called after each input the holder sends (e.g. for latency marks). */
  onInput?: (kind: "pointer" | "button" | "wheel" | "key" | "text") => void;
}

const FALLBACK_BUTTON: Record<number, string> = { 1: "left", 2: "middle", 3: "right" };
const LINE_PX = 40;

export function wheelPixels(delta: number, mode: number, pageSize: number): number {
  if (mode === 1) return delta * LINE_PX; // DOM_DELTA_LINE
  if (mode === 2) return delta * pageSize; // DOM_DELTA_PAGE
  return delta;
}

/** Ctrl+V / Cmd+V (Shift too): this browser's own paste, whose `paste` event carries the
 * holder's clipboard; the keystroke itself would paste the room's clipboard instead. */
export function isPasteShortcut(e: Pick<KeyboardEvent, "key" | "code" | "ctrlKey" | "metaKey" | "altKey">): boolean {
  return (e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "v" || e.key === "V" || e.code === "KeyV");
}

export function modifierNames(e: KeyboardEvent): string[] {
  return [e.ctrlKey && "ctrl", e.shiftKey && "shift", e.altKey && "alt", e.metaKey && "meta"].filter((m): m is string => Boolean(m));
}

export function attachInput(opts: InputControllerOptions): () => void {
  const { target, video, sink, isHolder } = opts;
  const held = { buttons: new Set<number>(), keys: new Set<string>() };
  let composing = false;

  const box = (): Box => {
    const r = video.getBoundingClientRect();
    return { ...contentBox(r.width, r.height, video.videoWidth, video.videoHeight) };
  };
  const point = (e: MouseEvent, clamp: boolean) => {
    const r = video.getBoundingClientRect();
    return toStreamFraction(e.clientX - r.left, e.clientY - r.top, box(), clamp);
  };

  // Fingers (pointerType "touch") are gestures, not a mouse: touchGestures.ts.
  const touch = new TouchGestures();
  const local = (e: PointerEvent) => {
    const r = video.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  };
  const sendTouch = (actions: TouchAction[]) => {
    const b = box();
    for (const a of actions) {
      const p = toStreamFraction(a.x, a.y, b, a.kind === "wheel");
      if (!p) continue;
      if (a.kind === "click") {
        if (sink.channelsOpen()) {
          sink.input(encodeButton(true, a.button, p.x, p.y));
          sink.input(encodeButton(false, a.button, p.x, p.y));
        } else sink.fallback("browser.click", { ...p, button: FALLBACK_BUTTON[a.button] });
        opts.onInput?.("button");
      } else {
        if (sink.channelsOpen()) sink.input(encodeWheel(a.dx, a.dy, p.x, p.y));
        else sink.fallback("browser.scroll", { ...p, dx: a.dx, dy: a.dy });
        opts.onInput?.("wheel");
      }
    }
  };
  /** Stream pixels per element pixel: a drag scrolls the room's page as far as the finger went. */
  const scale = () => {
    const w = box().width;
    return w > 0 && video.videoWidth > 0 ? video.videoWidth / w : 1;
  };
  const onTouch = (e: PointerEvent, phase: "down" | "move" | "up" | "cancel") => {
    if (!isHolder()) {
      touch.cancel(e.pointerId);
      return;
    }
    e.preventDefault();
    const { x, y } = local(e);
    if (phase === "down") sendTouch(touch.down(e.pointerId, x, y, e.timeStamp));
    else if (phase === "move") sendTouch(touch.move(e.pointerId, x, y, scale()));
    else if (phase === "up") sendTouch(touch.up(e.pointerId, e.timeStamp));
    else touch.cancel(e.pointerId);
  };

  const releaseAll = () => {
    if (held.buttons.size === 0 && held.keys.size === 0) return;
    held.buttons.clear();
    held.keys.clear();
    if (isHolder() && sink.channelsOpen()) sink.input(encodeReleaseAll());
  };

  const onMove = (e: PointerEvent) => {
    if (e.pointerType === "touch") return onTouch(e, "move");
    if (!isHolder()) return;
    const p = point(e, held.buttons.size > 0);
    if (!p) return;
    if (sink.channelsOpen()) sink.pointer(encodeMove(p.x, p.y));
    else sink.fallback("browser.mouse_move", p);
    opts.onInput?.("pointer");
  };

  const onDown = (e: PointerEvent) => {
    // A finger does not take the focus: the holder's on-screen keyboard stays open while they
    // tap the room's page (keys from a touch device come through that keyboard's field).
    if (e.pointerType === "touch") return onTouch(e, "down");
    target.focus({ preventScroll: true });
    if (!isHolder()) return;
    const button = xButton(e.button);
    const p = point(e, false);
    if (button === null || !p) return;
    e.preventDefault();
    target.setPointerCapture?.(e.pointerId);
    held.buttons.add(button);
    if (sink.channelsOpen()) sink.input(encodeButton(true, button, p.x, p.y));
    else if (FALLBACK_BUTTON[button]) sink.fallback("browser.click", { ...p, button: FALLBACK_BUTTON[button] });
    opts.onInput?.("button");
  };

  const onUp = (e: PointerEvent) => {
    if (e.pointerType === "touch") return onTouch(e, e.type === "pointercancel" ? "cancel" : "up");
    const button = xButton(e.button);
    if (button === null || !held.buttons.has(button)) return;
    held.buttons.delete(button);
    if (!isHolder()) return;
    const p = point(e, true);
    if (p && sink.channelsOpen()) sink.input(encodeButton(false, button, p.x, p.y));
  };

  const onWheel = (e: WheelEvent) => {
    if (!isHolder()) return;
    const p = point(e, false);
    if (!p) return;
    e.preventDefault();
    const h = video.getBoundingClientRect().height || 600;
    const dx = wheelPixels(e.deltaX, e.deltaMode, h);
    const dy = wheelPixels(e.deltaY, e.deltaMode, h);
    if (sink.channelsOpen()) sink.input(encodeWheel(dx, dy, p.x, p.y));
    else sink.fallback("browser.scroll", { ...p, dx, dy });
    opts.onInput?.("wheel");
  };

  const onKey = (down: boolean) => (e: KeyboardEvent) => {
    if (!isHolder()) return;
    // IME composition ends in one text message (compositionend), not in its raw keys.
    if (composing || e.isComposing || e.key === "Process" || e.key === "Dead") return;
    // Left to the browser (no preventDefault): its paste event brings the holder's clipboard.
    if (isPasteShortcut(e)) return;
    e.preventDefault();
    e.stopPropagation();
    if (down) held.keys.add(e.code);
    else if (!held.keys.delete(e.code)) return;
    if (sink.channelsOpen()) sink.input(encodeKey(down, e));
    else if (down) sink.fallback("browser.keypress", { key: e.key, code: e.code, modifiers: modifierNames(e) });
    opts.onInput?.("key");
  };
  const onKeyDown = onKey(true);
  const onKeyUp = onKey(false);

  const sendText = (text: string) => {
    if (!text || !isHolder() || !sink.channelsOpen()) return;
    for (const msg of encodeText(text)) sink.input(msg);
    opts.onInput?.("text");
  };
  const onPaste = (e: ClipboardEvent) => {
    if (!isHolder()) return;
    e.preventDefault();
    const text = e.clipboardData?.getData("text/plain") ?? "";
    if (!text) return;
    if (sink.paste) {
      sink.paste(text);
      opts.onInput?.("text");
    } else sendText(text);
  };
  const onCompositionStart = () => void (composing = true);
  const onCompositionEnd = (e: CompositionEvent) => {
    composing = false;
    sendText(e.data);
  };
  // No emulated mouse events, click or focus change after the holder's touches (the gestures
  // above are the whole of it).
  const onTouchStart = (e: TouchEvent) => {
    if (isHolder() && e.cancelable) e.preventDefault();
  };
  const onContextMenu = (e: Event) => {
    if (isHolder()) e.preventDefault();
  };
  const onVisibility = () => {
    if (document.visibilityState === "hidden") releaseAll();
  };

  const listeners: [EventTarget, string, EventListener, AddEventListenerOptions?][] = [
    [target, "pointermove", onMove as EventListener],
    [target, "pointerdown", onDown as EventListener],
    [target, "pointerup", onUp as EventListener],
    [target, "pointercancel", onUp as EventListener],
    [target, "wheel", onWheel as EventListener, { passive: false }],
    [target, "touchstart", onTouchStart as EventListener, { passive: false }],
    [target, "keydown", onKeyDown as EventListener],
    [target, "keyup", onKeyUp as EventListener],
    [target, "paste", onPaste as EventListener],
    [target, "compositionstart", onCompositionStart as EventListener],
    [target, "compositionend", onCompositionEnd as EventListener],
    [target, "contextmenu", onContextMenu],
    [target, "blur", releaseAll],
    [window, "blur", releaseAll],
    [document, "visibilitychange", onVisibility],
  ];
  for (const [t, type, fn, o] of listeners) t.addEventListener(type, fn, o);
  return () => {
    releaseAll();
    for (const [t, type, fn] of listeners) t.removeEventListener(type, fn);
  };
}
