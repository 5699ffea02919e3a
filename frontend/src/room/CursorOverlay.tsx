import { useEffect, useRef } from "react";
import { contentBox, fromStreamFraction } from "../realtime/coords";
import type { RoomClient } from "../realtime/roomClient";
import type { CursorShape } from "../realtime/streamPeer";

/**
 * The holder's cursor, drawn for everyone else from the agent's cursor messages (shape and
 * position). Drawn straight onto a canvas, outside React's render cycle: it moves at 60 Hz.
 */
export function CursorOverlay({ client, video, visible }: { client: RoomClient | null; video: HTMLVideoElement | null; visible: boolean }) {
  const canvas = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const el = canvas.current;
    if (!client || !video || !visible) return;
    let shape: { img: HTMLCanvasElement; hotX: number; hotY: number } | null = null;
    let pos: { x: number; y: number } | null = null;
    let frame = 0;
    const draw = () => {
      frame = 0;
      const c = canvas.current;
      if (!c) return;
      const r = video.getBoundingClientRect();
      const dpr = window.devicePixelRatio || 1;
      if (c.width !== Math.round(r.width * dpr) || c.height !== Math.round(r.height * dpr)) {
        c.width = Math.round(r.width * dpr);
        c.height = Math.round(r.height * dpr);
      }
      const g = c.getContext("2d");
      if (!g) return;
      g.setTransform(dpr, 0, 0, dpr, 0, 0);
      g.clearRect(0, 0, r.width, r.height);
      if (!pos || !video.videoWidth) return;
      const box = contentBox(r.width, r.height, video.videoWidth, video.videoHeight);
      const at = fromStreamFraction(pos.x, pos.y, box);
      const scale = box.width / video.videoWidth;
      if (shape) {
        g.drawImage(shape.img, at.x - shape.hotX * scale, at.y - shape.hotY * scale, shape.img.width * scale, shape.img.height * scale);
      } else {
        g.fillStyle = "rgba(167,139,250,0.9)";
        g.beginPath();
        g.arc(at.x, at.y, 4, 0, Math.PI * 2);
        g.fill();
      }
    };
    const schedule = () => {
      if (frame === 0) frame = requestAnimationFrame(draw);
    };
    client.setCursorListener({
      position: (x, y) => {
        pos = { x, y };
        schedule();
      },
      shape: (s: CursorShape) => {
        const img = document.createElement("canvas");
        img.width = s.width;
        img.height = s.height;
        img.getContext("2d")?.putImageData(new ImageData(new Uint8ClampedArray(s.rgba), s.width, s.height), 0, 0);
        shape = { img, hotX: s.hotX, hotY: s.hotY };
        schedule();
      },
    });
    window.addEventListener("resize", schedule);
    return () => {
      client.setCursorListener(null);
      window.removeEventListener("resize", schedule);
      if (frame !== 0) cancelAnimationFrame(frame);
      el?.getContext("2d")?.clearRect(0, 0, el.width, el.height);
    };
  }, [client, video, visible]);
  return <canvas ref={canvas} className="pointer-events-none absolute inset-0 h-full w-full" aria-hidden hidden={!visible} />;
}
