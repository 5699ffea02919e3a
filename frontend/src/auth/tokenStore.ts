// What the page keeps between loads: no token at all. The refresh token is an HttpOnly cookie the
// server sets on its refresh and logout paths (scripts, an injected one included, cannot read
// it); the access token lives in memory only (session.ts). This store keeps a hint that this
// browser signed in, so that a visitor who never did makes no refresh request on every page
// load, and hands over (once, then forgets) the refresh token older versions of the app kept in
// localStorage, for the server to move into the cookie.

const HINT = "wp.session";
const LEGACY = "wp.refresh";

export interface TokenStore {
  /** Whether this browser may hold a session cookie (a hint: the server decides). */
  signedIn(): boolean;
  setSignedIn(value: boolean): void;
  /** The refresh token an older version left in localStorage; removed as it is read. */
  takeLegacyToken(): string | null;
}

/** A Storage-backed store (localStorage in the app; any Storage in tests). */
export function storageTokenStore(storage: () => Storage): TokenStore {
  return {
    signedIn: () => {
      try {
        return storage().getItem(HINT) === "1";
      } catch {
        return true; // storage disabled: ask the server (one refresh per page load)
      }
    },
    setSignedIn: (value) => {
      try {
        if (value) storage().setItem(HINT, "1");
        else storage().removeItem(HINT);
      } catch {
        // storage disabled: the hint is only an optimisation
      }
    },
    takeLegacyToken: () => {
      try {
        const token = storage().getItem(LEGACY);
        if (token !== null) storage().removeItem(LEGACY);
        return token;
      } catch {
        return null;
      }
    },
  };
}

export const localTokenStore: TokenStore = storageTokenStore(() => window.localStorage);

export function memoryTokenStore(signedIn = false, legacy: string | null = null): TokenStore {
  let hint = signedIn;
  let old = legacy;
  return {
    signedIn: () => hint,
    setSignedIn: (value) => void (hint = value),
    takeLegacyToken: () => {
      const token = old;
      old = null;
      return token;
    },
  };
}
