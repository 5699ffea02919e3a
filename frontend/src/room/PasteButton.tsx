import { ClipboardPaste } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "../components/ui/button";
import type { RoomClient } from "../realtime/roomClient";

/**
 * "Paste": the holder's clipboard into the room page's focused field. Reads the clipboard where
 * the browser allows it (the click is the user gesture it asks for); where it refuses (Firefox,
 * Safari, a denied permission) a small dialog takes the text instead: paste it there with
 * Ctrl+V (Cmd+V) and send it.
 */
export function PasteButton({ client, isHolder }: { client: RoomClient | null; isHolder: boolean }) {
  const [open, setOpen] = useState(false);
  const [text, setText] = useState("");
  const dialog = useRef<HTMLDialogElement>(null);

  // Only while this viewer holds the remote (it may go while the box is open).
  const shown = open && isHolder;
  useEffect(() => {
    const d = dialog.current;
    if (!d) return;
    if (shown && !d.open) d.showModal();
    if (!shown && d.open) d.close();
  }, [shown]);

  const paste = async () => {
    if (!client) return;
    try {
      const clip = await navigator.clipboard.readText();
      if (clip) {
        client.clipFiles.paste(clip);
        return;
      }
    } catch {
      // refused: ask for the text instead
    }
    setText("");
    setOpen(true);
  };

  const send = () => {
    if (client && text && client.clipFiles.paste(text)) setOpen(false);
  };

  return (
    <>
      <Button variant="ghost" size="sm" disabled={!isHolder || !client} onClick={() => void paste()} title="Paste your clipboard into the room's page (Ctrl+V in the stream)">
        <ClipboardPaste aria-hidden /> Paste
      </Button>
      <dialog
        ref={dialog}
        aria-labelledby="paste-title"
        onCancel={(e) => {
          e.preventDefault();
          setOpen(false);
        }}
        className="m-auto w-[min(28rem,92vw)] rounded-xl border border-zinc-700 bg-zinc-900 p-5 text-zinc-100 backdrop:bg-black/60"
      >
        <h2 id="paste-title" className="text-lg font-semibold">
          Paste into the room
        </h2>
        <p className="mt-1 text-sm text-zinc-400">This browser keeps its clipboard to itself: paste here (Ctrl+V or ⌘V), then send it to the room's page.</p>
        <textarea
          aria-label="Text to paste"
          className="mt-3 h-28 w-full rounded-md border border-zinc-700 bg-zinc-950 p-2 font-mono text-sm text-zinc-100 outline-none focus-visible:ring-2 focus-visible:ring-violet-500"
          value={text}
          onChange={(e) => setText(e.target.value)}
          autoFocus
        />
        <div className="mt-4 flex justify-end gap-2">
          <Button variant="ghost" onClick={() => setOpen(false)}>
            Cancel
          </Button>
          <Button disabled={!text} onClick={send}>
            Paste into the room
          </Button>
        </div>
      </dialog>
    </>
  );
}
