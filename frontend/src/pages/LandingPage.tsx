import { ArrowRight, Hand, LayoutDashboard, MessagesSquare, Mic, MonitorPlay, RefreshCw, Users } from "lucide-react";
import type { ReactNode } from "react";
import { Link } from "react-router-dom";
import { buttonVariants } from "../components/ui/button";
import { useAuth } from "../hooks/useAuth";

const FEATURES: { icon: ReactNode; title: string; text: string }[] = [
  {
    icon: <MonitorPlay aria-hidden />,
    title: "One shared browser",
    text: "A real browser runs on the server. Open any site in it: every viewer sees the same tab.",
  },
  {
    icon: <RefreshCw aria-hidden />,
    title: "In sync for everyone",
    text: "One stream, sent to all, with sound. Nobody is ahead, nobody waits for a countdown.",
  },
  {
    icon: <Hand aria-hidden />,
    title: "One remote",
    text: "Whoever holds the remote drives the mouse and keyboard. Ask for it, pass it on.",
  },
  {
    icon: <MessagesSquare aria-hidden />,
    title: "Text and voice chat",
    text: "Talk over the show with voice, or keep it quiet in the room's chat.",
  },
];

export function LandingPage() {
  const { status, user } = useAuth();
  const signedIn = status === "signed-in";
  return (
    <div className="relative overflow-hidden">
      <div
        aria-hidden
        className="pointer-events-none absolute inset-x-0 -top-40 h-[36rem] bg-[radial-gradient(ellipse_at_top,rgba(139,92,246,0.22),transparent_60%)]"
      />
      <section className="relative mx-auto grid max-w-6xl items-center gap-10 px-4 pt-12 pb-10 lg:grid-cols-[1.05fr_1fr] lg:pt-16">
        <div>
          <p className="mb-4 inline-flex items-center gap-2 rounded-full border border-violet-500/30 bg-violet-500/10 px-3 py-1 text-xs font-medium text-violet-200">
            <Users className="size-3.5" aria-hidden /> Self-hosted watch parties
          </p>
          <h1 className="text-4xl font-bold tracking-tight text-zinc-50 sm:text-5xl">
            Watch together, <span className="text-violet-400">in one shared browser.</span>
          </h1>
          <p className="mt-5 max-w-xl text-lg leading-relaxed text-zinc-300">
            Watch Party opens a browser on your server and streams it live to everyone in the room. One person holds the remote,
            everyone sees the same frame, and you talk over it by text or voice.
          </p>
          <div className="mt-8 flex flex-wrap items-center gap-3">
            {status === "unknown" ? (
              // Signing back in from a stored session: keep the space, do not flash the wrong buttons.
              <div className="h-11" aria-hidden />
            ) : signedIn ? (
              <>
                <Link to="/dashboard" className={buttonVariants({ size: "lg" })}>
                  <LayoutDashboard aria-hidden /> Go to your dashboard
                </Link>
                <span className="text-sm text-zinc-400">Signed in as {user?.username}</span>
              </>
            ) : (
              <>
                <Link to="/register" className={buttonVariants({ size: "lg" })}>
                  Sign up
                </Link>
                <Link to="/login" className={buttonVariants({ variant: "outline", size: "lg" })}>
                  Log in
                </Link>
                <span className="text-sm text-zinc-500">Free and open source. Create a room in seconds.</span>
              </>
            )}
          </div>
        </div>
        <RoomPreview />
      </section>

      <section aria-labelledby="features" className="relative mx-auto max-w-6xl px-4 pb-16">
        <h2 id="features" className="sr-only">
          What you get
        </h2>
        <ul className="grid gap-4 sm:grid-cols-2 lg:grid-cols-4">
          {FEATURES.map((f) => (
            <li key={f.title} className="rounded-xl border border-zinc-800 bg-zinc-900/60 p-5">
              <div className="mb-3 inline-flex size-9 items-center justify-center rounded-lg bg-violet-500/15 text-violet-300 [&_svg]:size-5">
                {f.icon}
              </div>
              <h3 className="font-semibold text-zinc-100">{f.title}</h3>
              <p className="mt-1.5 text-sm leading-relaxed text-zinc-400">{f.text}</p>
            </li>
          ))}
        </ul>
        <ol className="mt-10 flex flex-col items-start gap-3 text-sm text-zinc-400 sm:flex-row sm:items-center sm:justify-center sm:gap-4">
          <Step n={1}>Create a room</Step>
          <ArrowRight className="hidden size-4 text-zinc-600 sm:block" aria-hidden />
          <Step n={2}>Send the invite link</Step>
          <ArrowRight className="hidden size-4 text-zinc-600 sm:block" aria-hidden />
          <Step n={3}>Press play together</Step>
        </ol>
      </section>
    </div>
  );
}

function Step({ n, children }: { n: number; children: ReactNode }) {
  return (
    <li className="flex items-center gap-2">
      <span className="inline-flex size-6 items-center justify-center rounded-full bg-zinc-800 text-xs font-semibold text-zinc-200">{n}</span>
      {children}
    </li>
  );
}

/** A drawing of a room (decorative: hidden from assistive technology). */
function RoomPreview() {
  return (
    <div aria-hidden className="relative hidden select-none sm:block">
      <div className="absolute -inset-6 rounded-3xl bg-violet-600/10 blur-2xl" />
      <div className="relative overflow-hidden rounded-xl border border-zinc-700/80 bg-zinc-900 shadow-2xl shadow-black/50">
        <div className="flex items-center gap-2 border-b border-zinc-800 px-3 py-2">
          <span className="size-2.5 rounded-full bg-zinc-700" />
          <span className="size-2.5 rounded-full bg-zinc-700" />
          <span className="size-2.5 rounded-full bg-zinc-700" />
          <div className="ml-2 h-5 flex-1 rounded bg-zinc-800 px-2 text-[10px] leading-5 text-zinc-500">https://video.example/premiere</div>
        </div>
        <div className="grid grid-cols-[1fr_9.5rem]">
          <div className="relative aspect-video bg-gradient-to-br from-indigo-900 via-violet-900 to-fuchsia-900">
            <div className="absolute inset-0 bg-[radial-gradient(circle_at_30%_40%,rgba(255,255,255,0.18),transparent_45%)]" />
            <div className="absolute inset-0 flex items-center justify-center">
              <div className="flex size-14 items-center justify-center rounded-full bg-white/15 backdrop-blur">
                <div className="ml-1 size-0 border-y-[10px] border-l-[16px] border-y-transparent border-l-white" />
              </div>
            </div>
            <div className="absolute right-[30%] bottom-[28%] flex items-center gap-1">
              <svg viewBox="0 0 16 16" className="size-4 drop-shadow">
                <path d="M2 1l11 6-5 1.5L6 14z" fill="white" stroke="black" strokeWidth="0.8" />
              </svg>
              <span className="rounded bg-violet-600 px-1.5 py-0.5 text-[9px] font-medium text-white">maya</span>
            </div>
            <div className="absolute inset-x-3 bottom-2 h-1 rounded-full bg-white/20">
              <div className="h-1 w-2/5 rounded-full bg-violet-400" />
            </div>
          </div>
          <div className="flex flex-col gap-1.5 border-l border-zinc-800 p-2 text-[10px]">
            <Bubble who="maya" text="ok pressing play" />
            <Bubble who="tom" text="the intro!!" />
            <Bubble who="ana" text="sound is perfect" />
            <div className="mt-auto flex -space-x-1.5">
              {["bg-violet-500", "bg-emerald-500", "bg-amber-500", "bg-sky-500"].map((c) => (
                <span key={c} className={`size-5 rounded-full border-2 border-zinc-900 ${c}`} />
              ))}
            </div>
          </div>
        </div>
        <div className="flex items-center gap-2 border-t border-zinc-800 px-3 py-2 text-[10px] text-zinc-400">
          <span className="inline-flex items-center gap-1 rounded-full bg-violet-500/20 px-2 py-0.5 text-violet-200">
            <Hand className="size-3" /> maya is driving
          </span>
          <span className="inline-flex items-center gap-1 rounded-full bg-emerald-500/15 px-2 py-0.5 text-emerald-300">
            <Mic className="size-3" /> 3 in voice
          </span>
          <span className="ml-auto">4 watching</span>
        </div>
      </div>
    </div>
  );
}

function Bubble({ who, text }: { who: string; text: string }) {
  return (
    <div className="rounded-md bg-zinc-800/80 px-2 py-1">
      <span className="font-semibold text-violet-300">{who}</span> <span className="text-zinc-300">{text}</span>
    </div>
  );
}
