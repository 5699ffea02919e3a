import { useSyncExternalStore } from "react";
import { session, type AuthSnapshot } from "../auth/session";

/** The signed-in state, re-rendering on sign-in, sign-out and profile changes. */
export function useAuth(): AuthSnapshot {
  return useSyncExternalStore(session.subscribe, session.snapshot);
}
