// The voice chat's controls in the people panel: join and leave, mute, deafen, push-to-talk and
// the microphone. Voice itself is the RoomClient's (realtime/voiceMesh.ts); this keeps only what
// the buttons show.
import { Headphones, HeadphoneOff, Mic, MicOff, PhoneOff, Phone } from "lucide-react";
import { useEffect, useState } from "react";
import { errorText } from "../api/errors";
import { Button } from "../components/ui/button";
import type { RoomClient } from "../realtime/roomClient";

/** Voice is a full mesh: past this many talkers each browser uploads too many copies. */
export const MESH_LIMIT = 6;

export function VoiceControls({ client, speaking, inVoice }: { client: RoomClient | null; speaking: boolean; inVoice: number }) {
  const [joinedVoice, setJoined] = useState(false);
  const joined = joinedVoice && client?.voice != null;
  const [busy, setBusy] = useState(false);
  const [muted, setMuted] = useState(false);
  const [deafened, setDeafened] = useState(false);
  const [ptt, setPtt] = useState(false);
  const [devices, setDevices] = useState<MediaDeviceInfo[]>([]);
  const [device, setDevice] = useState("");
  const [error, setError] = useState<string | null>(null);

  // Push-to-talk: hold the space bar (outside text fields and the stream) to talk.
  useEffect(() => {
    if (!joined || !ptt || !client?.voice) return;
    const isField = (t: EventTarget | null) => t instanceof HTMLElement && (t.closest("input, textarea, [contenteditable], [aria-label='Drive the browser']") !== null);
    const down = (e: KeyboardEvent) => {
      if (e.code === "Space" && !e.repeat && !isField(e.target)) {
        e.preventDefault();
        client.voice?.talk(true);
      }
    };
    const up = (e: KeyboardEvent) => {
      if (e.code === "Space") client.voice?.talk(false);
    };
    window.addEventListener("keydown", down);
    window.addEventListener("keyup", up);
    return () => {
      window.removeEventListener("keydown", down);
      window.removeEventListener("keyup", up);
    };
  }, [joined, ptt, client]);

  const join = async () => {
    if (!client) return;
    setBusy(true);
    setError(null);
    try {
      await client.joinVoice(device || undefined);
      setJoined(true);
      setMuted(false);
      setDeafened(false);
      const all = await navigator.mediaDevices.enumerateDevices();
      setDevices(all.filter((d) => d.kind === "audioinput"));
    } catch (err) {
      setError(err instanceof DOMException && err.name === "NotAllowedError" ? "Microphone access was refused. Allow it in the browser's site settings." : errorText(err));
    } finally {
      setBusy(false);
    }
  };

  const leave = () => {
    client?.leaveVoice();
    setJoined(false);
    setPtt(false);
  };

  const toggleMute = () => {
    client?.voice?.setMuted(!muted);
    setMuted(!muted);
    client?.sendVoiceState(false);
  };

  const toggleDeafen = () => {
    client?.voice?.setDeafened(!deafened);
    setDeafened(!deafened);
    client?.sendVoiceState(false);
  };

  return (
    <div className="space-y-1.5 px-3 pb-2">
      <div className="flex flex-wrap items-center gap-1.5">
        {!joined ? (
          <Button size="sm" variant="success" onClick={() => void join()} disabled={busy || !client}>
            <Phone aria-hidden /> Join voice
          </Button>
        ) : (
          <>
            <Button size="sm" variant={muted ? "destructive" : "secondary"} onClick={toggleMute} aria-pressed={muted}>
              {muted ? <MicOff aria-hidden /> : <Mic aria-hidden />}
              {muted ? "Unmute" : "Mute"}
            </Button>
            <Button size="sm" variant={deafened ? "destructive" : "secondary"} onClick={toggleDeafen} aria-pressed={deafened}>
              {deafened ? <HeadphoneOff aria-hidden /> : <Headphones aria-hidden />}
              {deafened ? "Undeafen" : "Deafen"}
            </Button>
            <Button size="sm" variant="ghost" onClick={leave}>
              <PhoneOff aria-hidden /> Leave voice
            </Button>
            {speaking ? <span className="text-xs text-emerald-300">● live</span> : null}
          </>
        )}
      </div>
      {joined ? (
        <div className="flex flex-wrap items-center gap-3 text-xs text-zinc-400">
          <label className="flex items-center gap-1.5">
            <input
              type="checkbox"
              checked={ptt}
              className="accent-violet-500"
              onChange={(e) => {
                setPtt(e.target.checked);
                client?.voice?.setPushToTalk(e.target.checked);
              }}
            />
            Push to talk (hold Space)
          </label>
          {devices.length > 1 ? (
            <label className="flex items-center gap-1.5">
              Microphone
              <select
                className="max-w-40 rounded border border-zinc-700 bg-zinc-900 px-1 py-0.5 text-zinc-200"
                value={device}
                onChange={(e) => {
                  setDevice(e.target.value);
                  void client?.voice?.setDevice(e.target.value).catch((err: unknown) => setError(errorText(err)));
                }}
              >
                {devices.map((d, i) => (
                  <option key={d.deviceId || i} value={d.deviceId}>
                    {d.label || `Microphone ${i + 1}`}
                  </option>
                ))}
              </select>
            </label>
          ) : null}
        </div>
      ) : null}
      {inVoice > MESH_LIMIT ? (
        <p className="text-xs text-amber-300" role="status">
          {inVoice} people are in voice. Voice connects everyone to everyone, so past {MESH_LIMIT} talkers sound may break up on slow connections.
        </p>
      ) : null}
      {error ? (
        <p role="alert" className="text-xs text-red-400">
          {error}
        </p>
      ) : null}
    </div>
  );
}
