import { useEffect, useRef, useState } from "react";
import { usePointers } from "../hooks/useTogether";
import { contentBox, fromStreamFraction, toStreamFraction } from "../realtime/coords";
import type { RoomClient } from "../realtime/roomClient";
import { useRoomStore } from "../store/roomStore";

interface Props {
  client: RoomClient | null;
  video: HTMLVideoElement | null;
  /** Pointing is on ("Point" pressed or P held): moves over the picture point, they do not drive. */
  active: boolean;
}

/**
 * Members' pointers on the picture (a dot with the name, for a moment), and while pointing is on
 * a layer over the stream that turns moves into `pointer.show`. The layer stops its events with
 * native listeners: the input controller listens natively on the stream area below it, before
 * React's delegated handlers would run, and pointing must never move the room's mouse.
 */
export function PointerOverlay({ client, video, active }: Props) {
  const pointers = usePointers(client);
  const you = useRoomStore((s) => s.you?.user_id);
  const layer = useRef<HTMLDivElement>(null);
  const [size, setSize] = useState<{ w: number; h: number; vw: number; vh: number } | null>(null);

  // The picture's size, for placing dots (the video letterboxes it).
  useEffect(() => {
    if (!video) return;
    const measure = () => setSize({ w: video.clientWidth, h: video.clientHeight, vw: video.videoWidth, vh: video.videoHeight });
    // The observer reports the element's size once at once, then on every change; the video's
    // own "resize" is its picture's size changing.
    const ro = new ResizeObserver(measure);
    ro.observe(video);
    video.addEventListener("resize", measure);
    return () => {
      ro.disconnect();
      video.removeEventListener("resize", measure);
    };
  }, [video]);

  useEffect(() => {
    const el = layer.current;
    if (!active || !el || !video || !client) return;
    const point = (e: PointerEvent) => {
      e.stopPropagation();
      const r = video.getBoundingClientRect();
      const p = toStreamFraction(e.clientX - r.left, e.clientY - r.top, contentBox(r.width, r.height, video.videoWidth, video.videoHeight));
      if (p) client.pointAt(p.x, p.y);
    };
    const swallow = (e: Event) => {
      e.stopPropagation();
      e.preventDefault();
    };
    const onDown = (e: PointerEvent) => {
      swallow(e);
      point(e);
    };
    el.addEventListener("pointermove", point);
    el.addEventListener("pointerdown", onDown);
    for (const t of ["pointerup", "pointercancel", "wheel", "contextmenu"]) el.addEventListener(t, swallow);
    return () => {
      el.removeEventListener("pointermove", point);
      el.removeEventListener("pointerdown", onDown);
      for (const t of ["pointerup", "pointercancel", "wheel", "contextmenu"]) el.removeEventListener(t, swallow);
    };
  }, [active, video, client]);

  const box = size ? contentBox(size.w, size.h, size.vw, size.vh) : null;
  return (
    <>
      {active ? <div ref={layer} className="absolute inset-0 cursor-crosshair" title="Pointing: everyone sees where you point" /> : null}
      <div className="pointer-events-none absolute inset-0 overflow-hidden" aria-hidden>
        {box
          ? pointers.map((p) => {
              const at = fromStreamFraction(p.x, p.y, box);
              const mine = p.user_id === you;
              return (
                <div key={p.user_id} data-pointer={p.username} className="absolute transition-[left,top] duration-100 ease-linear" style={{ left: at.x, top: at.y }}>
                  <span className={`absolute -left-2 -top-2 size-4 rounded-full border-2 border-white shadow-[0_0_0_3px_rgba(0,0,0,0.35)] ${mine ? "bg-violet-500" : "bg-amber-400"} animate-pulse`} />
                  <span className="absolute left-3 top-2 whitespace-nowrap rounded bg-black/70 px-1.5 py-0.5 text-xs font-medium text-white">{p.username}</span>
                </div>
              );
            })
          : null}
      </div>
    </>
  );
}
