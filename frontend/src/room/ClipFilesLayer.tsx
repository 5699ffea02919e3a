import { ClipboardCheck, Copy, Download, FileUp, Loader2, X } from "lucide-react";
import { useRef } from "react";
import { Button } from "../components/ui/button";
import { useClipFiles } from "../hooks/useClipFiles";
import { sizeWords } from "../realtime/clipFiles";
import type { RoomClient } from "../realtime/roomClient";

/**
 * Over the stream, for the holder: the room page's file chooser ("File for the room's page"),
 * what they copied in the room ("Copied from the room", with a Copy button when this browser
 * would not take it by itself), a refused download, and why a paste or a file was refused.
 */
export function ClipFilesLayer({ client }: { client: RoomClient | null }) {
  const view = useClipFiles(client);
  if (!client) return null;
  const { copied, chooser, upload, download, error } = view;
  if (!copied && !chooser && !upload && !download && !error) return null;
  return (
    <div className="pointer-events-none absolute inset-x-0 top-2 z-20 flex flex-col items-center gap-2 px-2">
      {chooser || upload ? <FilePrompt client={client} /> : null}
      {copied ? (
        <section role="status" aria-label="Copied from the room" className="pointer-events-auto w-[min(30rem,94%)] rounded-lg border border-zinc-700 bg-zinc-900/95 p-3 text-sm text-zinc-100 shadow-xl">
          <div className="flex items-center gap-2">
            <ClipboardCheck className="size-4 shrink-0 text-emerald-400" aria-hidden />
            <span className="font-medium">Copied from the room</span>
            <span className="ml-auto text-xs text-zinc-400">
              {copied.text ? (copied.onClipboard ? "On your clipboard" : copied.onClipboard === false ? "Your browser kept it off the clipboard" : "") : ""}
            </span>
            <Button variant="ghost" size="iconSm" aria-label="Dismiss" onClick={() => client.clipFiles.dismissCopied()}>
              <X aria-hidden />
            </Button>
          </div>
          {copied.text ? (
            <>
              <pre className="mt-2 max-h-24 overflow-auto whitespace-pre-wrap break-words rounded bg-zinc-950 p-2 font-mono text-xs text-zinc-200" aria-label="Copied text">
                {copied.text}
              </pre>
              <div className="mt-2 flex justify-end">
                <Button size="sm" variant={copied.onClipboard ? "secondary" : "default"} onClick={() => void client.clipFiles.copyAgain()}>
                  <Copy aria-hidden /> Copy
                </Button>
              </div>
            </>
          ) : (
            <p className="mt-1 text-zinc-300">
              {`You copied ${sizeWords(copied.size)}: too much to bring back (at most ${sizeWords(copied.maxBytes)}).`}
            </p>
          )}
        </section>
      ) : null}
      {download ? (
        <section role="alert" className="pointer-events-auto flex w-[min(30rem,94%)] items-center gap-2 rounded-lg border border-amber-500/40 bg-zinc-900/95 p-3 text-sm text-amber-100 shadow-xl">
          <Download className="size-4 shrink-0" aria-hidden />
          <span className="min-w-0 flex-1">{`The room's page tried to download ${download.filename ? `“${download.filename}”` : "a file"}: downloads are off in rooms.`}</span>
          <Button variant="ghost" size="iconSm" aria-label="Dismiss" onClick={() => client.clipFiles.dismissDownload()}>
            <X aria-hidden />
          </Button>
        </section>
      ) : null}
      {error && !chooser && !upload ? (
        <section role="alert" className="pointer-events-auto flex w-[min(30rem,94%)] items-center gap-2 rounded-lg border border-red-500/40 bg-zinc-900/95 p-3 text-sm text-red-100 shadow-xl">
          <span className="min-w-0 flex-1">{error}</span>
          <Button variant="ghost" size="iconSm" aria-label="Dismiss" onClick={() => client.clipFiles.dismissError()}>
            <X aria-hidden />
          </Button>
        </section>
      ) : null}
    </div>
  );
}

function FilePrompt({ client }: { client: RoomClient }) {
  const { chooser, upload, error } = useClipFiles(client);
  const input = useRef<HTMLInputElement>(null);
  const sending = upload?.state === "sending";
  const pct = upload && upload.total > 0 ? Math.round((100 * upload.received) / upload.total) : 0;
  return (
    <section role="dialog" aria-labelledby="file-prompt-title" className="pointer-events-auto w-[min(30rem,94%)] rounded-lg border border-violet-500/50 bg-zinc-900/95 p-4 text-sm text-zinc-100 shadow-xl">
      <div className="flex items-center gap-2">
        <FileUp className="size-5 shrink-0 text-violet-300" aria-hidden />
        <h2 id="file-prompt-title" className="font-semibold">
          File for the room's page
        </h2>
      </div>
      {chooser ? (
        <p className="mt-1 text-zinc-300">
          {`The page asks for ${chooser.multiple ? "files" : "a file"}${chooser.accept ? ` (${chooser.accept})` : ""}: choose ${chooser.multiple ? "them" : "one"} from this computer, at most ${sizeWords(chooser.max_bytes)}.`}
        </p>
      ) : null}
      <input
        ref={input}
        type="file"
        className="sr-only"
        aria-label="File for the room's page"
        accept={chooser?.accept || undefined}
        multiple={chooser?.multiple ?? false}
        onChange={(e) => {
          const files = Array.from(e.currentTarget.files ?? []);
          e.currentTarget.value = "";
          void client.clipFiles.sendFiles(files);
        }}
      />
      {upload ? (
        <div className="mt-3" aria-live="polite">
          <div className="flex justify-between text-xs text-zinc-400">
            <span className="truncate">{upload.names.join(", ")}</span>
            <span>{upload.state === "sending" ? `${pct} %` : upload.state === "done" ? "Handed to the page" : upload.detail}</span>
          </div>
          <div className="mt-1 h-1.5 overflow-hidden rounded bg-zinc-800" role="progressbar" aria-label="Sending the file" aria-valuemin={0} aria-valuemax={100} aria-valuenow={pct}>
            <div className={`h-full ${upload.state === "failed" ? "bg-red-500" : "bg-violet-500"}`} style={{ width: `${pct}%` }} />
          </div>
        </div>
      ) : null}
      {error ? (
        <p role="alert" className="mt-2 text-xs text-red-300">
          {error}
        </p>
      ) : null}
      <div className="mt-3 flex justify-end gap-2">
        {chooser ? (
          <>
            <Button variant="ghost" onClick={() => client.clipFiles.cancelChooser()}>
              Cancel
            </Button>
            <Button disabled={sending} onClick={() => input.current?.click()}>
              {sending ? <Loader2 className="animate-spin" aria-hidden /> : <FileUp aria-hidden />} {chooser.multiple ? "Choose files" : "Choose file"}
            </Button>
          </>
        ) : (
          <Button variant="ghost" onClick={() => client.clipFiles.clear()}>
            Close
          </Button>
        )}
      </div>
    </section>
  );
}
