// The REST layer's account calls against a fake control plane: sign up, log in, the password
// reset, the device list, and revoking a device (this one's logs out; another's leaves the list).
import { MutationObserver } from "@tanstack/react-query";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../api/errors";
import type { SessionInfo } from "../api/http";
import { fakeApi, json, USER } from "../test/fakeApi";
import {
  browserProfileQuery,
  forgetBrowserProfileMutation,
  forgotPasswordMutation,
  loginMutation,
  registerMutation,
  resetPasswordMutation,
  revokeSessionMutation,
  sessionsQuery,
} from "./account";
import { chain } from "./callbacks";
import { forgetOnSignOut, makeQueryClient, shouldRetry } from "./client";
import { keys } from "./keys";

const device = (id: string) => ({ id, user_agent: null, ip: null, created_at: "", last_used_at: "", expires_at: "" }) as SessionInfo;

let api: ReturnType<typeof fakeApi>;
afterEach(() => api.session.logout()); // stops the session's refresh timer

describe("account mutations", () => {
  it("signs up with JSON, then logs in with the form the token route takes", async () => {
    api = fakeApi({ "POST /api/auth/register": () => json(201, USER) });
    const qc = makeQueryClient();
    const body = { email: "ana@example.com", username: "ana", password: "pw-1234567" };
    await new MutationObserver(qc, registerMutation(api.session)).mutate(body);
    const user = await new MutationObserver(qc, loginMutation(api.session)).mutate({ username: "ana", password: "pw-1234567" });
    expect(user.username).toBe("ana");
    expect(api.calls).toEqual(["POST /api/auth/register", "POST /api/auth/login", "GET /api/users/me"]);
    expect(JSON.parse(api.bodies[0] ?? "")).toEqual(body);
    expect(api.bodies[1]).toBe("username=ana&password=pw-1234567");
    expect(api.session.snapshot().status).toBe("signed-in");
  });

  it("words a refused log-in from its code", async () => {
    api = fakeApi({ "POST /api/auth/login": () => json(401, { code: "bad_credentials", detail: 401 }) });
    const error = await new MutationObserver(makeQueryClient(), loginMutation(api.session)).mutate({ username: "ana", password: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).message).toBe("Wrong username or password.");
  });

  it("asks for a reset link and sets the new password with the link's token", async () => {
    api = fakeApi({ "POST /api/auth/forgot-password": () => json(202, {}), "POST /api/auth/reset-password": () => json(200, {}) });
    const qc = makeQueryClient();
    await new MutationObserver(qc, forgotPasswordMutation(api.session)).mutate("ana@example.com");
    await new MutationObserver(qc, resetPasswordMutation(api.session)).mutate({ token: "t0k", password: "new-pw-123" });
    expect(api.calls).toEqual(["POST /api/auth/forgot-password", "POST /api/auth/reset-password"]);
    expect(api.bodies.map((b) => JSON.parse(b) as unknown)).toEqual([{ email: "ana@example.com" }, { token: "t0k", password: "new-pw-123" }]);
  });
});

describe("devices", () => {
  it("revoking another device drops it from the list at once and reloads the list", async () => {
    api = fakeApi({ "DELETE /api/users/me/sessions/sess-2": () => new Response(null, { status: 204 }) });
    const qc = makeQueryClient();
    qc.setQueryData(keys.sessions, [device("sess-1"), device("sess-2")]);
    const done: string[] = [];
    await new MutationObserver(qc, revokeSessionMutation(api.session, qc, { onSuccess: (s) => done.push(s.id) })).mutate(device("sess-2"));
    expect(qc.getQueryData<SessionInfo[]>(keys.sessions)?.map((s) => s.id)).toEqual(["sess-1"]);
    expect(qc.getQueryState(keys.sessions)?.isInvalidated).toBe(true);
    expect(done).toEqual(["sess-2"]);
    expect(api.session.snapshot().status).not.toBe("signed-out");
  });

  it("revoking this device's own session logs it out before the page moves on", async () => {
    api = fakeApi({
      "GET /api/users/me/sessions": () => json(200, [device("sess-1")]),
      "DELETE /api/users/me/sessions/sess-1": () => new Response(null, { status: 204 }),
    });
    const qc = makeQueryClient();
    await qc.fetchQuery(sessionsQuery(api.session)); // signs in (the token names sess-1)
    expect(api.session.sessionId()).toBe("sess-1");
    const seen: string[] = [];
    const mutation = revokeSessionMutation(api.session, qc, { onSuccess: () => seen.push(`${api.session.snapshot().status} after ${api.calls.at(-1) ?? ""}`) });
    await new MutationObserver(qc, mutation).mutate(device("sess-1"));
    expect(seen).toEqual(["signed-out after POST /api/auth/logout"]);
    expect(qc.getQueryData<SessionInfo[]>(keys.sessions)?.map((s) => s.id)).toEqual(["sess-1"]);
  });
});

describe("signing out forgets the cache", () => {
  it("drops the last user's answers when they log out, and keeps them while signed in", async () => {
    api = fakeApi({ "GET /api/users/me/sessions": () => json(200, [device("sess-1")]) });
    const qc = makeQueryClient();
    const stop = forgetOnSignOut(qc, api.session);
    await new MutationObserver(qc, loginMutation(api.session)).mutate({ username: "ana", password: "pw-1234567" });
    await qc.fetchQuery(sessionsQuery(api.session));
    expect(api.session.snapshot().status).toBe("signed-in");
    expect(qc.getQueryData(keys.sessions)).toHaveLength(1); // a refresh or a profile load keeps it
    await api.session.logout();
    expect(qc.getQueryData(keys.sessions)).toBeUndefined();
    stop();
  });

  it("drops them when this device's own session is revoked", async () => {
    api = fakeApi({
      "GET /api/users/me/sessions": () => json(200, [device("sess-1")]),
      "DELETE /api/users/me/sessions/sess-1": () => new Response(null, { status: 204 }),
    });
    const qc = makeQueryClient();
    const stop = forgetOnSignOut(qc, api.session);
    await new MutationObserver(qc, loginMutation(api.session)).mutate({ username: "ana", password: "pw-1234567" });
    await qc.fetchQuery(sessionsQuery(api.session));
    expect(qc.getQueryData(keys.sessions)).toHaveLength(1);
    await new MutationObserver(qc, revokeSessionMutation(api.session, qc)).mutate(device("sess-1"));
    expect(qc.getQueryData(keys.sessions)).toBeUndefined();
    stop();
  });
});

describe("layer plumbing", () => {
  it("retries a query only when the failure might pass (network, 5xx), twice at most", () => {
    expect(shouldRetry(0, new TypeError("Failed to fetch"))).toBe(true);
    expect(shouldRetry(1, new ApiError(503, "unavailable", "Busy"))).toBe(true);
    expect(shouldRetry(2, new ApiError(503, "unavailable", "Busy"))).toBe(false);
    expect(shouldRetry(0, new ApiError(404, "not_found", "Not found."))).toBe(false);
    expect(shouldRetry(0, new ApiError(429, "rate_limited", "Slow down"))).toBe(false);
  });

  it("runs the layer's effect to its end before the page's callback", async () => {
    const order: string[] = [];
    const both = chain(
      async (d: number) => {
        await Promise.resolve();
        order.push(`layer ${d}`);
      },
      (d: number, v: string) => order.push(`page ${d} ${v}`),
    );
    await both(1, "x");
    expect(order).toEqual(["layer 1", "page 1 x"]);
  });
});

describe("browser profile", () => {
  it("reads whether one is saved, and forgetting it says none at once and reloads", async () => {
    api = fakeApi({
      "GET /api/users/me/profile": () => json(200, { saved: true, bytes: 2048, updated_at: "2026-12-07T09:00:00Z" }),
      "DELETE /api/users/me/profile": () => new Response(null, { status: 204 }),
    });
    const qc = makeQueryClient();
    const saved = await qc.fetchQuery(browserProfileQuery(api.session));
    expect(saved.saved).toBe(true);
    await new MutationObserver(qc, forgetBrowserProfileMutation(api.session, qc)).mutate();
    expect(qc.getQueryData(keys.browserProfile)).toEqual({ saved: false, bytes: null, updated_at: null });
    expect(qc.getQueryState(keys.browserProfile)?.isInvalidated).toBe(true);
    expect(api.calls).toEqual(["GET /api/users/me/profile", "DELETE /api/users/me/profile"]);
  });
});
