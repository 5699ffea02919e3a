import { Loader2 } from "lucide-react";
import { Navigate, Outlet, useLocation } from "react-router-dom";
import { useAuth } from "../hooks/useAuth";

/** Signed-out visitors of a protected route go to /login and come back after it (`next`). */
export function RequireAuth() {
  const { status } = useAuth();
  const location = useLocation();
  if (status === "unknown") {
    return (
      <div className="flex h-full items-center justify-center gap-2 text-zinc-400" role="status">
        <Loader2 className="size-5 animate-spin" aria-hidden /> Signing you in…
      </div>
    );
  }
  if (status === "signed-out") {
    const next = location.pathname + location.search + location.hash;
    return <Navigate to={`/login?next=${encodeURIComponent(next)}`} replace />;
  }
  return <Outlet />;
}

