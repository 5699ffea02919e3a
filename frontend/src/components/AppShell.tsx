import { LayoutDashboard, LogOut, MonitorPlay, ShieldCheck } from "lucide-react";
import { Link, NavLink, Outlet, useLocation, useNavigate } from "react-router-dom";
import { useAuth } from "../hooks/useAuth";
import { cn } from "../lib/cn";
import { useLogout } from "../queries/account";
import { Button, buttonVariants } from "./ui/button";

const navLink = ({ isActive }: { isActive: boolean }) =>
  cn(buttonVariants({ variant: "ghost", size: "sm" }), isActive && "bg-zinc-800 text-zinc-50");

/** The frame of every page but the room: brand, account links, the page. */
export function AppShell() {
  const { status, user } = useAuth();
  const navigate = useNavigate();
  const logout = useLogout({ onSuccess: () => navigate("/") });
  // These pages carry their own "Log in" / "Sign up" links: one of each per page, not two.
  const ownAuthLinks = ["/", "/login", "/register", "/forgot-password", "/reset-password"].includes(useLocation().pathname);
  return (
    <div className="flex min-h-full flex-col">
      <header className="border-b border-zinc-800/80 bg-zinc-950/80 backdrop-blur">
        <div className="mx-auto flex h-14 max-w-6xl items-center gap-3 px-4">
          <Link to={status === "signed-in" ? "/dashboard" : "/"} className="flex items-center gap-2 whitespace-nowrap font-semibold text-zinc-50">
            <MonitorPlay className="size-5 text-violet-400" aria-hidden />
            Watch Party
          </Link>
          <nav className="ml-auto flex items-center gap-1" aria-label="Account">
            {status === "signed-in" ? (
              <>
                <NavLink to="/dashboard" className={navLink} aria-label="Dashboard">
                  <LayoutDashboard aria-hidden /> <span className="hidden sm:inline">Dashboard</span>
                </NavLink>
                <NavLink to="/sessions" className={navLink} aria-label="Sessions">
                  <ShieldCheck aria-hidden /> <span className="hidden sm:inline">Sessions</span>
                </NavLink>
                <span className="mx-2 hidden text-sm text-zinc-400 sm:inline">{user?.username}</span>
                <Button
                  variant="outline"
                  size="sm"
                  aria-label="Log out"
                  onClick={() => logout.mutate()}
                >
                  <LogOut aria-hidden /> <span className="hidden sm:inline">Log out</span>
                </Button>
              </>
            ) : status === "signed-out" && !ownAuthLinks ? (
              <>
                <Link to="/login" className={buttonVariants({ variant: "ghost", size: "sm" })}>
                  Log in
                </Link>
                <Link to="/register" className={buttonVariants({ size: "sm" })}>
                  Sign up
                </Link>
              </>
            ) : null}
          </nav>
        </div>
      </header>
      <main className="flex-1">
        <Outlet />
      </main>
    </div>
  );
}
