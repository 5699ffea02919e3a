// Where the stream's picture sits inside the <video> element (object-fit: contain letterboxes
// it), and a pointer position as fractions of the picture. Pure.

export interface Box {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The picture's box, relative to the element, for an element of `elW`×`elH` showing `vw`×`vh`. */
export function contentBox(elW: number, elH: number, vw: number, vh: number): Box {
  if (vw <= 0 || vh <= 0 || elW <= 0 || elH <= 0) return { left: 0, top: 0, width: elW, height: elH };
  const scale = Math.min(elW / vw, elH / vh);
  const width = vw * scale;
  const height = vh * scale;
  return { left: (elW - width) / 2, top: (elH - height) / 2, width, height };
}

/**
 * The point (`x`, `y` relative to the element) as fractions 0..1 of the picture, or null on the
 * letterbox bars. `clamp` pins points outside to the nearest edge instead (for drags that leave
 * the picture while a button is held).
 */
export function toStreamFraction(
  x: number,
  y: number,
  box: Box,
  clamp = false,
): { x: number; y: number } | null {
  if (box.width <= 0 || box.height <= 0) return null;
  let fx = (x - box.left) / box.width;
  let fy = (y - box.top) / box.height;
  if (fx < 0 || fx > 1 || fy < 0 || fy > 1) {
    if (!clamp) return null;
    fx = Math.min(1, Math.max(0, fx));
    fy = Math.min(1, Math.max(0, fy));
  }
  return { x: fx, y: fy };
}

/** The other way: a stream fraction as a position inside the element (for drawing the cursor). */
export function fromStreamFraction(fx: number, fy: number, box: Box): { x: number; y: number } {
  return { x: box.left + fx * box.width, y: box.top + fy * box.height };
}
