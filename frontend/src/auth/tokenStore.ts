// Where the refresh token lives between page loads. The access token never leaves memory; the
// refresh token is kept in localStorage so a reload keeps you signed in. Tabs share it: every
// refresh reads the newest value inside a cross-tab lock (see session.ts), because the server
// rotates refresh tokens and treats a replayed one as theft.

const KEY = "wp.refresh";

export interface TokenStore {
  read(): string | null;
  write(token: string | null): void;
}

export const localTokenStore: TokenStore = {
  read: () => {
    try {
      return window.localStorage.getItem(KEY);
    } catch {
      return null;
    }
  },
  write: (token) => {
    try {
      if (token === null) window.localStorage.removeItem(KEY);
      else window.localStorage.setItem(KEY, token);
    } catch {
      // storage disabled: the session lasts as long as the page
    }
  },
};

export function memoryTokenStore(initial: string | null = null): TokenStore {
  let value = initial;
  return { read: () => value, write: (t) => void (value = t) };
}
