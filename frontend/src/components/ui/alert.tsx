import type { ReactNode } from "react";
import { cn } from "../../lib/cn";

/** A message box; `role="alert"` for errors so screen readers announce them. */
export function Alert({ tone = "error", children, className }: { tone?: "error" | "info" | "success"; children: ReactNode; className?: string }) {
  const styles = {
    error: "border-red-500/40 bg-red-500/10 text-red-200",
    info: "border-sky-500/40 bg-sky-500/10 text-sky-100",
    success: "border-emerald-500/40 bg-emerald-500/10 text-emerald-100",
  }[tone];
  return (
    <div role={tone === "error" ? "alert" : "status"} className={cn("rounded-md border px-3 py-2 text-sm", styles, className)}>
      {children}
    </div>
  );
}
