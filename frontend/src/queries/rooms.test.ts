// The REST layer's room queries and mutations against a fake control plane: what each sends,
// what it makes stale (and that a page's callback runs after that), and failures as ApiError.
import { MutationObserver, type Query } from "@tanstack/react-query";
import { afterEach, describe, expect, it } from "vitest";
import { ApiError } from "../api/errors";
import { fakeApi, json } from "../test/fakeApi";
import { makeQueryClient } from "./client";
import { keys } from "./keys";
import {
  changeRoomSettingsMutation,
  clearChatMutation,
  createRoomMutation,
  endRoomMutation,
  joinRoomMutation,
  makeHostMutation,
  myRoomsQuery,
  removeParticipantMutation,
  roomHistoryQuery,
  roomMessagesPageQuery,
} from "./rooms";

const room = (code: string, status = "ready") => ({ id: `r-${code}`, code, status, title: code });
const message = (id: string) => ({ id, text: id, created_at: "2026-01-01T00:00:00Z", user: { id: "u1", username: "ana" } });

let api: ReturnType<typeof fakeApi>;
afterEach(() => api.session.logout()); // stops the session's refresh timer

describe("room queries", () => {
  it("lists every room of the user, authenticated, and polls fast only while one starts", async () => {
    api = fakeApi({ "GET /api/rooms": () => json(200, { data: [room("abc")], count: 1 }) });
    const qc = makeQueryClient();
    const options = myRoomsQuery(api.session);
    const got = await qc.fetchQuery(options);
    expect(got.data[0]?.code).toBe("abc");
    expect(api.calls).toEqual(["GET /api/rooms?state=all"]);
    const every = options.refetchInterval as (q: Pick<Query, "state">) => number;
    expect(every({ state: { data: { data: [room("a"), room("b", "starting")] } } } as unknown as Query)).toBe(2_000);
    expect(every({ state: { data: { data: [room("a"), room("b", "ended")] } } } as unknown as Query)).toBe(30_000);
  });

  it("turns a refusal into an ApiError with the server's code and is not retried", async () => {
    api = fakeApi({ "GET /api/rooms": () => json(403, { code: "forbidden", detail: "Not yours." }) });
    const error = await makeQueryClient().fetchQuery(myRoomsQuery(api.session)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe("forbidden");
    expect(api.calls).toEqual(["GET /api/rooms?state=all"]);
  });

  it("pages a room's chat history backwards from the oldest message it has", async () => {
    api = fakeApi({
      "GET /api/rooms/abc/messages": (req) =>
        new URL(req.url).searchParams.has("before")
          ? json(200, { data: [message("m1")], has_more: false })
          : json(200, { data: [message("m3"), message("m2")], has_more: true }),
    });
    const options = roomHistoryQuery(api.session, "abc");
    const got = await makeQueryClient().fetchInfiniteQuery({ ...options, pages: 2 });
    expect(got.pages.flatMap((p) => p.data.map((m) => m.id))).toEqual(["m3", "m2", "m1"]);
    expect(api.calls).toEqual(["GET /api/rooms/abc/messages?limit=50", "GET /api/rooms/abc/messages?limit=50&before=m2"]);
    expect(options.getNextPageParam(got.pages[1] ?? { data: [], has_more: true }, got.pages, "m2", got.pageParams)).toBeNull();
  });

  it("fetches one older page on demand, once even when the server fails", async () => {
    api = fakeApi({ "GET /api/rooms/abc/messages": () => json(503, { code: "unavailable", detail: "Busy." }) });
    const qc = makeQueryClient(); // the app's client: it retries queries that fail with a 5xx
    await expect(qc.fetchQuery(roomMessagesPageQuery(api.session, "abc", null))).rejects.toBeInstanceOf(ApiError);
    await expect(qc.fetchQuery(roomMessagesPageQuery(api.session, "abc", "m9"))).rejects.toBeInstanceOf(ApiError);
    expect(api.calls).toEqual(["GET /api/rooms/abc/messages?limit=50", "GET /api/rooms/abc/messages?limit=50&before=m9"]);
  });
});

describe("room mutations", () => {
  it("creates a room, makes the room lists stale without refetching a hidden one, then runs the page's callback", async () => {
    api = fakeApi({ "POST /api/rooms": (_req, body) => json(201, { ...room("new"), ...(JSON.parse(body) as object) }) });
    const qc = makeQueryClient();
    qc.setQueryData(keys.myRooms, { data: [], count: 0 });
    const seen: string[] = [];
    const mutation = new MutationObserver(
      qc,
      createRoomMutation(api.session, qc, {
        onSuccess: (created) => seen.push(`${created.code} stale=${String(qc.getQueryState(keys.myRooms)?.isInvalidated)}`),
      }),
    );
    const body = { title: "Movie", max_participants: 4, start_url: null, block_ads: false };
    await mutation.mutate(body);
    expect(seen).toEqual(["new stale=true"]);
    expect(api.calls).toEqual(["POST /api/rooms"]);
    // Without the profile choices, the room keeps none (issue 22).
    expect(JSON.parse(api.bodies[0] ?? "")).toEqual({ ...body, keep_profile: false, profile_others_drive: false });
  });

  it("hands a failed create to the page as an ApiError with the field errors", async () => {
    api = fakeApi({ "POST /api/rooms": () => json(422, { code: "validation_error", detail: [{ loc: ["body", "title"], msg: "Value error, too long" }] }) });
    const qc = makeQueryClient();
    const errors: unknown[] = [];
    const mutation = new MutationObserver(qc, createRoomMutation(api.session, qc, { onError: (e) => errors.push(e) }));
    await expect(mutation.mutate({ title: "x", max_participants: null, start_url: null, block_ads: true })).rejects.toBeInstanceOf(ApiError);
    expect((errors[0] as ApiError).fieldErrors).toEqual([{ field: "title", message: "too long" }]);
  });

  it("joins, ends, hands over the host and removes a member at the room's routes", async () => {
    const ok = () => json(200, {});
    api = fakeApi({
      "POST /api/rooms/abc/join": ok,
      "POST /api/rooms/abc/end": ok,
      "POST /api/rooms/abc/host": ok,
      "DELETE /api/rooms/abc/participants/u2": () => new Response(null, { status: 204 }),
    });
    const qc = makeQueryClient();
    await new MutationObserver(qc, joinRoomMutation(api.session, qc)).mutate("abc");
    await new MutationObserver(qc, endRoomMutation(api.session, qc)).mutate("abc");
    await new MutationObserver(qc, makeHostMutation(api.session)).mutate({ code: "abc", userId: "u2" });
    await new MutationObserver(qc, removeParticipantMutation(api.session)).mutate({ code: "abc", userId: "u2" });
    expect(api.calls).toEqual(["POST /api/rooms/abc/join", "POST /api/rooms/abc/end", "POST /api/rooms/abc/host", "DELETE /api/rooms/abc/participants/u2"]);
    expect(JSON.parse(api.bodies[2] ?? "")).toEqual({ user_id: "u2" });
  });

  it("clearing a room's chat makes every cached page of that room's chat stale, and only that room's", async () => {
    api = fakeApi({ "DELETE /api/rooms/abc/messages": () => new Response(null, { status: 204 }) });
    const qc = makeQueryClient();
    const page = { data: [message("m1")], has_more: false };
    qc.setQueryData(keys.roomMessagesPage("abc", null), page);
    qc.setQueryData(keys.roomMessagesPage("xyz", null), page);
    await new MutationObserver(qc, clearChatMutation(api.session, qc)).mutate("abc");
    expect(qc.getQueryState(keys.roomMessagesPage("abc", null))?.isInvalidated).toBe(true);
    expect(qc.getQueryState(keys.roomMessagesPage("xyz", null))?.isInvalidated).toBe(false);
  });

  it("the host's settings go as a PATCH of only what changed, and the answer is the settings in force", async () => {
    api = fakeApi({ "PATCH /api/rooms/abc/settings": () => json(200, { anyone_can_pause: false, queue_host_only: false, block_ads: true }) });
    const qc = makeQueryClient();
    const got = await new MutationObserver(qc, changeRoomSettingsMutation(api.session)).mutate({ code: "abc", patch: { anyone_can_pause: false } });
    expect(api.calls).toEqual(["PATCH /api/rooms/abc/settings"]);
    expect(JSON.parse(api.bodies[0] ?? "")).toEqual({ anyone_can_pause: false });
    expect(got).toEqual({ anyone_can_pause: false, queue_host_only: false, block_ads: true });
  });
});
