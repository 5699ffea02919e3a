import { useEffect, useState } from "react";

const COARSE = "(pointer: coarse)";

/** Whether this is a touch device: its main pointer is coarse, or a finger touched the page
 * (a tablet with a mouse attached says "fine" until then). */
export function useTouchDevice(): boolean {
  const [touch, setTouch] = useState(() => window.matchMedia(COARSE).matches);
  useEffect(() => {
    if (touch) return;
    const mq = window.matchMedia(COARSE);
    const onChange = () => mq.matches && setTouch(true);
    const onPointer = (e: PointerEvent) => e.pointerType === "touch" && setTouch(true);
    mq.addEventListener("change", onChange);
    window.addEventListener("pointerdown", onPointer, { capture: true, passive: true });
    return () => {
      mq.removeEventListener("change", onChange);
      window.removeEventListener("pointerdown", onPointer, { capture: true });
    };
  }, [touch]);
  return touch;
}
