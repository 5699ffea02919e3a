import { Compass } from "lucide-react";
import { Link, useLocation } from "react-router-dom";
import { buttonVariants } from "../components/ui/button";
import { useAuth } from "../hooks/useAuth";

export function NotFoundPage() {
  const { pathname } = useLocation();
  const { status } = useAuth();
  const home = status === "signed-in" ? { to: "/dashboard", label: "Go to your dashboard" } : { to: "/", label: "Go to the home page" };
  return (
    <div className="flex flex-col items-center px-4 py-24 text-center">
      <div className="mb-5 flex size-14 items-center justify-center rounded-full bg-violet-500/15 text-violet-300">
        <Compass className="size-7" aria-hidden />
      </div>
      <p className="text-sm font-semibold tracking-widest text-violet-400">404</p>
      <h1 className="mt-2 text-3xl font-bold tracking-tight text-zinc-50">This page does not exist</h1>
      <p className="mt-3 max-w-md text-zinc-400">
        Nothing lives at <code className="rounded bg-zinc-800 px-1.5 py-0.5 text-sm break-all text-zinc-200">{pathname}</code>. The link may be
        mistyped or out of date.
      </p>
      <Link to={home.to} className={buttonVariants({ className: "mt-8" })}>
        {home.label}
      </Link>
    </div>
  );
}
