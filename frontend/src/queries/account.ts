// The account over REST: sign up, log in and out, the password reset, and the signed-in devices.
// Log in and out go through the AuthSession (it keeps the tokens); the rest through its
// authenticated client. Factories over (session, QueryClient) for tests; hooks for the pages.
import { queryOptions, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { unwrap, type BrowserProfileInfo, type SessionInfo, type User } from "../api/http";
import { session, type AuthSession } from "../auth/session";
import { chain, type Callbacks } from "./callbacks";
import { keys } from "./keys";

export interface RegisterBody {
  email: string;
  username: string;
  password: string;
}

export interface Credentials {
  username: string;
  password: string;
}

export interface ResetBody {
  token: string;
  password: string;
}

export function registerMutation(s: AuthSession, cb: Callbacks<User, RegisterBody> = {}) {
  return { mutationFn: (body: RegisterBody) => unwrap(s.api.POST("/api/auth/register", { body })), ...cb };
}

export function loginMutation(s: AuthSession, cb: Callbacks<User, Credentials> = {}) {
  return { mutationFn: ({ username, password }: Credentials) => s.login(username, password), ...cb };
}

/** Log out this device (the session forgets its tokens even when the server cannot be reached). */
export function logoutMutation(s: AuthSession, cb: Callbacks<void, void> = {}) {
  return { mutationFn: () => s.logout(), ...cb };
}

/** Asks for a reset link; the answer is the same whether or not an account has the address. */
export function forgotPasswordMutation(s: AuthSession, cb: Callbacks<unknown, string> = {}) {
  return { mutationFn: (email: string) => unwrap(s.api.POST("/api/auth/forgot-password", { body: { email } })), ...cb };
}

export function resetPasswordMutation(s: AuthSession, cb: Callbacks<unknown, ResetBody> = {}) {
  return { mutationFn: (body: ResetBody) => unwrap(s.api.POST("/api/auth/reset-password", { body })), ...cb };
}

export function sessionsQuery(s: AuthSession) {
  return queryOptions({
    queryKey: keys.sessions,
    queryFn: () => unwrap(s.api.GET("/api/users/me/sessions")),
  });
}

/**
 * Revokes one signed-in device. Revoking this device's own session logs it out as well (its
 * refresh would fail anyway); any other leaves the list at once and the list is reloaded.
 */
export function revokeSessionMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<SessionInfo, SessionInfo> = {}) {
  return {
    mutationFn: async (target: SessionInfo) => {
      await unwrap(s.api.DELETE("/api/users/me/sessions/{session_id}", { params: { path: { session_id: target.id } } }));
      return target;
    },
    onSuccess: chain(async (target: SessionInfo) => {
      if (target.id === s.sessionId()) {
        await s.logout();
        return;
      }
      qc.setQueryData<SessionInfo[]>(keys.sessions, (old) => old?.filter((x) => x.id !== target.id));
      void qc.invalidateQueries({ queryKey: keys.sessions });
    }, cb.onSuccess),
    onError: cb.onError,
  };
}

/** Whether a browser profile is saved for the user, its size and when it was saved. */
export function browserProfileQuery(s: AuthSession) {
  return queryOptions({
    queryKey: keys.browserProfile,
    queryFn: () => unwrap(s.api.GET("/api/users/me/profile")),
  });
}

/** "Forget my browser profile": the saved cookies and site storage are deleted. */
export function forgetBrowserProfileMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<unknown, void> = {}) {
  return {
    mutationFn: () => unwrap(s.api.DELETE("/api/users/me/profile")),
    onSuccess: chain(() => {
      qc.setQueryData<BrowserProfileInfo>(keys.browserProfile, { saved: false, bytes: null, updated_at: null });
      void qc.invalidateQueries({ queryKey: keys.browserProfile });
    }, cb.onSuccess),
    onError: cb.onError,
  };
}

export const useRegister = (cb?: Callbacks<User, RegisterBody>) => useMutation(registerMutation(session, cb));
export const useLogin = (cb?: Callbacks<User, Credentials>) => useMutation(loginMutation(session, cb));
export const useLogout = (cb?: Callbacks<void, void>) => useMutation(logoutMutation(session, cb));
export const useForgotPassword = (cb?: Callbacks<unknown, string>) => useMutation(forgotPasswordMutation(session, cb));
export const useResetPassword = (cb?: Callbacks<unknown, ResetBody>) => useMutation(resetPasswordMutation(session, cb));
export const useSessions = () => useQuery(sessionsQuery(session));
export const useRevokeSession = (cb?: Callbacks<SessionInfo, SessionInfo>) => useMutation(revokeSessionMutation(session, useQueryClient(), cb));
export const useBrowserProfile = () => useQuery(browserProfileQuery(session));
export const useForgetBrowserProfile = (cb?: Callbacks<unknown, void>) => useMutation(forgetBrowserProfileMutation(session, useQueryClient(), cb));
