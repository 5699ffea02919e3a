import { describe, expect, it } from "vitest";
import type { ChatMessage, Envelope, ParticipantInfo, RoomStateData } from "../realtime/protocol";
import { RECENT_CHAT, TYPING_TTL_MS, addPendingChat, emptyRoom, prependHistory, reduce, typingNames, type RoomView } from "./roomReducer";

const ANA = "a1";
const BEN = "b2";
const CY = "c3";

function participant(user_id: string, username: string, role: "host" | "guest" = "guest"): ParticipantInfo {
  return { user_id, username, role, online: true, voice: null };
}

function chat(id: string, userId: string, text: string, created_at: string, client_id: string | null = null): ChatMessage {
  return { id, user: { id: userId, username: userId === ANA ? "ana" : "ben" }, text, created_at, client_id };
}

function stateData(over: Partial<RoomStateData> = {}): RoomStateData {
  return {
    room: {
      id: "r1",
      code: "k7qm3xtp",
      title: "Movie night",
      host_id: ANA,
      status: "ready",
      stage: "ready",
      status_reason: null,
      created_at: "2026-11-23T19:00:00Z",
      ended_at: null,
      max_participants: 10,
      start_url: "https://example.com/",
      join_url: "https://party.example.org/room/k7qm3xtp",
    },
    you: { user_id: BEN, conn_id: "conn-b", role: "guest" },
    participants: [{ ...participant(ANA, "ana", "host"), voice: { muted: false, deafened: false, speaking: false } }, participant(BEN, "ben")],
    remote: { holder_id: ANA, requests: [BEN] },
    browser: { url: "https://example.com/", title: "Example", can_go_back: false, can_go_forward: false, loading: false },
    agent_connected: true,
    chat: [chat("m1", ANA, "hi", "2026-11-23T19:59:01.123+00:00")],
    ice_servers: [{ urls: ["stun:turn.example.org:3478"] }],
    media: null,
    queue: [],
    settings: { anyone_can_pause: true, queue_host_only: false, block_ads: true, keep_profile: false, profile_others_drive: false },
    ...over,
  };
}

const env = (type: string, data: object, ts = "2026-11-23T20:00:00.000Z"): Envelope => ({ type, data, seq: 1, ts });
const state = (over: Partial<RoomStateData> = {}): RoomView => reduce(emptyRoom, env("room.state", stateData(over)));
const chats = (v: RoomView) => v.timeline.flatMap((i) => (i.kind === "chat" ? [i.msg.id] : []));
const notices = (v: RoomView) => v.timeline.flatMap((i) => (i.kind === "notice" ? [i.notice.text] : []));

describe("room.state", () => {
  it("takes room, you, participants, remote, browser, agent, ICE servers and chat", () => {
    const v = state();
    expect(v.room?.code).toBe("k7qm3xtp");
    expect(v.you).toEqual({ user_id: BEN, conn_id: "conn-b", role: "guest" });
    expect(v.participants.map((p) => p.username)).toEqual(["ana", "ben"]);
    expect(v.holderId).toBe(ANA);
    expect(v.requests).toEqual([BEN]);
    expect(v.browser?.title).toBe("Example");
    expect(v.agentConnected).toBe(true);
    expect(v.iceServers).toHaveLength(1);
    expect(chats(v)).toEqual(["m1"]);
    expect(v.olderHistory).toBe(false);
    expect(v.ended).toBeNull();
  });
  it("olderHistory when the snapshot's chat is at its limit", () => {
    const many = Array.from({ length: RECENT_CHAT }, (_, i) => chat(`m${i}`, ANA, "x", `2026-11-23T19:${String(i).padStart(2, "0")}:00Z`));
    expect(state({ chat: many }).olderHistory).toBe(true);
  });
  it("keeps notices and pending messages across a reconnect, chat comes afresh", () => {
    let v = state();
    v = reduce(v, env("presence.joined", { user_id: CY, username: "cy" }, "2026-11-23T20:00:00Z"));
    v = addPendingChat(v, chat("tmp-1", BEN, "unsent", "2026-11-23T20:00:05Z", "c-1"));
    v = reduce(v, env("room.state", stateData({ chat: [chat("m1", ANA, "hi", "2026-11-23T19:59:01Z"), chat("m2", ANA, "yo", "2026-11-23T20:00:02Z")] })));
    expect(v.timeline.map((i) => (i.kind === "chat" ? i.msg.id : i.notice.text))).toEqual(["m1", "cy joined", "m2", "tmp-1"]);
  });
  it("drops a pending message the snapshot already holds (its echo was missed while away)", () => {
    let v = state({ chat: [] });
    v = addPendingChat(v, chat("tmp-1", BEN, "hello", "2026-11-23T20:00:05Z", "c-1"));
    v = reduce(v, env("room.state", stateData({ chat: [chat("m9", BEN, "hello", "2026-11-23T20:00:05.2+00:00", "c-1")] })));
    expect(chats(v)).toEqual(["m9"]);
    expect(v.timeline.some((i) => i.kind === "chat" && i.pending)).toBe(false);
  });
  it("an ended room in the snapshot is ended", () => {
    const base = stateData();
    const v = state({ room: { ...base.room, status: "ended", status_reason: "ended by the host" } });
    expect(v.ended).toEqual({ reason: "ended by the host", by: null });
  });
});

describe("presence and participants", () => {
  it("presence.joined adds a new participant online with a notice", () => {
    const v = reduce(state(), env("presence.joined", { user_id: CY, username: "cy" }));
    expect(v.participants.find((p) => p.user_id === CY)).toEqual({ user_id: CY, username: "cy", role: "guest", online: true, voice: null });
    expect(notices(v)).toEqual(["cy joined"]);
  });
  it("presence.joined of a known user sets them online without duplicating", () => {
    let v = reduce(state(), env("presence.left", { user_id: ANA }));
    v = reduce(v, env("presence.joined", { user_id: ANA, username: "ana" }));
    expect(v.participants.filter((p) => p.user_id === ANA)).toHaveLength(1);
    expect(v.participants.find((p) => p.user_id === ANA)?.online).toBe(true);
    expect(notices(v)).toEqual(["ana left", "ana joined"]);
  });
  it("presence.left marks offline, clears voice and typing", () => {
    let v = reduce(state(), env("chat.typing", { user_id: ANA, typing: true }), 1000);
    v = reduce(v, env("presence.left", { user_id: ANA }));
    const ana = v.participants.find((p) => p.user_id === ANA);
    expect(ana?.online).toBe(false);
    expect(ana?.voice).toBeNull();
    expect(v.typing).toEqual({});
    expect(notices(v)).toEqual(["ana left"]);
  });
  it("participant.removed removes them with a notice for kicked or left", () => {
    const kicked = reduce(state(), env("participant.removed", { user_id: BEN, reason: "kicked", by: ANA }));
    expect(kicked.participants.map((p) => p.user_id)).toEqual([ANA]);
    expect(notices(kicked)).toEqual(["ben was removed by the host"]);
    const left = reduce(state(), env("participant.removed", { user_id: BEN, reason: "left", by: BEN }));
    expect(notices(left)).toEqual(["ben left the room"]);
  });
  it("host.changed moves the host role, including yours", () => {
    const v = reduce(state(), env("host.changed", { host_id: BEN, previous_host_id: ANA, by: ANA }));
    expect(v.room?.host_id).toBe(BEN);
    expect(v.you?.role).toBe("host");
    expect(v.participants.map((p) => [p.user_id, p.role])).toEqual([
      [ANA, "guest"],
      [BEN, "host"],
    ]);
    expect(notices(v)).toEqual(["ben is now the host"]);
    const back = reduce(v, env("host.changed", { host_id: ANA, previous_host_id: BEN, by: BEN }));
    expect(back.you?.role).toBe("guest");
  });
  it("notices get increasing ids and the message's ts", () => {
    let v = reduce(state(), env("presence.joined", { user_id: CY, username: "cy" }, "2026-11-23T20:01:00Z"));
    v = reduce(v, env("presence.left", { user_id: CY }, "2026-11-23T20:02:00Z"));
    const ns = v.timeline.flatMap((i) => (i.kind === "notice" ? [i.notice] : []));
    expect(ns.map((n) => [n.id, n.at])).toEqual([
      [1, "2026-11-23T20:01:00Z"],
      [2, "2026-11-23T20:02:00Z"],
    ]);
  });
});

describe("room.status and room.ended", () => {
  it("start-up progress: stage, status and agent_connected", () => {
    const base = stateData();
    let v = state({ room: { ...base.room, status: "starting", stage: "booting" }, agent_connected: false });
    v = reduce(v, env("room.status", { status: "starting", stage: "browser_ready", agent_connected: true }));
    expect([v.room?.status, v.room?.stage, v.agentConnected]).toEqual(["starting", "browser_ready", true]);
    v = reduce(v, env("room.status", { status: "ready", stage: "ready", agent_connected: true, video: { width: 1280, height: 720, fps: 30, codec: "h264" } }));
    expect([v.room?.status, v.room?.stage]).toEqual(["ready", "ready"]);
    expect(v.video).toEqual({ width: 1280, height: 720, fps: 30, codec: "h264" });
    v = reduce(v, env("room.status", { agent_connected: false }));
    expect(v.agentConnected).toBe(false);
    expect(v.room?.status).toBe("ready");
    expect(v.video?.codec).toBe("h264");
  });
  it("failed carries the reason", () => {
    const v = reduce(state(), env("room.status", { status: "failed", reason: "The room's browser could not start: boom" }));
    expect(v.room?.status).toBe("failed");
    expect(v.room?.status_reason).toBe("The room's browser could not start: boom");
    expect(v.room?.stage).toBe("ready"); // keeps its last value
  });
  it("room.status before any room.state is ignored", () => {
    expect(reduce(emptyRoom, env("room.status", { status: "ready" }))).toBe(emptyRoom);
  });
  it("room.ended sets the status and the reason", () => {
    const v = reduce(state(), env("room.ended", { reason: "ended by the host", by: ANA }));
    expect(v.room?.status).toBe("ended");
    expect(v.ended).toEqual({ reason: "ended by the host", by: ANA });
  });
});

describe("chat", () => {
  it("chat.message appends and clears the sender's typing", () => {
    let v = reduce(state(), env("chat.typing", { user_id: ANA, typing: true }), 0);
    v = reduce(v, env("chat.message", chat("m2", ANA, "hello 👋", "2026-11-23T20:00:01.5+00:00", null)));
    expect(chats(v)).toEqual(["m1", "m2"]);
    expect(v.typing).toEqual({});
  });
  it("replaces our pending message with the same client_id", () => {
    let v = addPendingChat(state(), chat("tmp", BEN, "hey", "2026-11-23T20:00:01Z", "c-17"));
    expect(v.timeline.at(-1)).toMatchObject({ kind: "chat", pending: true });
    v = reduce(v, env("chat.message", chat("m2", BEN, "hey", "2026-11-23T20:00:01.5+00:00", "c-17")));
    expect(chats(v)).toEqual(["m1", "m2"]);
    expect(v.timeline.at(-1)).toEqual({ kind: "chat", msg: chat("m2", BEN, "hey", "2026-11-23T20:00:01.5+00:00", "c-17") });
  });
  it("does not replace a pending message with another client_id, nor on a null client_id", () => {
    let v = addPendingChat(state(), chat("tmp", BEN, "hey", "2026-11-23T20:00:01Z", "c-17"));
    v = reduce(v, env("chat.message", chat("m2", ANA, "other", "2026-11-23T20:00:02Z", "c-18")));
    v = reduce(v, env("chat.message", chat("m3", ANA, "other", "2026-11-23T20:00:03Z", null)));
    expect(chats(v)).toEqual(["m1", "tmp", "m2", "m3"]);
  });
  it("dedupes a message by id", () => {
    let v = reduce(state(), env("chat.message", chat("m2", ANA, "x", "2026-11-23T20:00:01Z")));
    v = reduce(v, env("chat.message", chat("m2", ANA, "x", "2026-11-23T20:00:01Z")));
    v = reduce(v, env("chat.message", chat("m1", ANA, "hi", "2026-11-23T19:59:01.123+00:00")));
    expect(chats(v).filter((id) => id === "m2")).toHaveLength(1);
    expect(chats(v).filter((id) => id === "m1")).toHaveLength(1);
  });
  it("chat.cleared removes the messages (and the offer of older ones), keeps notices, adds one", () => {
    const many = Array.from({ length: RECENT_CHAT }, (_, i) => chat(`m${i}`, ANA, "x", `2026-11-23T19:${String(i).padStart(2, "0")}:00Z`));
    let v = state({ chat: many });
    v = reduce(v, env("presence.joined", { user_id: CY, username: "cy" }));
    v = reduce(v, env("chat.cleared", { by: ANA }));
    expect(chats(v)).toEqual([]);
    expect(notices(v)).toEqual(["cy joined", "ana cleared the chat history"]);
    expect(v.olderHistory).toBe(false);
  });
  it("chat.typing expires, and typingNames leaves you and expired entries out", () => {
    const t0 = 1_000_000;
    let v = state();
    v = reduce(v, env("chat.typing", { user_id: ANA, typing: true }), t0);
    v = reduce(v, env("chat.typing", { user_id: BEN, typing: true }), t0);
    expect(v.typing[ANA]).toBe(t0 + TYPING_TTL_MS);
    expect(typingNames(v, t0 + 1)).toEqual(["ana"]);
    expect(typingNames(v, t0 + TYPING_TTL_MS)).toEqual([]);
    v = reduce(v, env("chat.typing", { user_id: ANA, typing: true }), t0 + 5000); // refreshed
    expect(typingNames(v, t0 + TYPING_TTL_MS + 1)).toEqual(["ana"]);
    v = reduce(v, env("chat.typing", { user_id: ANA, typing: false }), t0 + 5001);
    expect(typingNames(v, t0 + 5002)).toEqual([]);
    expect(Object.keys(v.typing)).toEqual([BEN]);
  });
  it("prependHistory puts older messages first, deduplicated by id", () => {
    let v = state({ chat: [chat("m5", ANA, "e", "2026-11-23T19:05:00Z"), chat("m6", ANA, "f", "2026-11-23T19:06:00Z")] });
    v = prependHistory(v, [chat("m3", ANA, "c", "2026-11-23T19:03:00Z"), chat("m4", ANA, "d", "2026-11-23T19:04:00Z"), chat("m5", ANA, "e", "2026-11-23T19:05:00Z")]);
    expect(chats(v)).toEqual(["m3", "m4", "m5", "m6"]);
    v = prependHistory(v, [chat("m3", ANA, "c", "2026-11-23T19:03:00Z")]);
    expect(chats(v)).toEqual(["m3", "m4", "m5", "m6"]);
  });
});

describe("remote, browser, voice, errors", () => {
  it("remote.changed sets the holder (null = nobody) and the queue", () => {
    let v = reduce(state(), env("remote.changed", { holder_id: BEN, by: ANA, reason: "granted", requests: [] }));
    expect([v.holderId, v.requests]).toEqual([BEN, []]);
    v = reduce(v, env("remote.changed", { holder_id: null, by: BEN, reason: "released", requests: [CY] }));
    expect([v.holderId, v.requests]).toEqual([null, [CY]]);
  });
  it("remote.requested and remote.requests replace the queue", () => {
    let v = reduce(state(), env("remote.requested", { user_id: CY, requests: [BEN, CY] }));
    expect(v.requests).toEqual([BEN, CY]);
    v = reduce(v, env("remote.requests", { requests: [CY] }));
    expect(v.requests).toEqual([CY]);
    expect(v.holderId).toBe(ANA);
  });
  it("browser.status replaces the status and clears a refused navigation's error only", () => {
    const status = { url: "https://b.example/", title: "B", can_go_back: true, can_go_forward: false, loading: false };
    let v = reduce(state(), env("error", { code: "url_not_allowed", detail: "no", type: "browser.navigate" }));
    expect(v.lastError?.code).toBe("url_not_allowed");
    v = reduce(v, env("browser.status", status));
    expect(v.browser).toEqual(status);
    expect(v.lastError).toBeNull();
    v = reduce(v, env("error", { code: "rate_limited", detail: "slow down", type: "chat.send" }));
    v = reduce(v, env("browser.status", status));
    expect(v.lastError).toEqual({ code: "rate_limited", detail: "slow down", type: "chat.send" });
  });
  it("voice.state sets a participant's voice, voice.left clears it", () => {
    let v = reduce(state(), env("voice.state", { user_id: BEN, muted: true, deafened: false, speaking: false }));
    expect(v.participants.find((p) => p.user_id === BEN)?.voice).toEqual({ muted: true, deafened: false, speaking: false });
    v = reduce(v, env("voice.left", { user_id: BEN }));
    expect(v.participants.find((p) => p.user_id === BEN)?.voice).toBeNull();
    expect(v.participants.find((p) => p.user_id === ANA)?.voice).not.toBeNull();
  });
  it("error is kept as lastError (type null when not understood)", () => {
    const v = reduce(state(), env("error", { code: "unknown_type", detail: "Unknown message type 'chat.sned'", type: null }));
    expect(v.lastError).toEqual({ code: "unknown_type", detail: "Unknown message type 'chat.sned'", type: null });
    expect(reduce(v, env("room.state", stateData())).lastError).toBeNull();
  });
  it("unknown and direct-only messages leave the view as it is", () => {
    const v = state();
    expect(reduce(v, env("pong", {}))).toBe(v);
    expect(reduce(v, env("something.new", { a: 1 }))).toBe(v);
  });
});

describe("watching together: media, queue, settings, system lines", () => {
  const playing = { present: true as const, paused: false, time: 12.5, duration: 60, rate: 1, muted: false, ended: false, title: "clip" };
  const entry = { id: "q1", url: "https://a.example/v", title: null, added_by: { id: BEN, username: "ben" }, added_at: "2026-11-23T20:00:00Z" };

  it("room.state takes the media, the queue and the settings, with defaults from older servers", () => {
    const v = reduce(emptyRoom, env("room.state", stateData({ media: playing, queue: [entry], settings: { anyone_can_pause: false, queue_host_only: true, block_ads: true, keep_profile: false, profile_others_drive: false } })), 5_000);
    expect(v.media).toEqual(playing);
    expect(v.mediaAt).toBe(5_000);
    expect(v.queue).toEqual([entry]);
    const noProfile = { block_ads: true, keep_profile: false, profile_others_drive: false };
    expect(v.settings).toEqual({ anyone_can_pause: false, queue_host_only: true, ...noProfile });
    const old = state();
    expect(old.media).toBeNull();
    expect(old.queue).toEqual([]);
    expect(old.settings).toEqual({ anyone_can_pause: true, queue_host_only: false, ...noProfile });
  });
  it("media.state replaces the media and notes when it came; present: false hides it", () => {
    let v = reduce(state(), env("media.state", playing), 7_000);
    expect(v.media?.time).toBe(12.5);
    expect(v.mediaAt).toBe(7_000);
    v = reduce(v, env("media.state", { ...playing, paused: true, time: 13 }), 7_500);
    expect(v.media?.paused).toBe(true);
    v = reduce(v, env("media.state", { present: false }), 8_000);
    expect(v.media).toBeNull();
  });
  it("queue.changed replaces the queue; room.settings changes the settings", () => {
    let v = reduce(state(), env("queue.changed", { queue: [entry] }));
    expect(v.queue.map((q) => q.id)).toEqual(["q1"]);
    v = reduce(v, env("queue.changed", { queue: [] }));
    expect(v.queue).toEqual([]);
    v = reduce(v, env("room.settings", { anyone_can_pause: false, queue_host_only: false, block_ads: true }));
    expect(v.settings.anyone_can_pause).toBe(false);
  });
  it("a system line joins the chat in order but does not end its actor's typing", () => {
    let v = reduce(state(), env("chat.typing", { user_id: ANA, typing: true }), 1_000);
    v = reduce(v, env("chat.message", { ...chat("s1", ANA, "ana paused at 0:12", "2026-11-23T20:00:02Z"), kind: "system" }), 1_100);
    expect(chats(v)).toEqual(["m1", "s1"]);
    expect(typingNames(v, 1_200)).toEqual(["ana"]);
    v = reduce(v, env("chat.message", chat("m2", ANA, "oops", "2026-11-23T20:00:03Z")), 1_300);
    expect(typingNames(v, 1_400)).toEqual([]);
  });
});

describe("tabs (issue 22)", () => {
  const two = {
    tabs: [
      { id: "t1", title: "Example", url: "https://example.com/" },
      { id: "t2", title: "Docs", url: "https://example.com/docs" },
    ],
    active: "t2",
    max: 5,
  };
  it("room.state takes the tabs (null from a server or agent that sent none)", () => {
    expect(state().tabs).toBeNull();
    expect(state({ tabs: two }).tabs).toEqual(two);
  });
  it("tabs.state replaces them, and a reconnect's room.state replaces them again", () => {
    let v = reduce(state(), env("tabs.state", two));
    expect(v.tabs?.active).toBe("t2");
    v = reduce(v, env("tabs.state", { ...two, tabs: [two.tabs[0]], active: "t1" }));
    expect(v.tabs?.tabs.map((t) => t.id)).toEqual(["t1"]);
    v = reduce(v, env("room.state", stateData({ tabs: two })));
    expect(v.tabs).toEqual(two);
  });
});
