import { Check, Settings2 } from "lucide-react";
import { useEffect, useRef, useState } from "react";
import { Button } from "../components/ui/button";
import { QUALITY_CHOICES, type QualityCap } from "../realtime/quality";

interface Props {
  cap: QualityCap;
  onChoose: (cap: QualityCap) => void;
}

/** The stream's quality menu (menu button + radio items): caps only this viewer's picture. */
export function QualityMenu({ cap, onChoose }: Props) {
  const [open, setOpen] = useState(false);
  const root = useRef<HTMLDivElement>(null);
  const items = useRef<(HTMLButtonElement | null)[]>([]);
  const current = QUALITY_CHOICES.find((c) => c.maxHeight === cap) ?? QUALITY_CHOICES[0];

  useEffect(() => {
    if (!open) return;
    const selected = QUALITY_CHOICES.findIndex((c) => c.maxHeight === cap);
    items.current[Math.max(0, selected)]?.focus();
    const outside = (e: PointerEvent) => {
      if (root.current && !root.current.contains(e.target as Node)) setOpen(false);
    };
    document.addEventListener("pointerdown", outside);
    return () => document.removeEventListener("pointerdown", outside);
  }, [open, cap]);

  const onMenuKey = (e: React.KeyboardEvent) => {
    const i = items.current.findIndex((el) => el === document.activeElement);
    const n = QUALITY_CHOICES.length;
    if (e.key === "Escape") {
      setOpen(false);
      root.current?.querySelector<HTMLButtonElement>("[aria-haspopup]")?.focus();
    } else if (e.key === "Tab") {
      setOpen(false);
    } else if (e.key === "ArrowDown" || e.key === "ArrowUp") {
      e.preventDefault();
      items.current[(i + (e.key === "ArrowDown" ? 1 : n - 1)) % n]?.focus();
    }
  };

  return (
    <div ref={root} className="relative">
      <Button variant="ghost" size="sm" aria-label="Quality" aria-haspopup="menu" aria-expanded={open} onClick={() => setOpen(!open)}>
        <Settings2 aria-hidden /> {current.label}
      </Button>
      {open ? (
        <div role="menu" aria-label="Quality" onKeyDown={onMenuKey} className="absolute bottom-9 right-0 z-20 w-40 rounded-md border border-zinc-700 bg-zinc-900 p-1 shadow-xl">
          {QUALITY_CHOICES.map((c, i) => (
            <button
              key={c.maxHeight}
              ref={(el) => {
                items.current[i] = el;
              }}
              type="button"
              role="menuitemradio"
              aria-checked={c.maxHeight === cap}
              className="flex w-full items-center justify-between rounded px-2 py-1.5 text-left text-sm text-zinc-200 hover:bg-zinc-800 focus:bg-zinc-800 focus:outline-none"
              onClick={() => {
                onChoose(c.maxHeight);
                setOpen(false);
              }}
            >
              {c.label}
              {c.maxHeight === cap ? <Check className="size-4 text-violet-300" aria-hidden /> : null}
            </button>
          ))}
        </div>
      ) : null}
    </div>
  );
}
