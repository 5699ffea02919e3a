import { Keyboard } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "../components/ui/button";
import { cn } from "../lib/cn";
import type { RoomClient } from "../realtime/roomClient";
import { fromBeforeInput, fromComposition, fromKeyDown, keyboardFallback, keyboardMessages, type KeyboardAction } from "../realtime/softKeyboard";

/** The holder's on-screen keyboard (phones, tablets): "Keyboard" focuses a hidden field, so the
 * device shows its keyboard, and what is typed there goes to the room's browser
 * (realtime/softKeyboard.ts); nothing typed stays in the field. */
export function SoftKeyboard({ client }: { client: RoomClient | null }) {
  const field = useRef<HTMLInputElement>(null);
  const [open, setOpen] = useState(false);

  // Native listeners: React's `onBeforeInput` is not the DOM's `beforeinput` (no inputType).
  useEffect(() => {
    const el = field.current;
    if (!el) return;
    let composing = false;
    const send = (actions: KeyboardAction[]) => {
      const peer = client?.streamPeer;
      for (const action of actions) {
        if (peer?.channelsOpen) for (const msg of keyboardMessages(action)) peer.sendInput(msg);
        else for (const press of keyboardFallback(action)) client?.send("browser.keypress", press);
      }
    };
    const onKeyDown = (e: KeyboardEvent) => {
      const action = fromKeyDown(e.key, composing || e.isComposing);
      if (!action) return;
      e.preventDefault();
      send([action]);
    };
    const onBeforeInput = (e: InputEvent) => {
      const busy = composing || e.isComposing || e.inputType.startsWith("insertComposition");
      if (busy) return; // the keyboard's word is typed at compositionend
      e.preventDefault();
      send(fromBeforeInput(e.inputType, e.data, false));
    };
    const onStart = () => void (composing = true);
    const onEnd = (e: CompositionEvent) => {
      composing = false;
      send(fromComposition(e.data));
      setTimeout(() => void (el.value = ""), 0);
    };
    const listeners: [string, EventListener][] = [
      ["keydown", onKeyDown as EventListener],
      ["beforeinput", onBeforeInput as EventListener],
      ["compositionstart", onStart],
      ["compositionend", onEnd as EventListener],
    ];
    for (const [type, fn] of listeners) el.addEventListener(type, fn);
    return () => {
      for (const [type, fn] of listeners) el.removeEventListener(type, fn);
    };
  }, [client]);

  return (
    <>
      <Button
        size="sm"
        variant="secondary"
        aria-pressed={open}
        title="Type into the shared browser with this device's keyboard"
        className={cn(open && "bg-violet-600/40 text-violet-50")}
        // Focus moves to the field in the tap's own handler: only then do phones open the keyboard.
        onPointerDown={(e) => open && e.preventDefault()}
        onClick={() => (open ? field.current?.blur() : field.current?.focus())}
      >
        <Keyboard aria-hidden /> Keyboard
      </Button>
      <input
        ref={field}
        aria-label="Type into the shared browser"
        // 16 px text: phones zoom into a smaller field when it takes the focus.
        className="pointer-events-none fixed bottom-0 left-0 size-px text-base opacity-0"
        autoCapitalize="off"
        autoComplete="off"
        autoCorrect="off"
        spellCheck={false}
        enterKeyHint="enter"
        onFocus={() => setOpen(true)}
        onBlur={() => setOpen(false)}
      />
    </>
  );
}
