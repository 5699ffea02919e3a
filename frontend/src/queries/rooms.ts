// Rooms over REST: the dashboard's lists, a room's chat history, and what a member or the host
// does to a room by REST (create, join, end, hand over the host, remove someone, clear the chat).
// Each query or mutation is built by a plain factory over an AuthSession (its authenticated
// client) and a QueryClient, so tests run them against a fake server; the hooks bind them to
// the app's session and the page's QueryClient.
import { infiniteQueryOptions, queryOptions, useInfiniteQuery, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { unwrap, type Room, type Schemas } from "../api/http";
import { session, type AuthSession } from "../auth/session";
import { isStarting } from "../lib/roomStatus";
import { chain, type Callbacks } from "./callbacks";
import { keys } from "./keys";

type RoomSettingsValues = Schemas["RoomSettings"];

/** Messages per page of chat history. */
export const MESSAGES_PAGE = 50;

export interface CreateRoomBody {
  title: string;
  max_participants: number | null;
  start_url: string | null;
  block_ads: boolean;
  /** "Keep my browser profile" and "Let others drive my signed-in browser" (off when left out). */
  keep_profile?: boolean;
  profile_others_drive?: boolean;
}

export function myRoomsQuery(s: AuthSession) {
  return queryOptions({
    queryKey: keys.myRooms,
    queryFn: () => unwrap(s.api.GET("/api/rooms", { params: { query: { state: "all" } } })),
    // Follow start-up stages closely; otherwise keep the list fresh without hammering the API.
    refetchInterval: (q) => (q.state.data?.data.some(isStarting) ? 2_000 : 30_000),
  });
}

/** A room's chat, newest page first; the next page is the one before the oldest message. */
export function roomHistoryQuery(s: AuthSession, code: string) {
  return infiniteQueryOptions({
    queryKey: keys.roomMessages(code),
    initialPageParam: null as string | null,
    queryFn: ({ pageParam }) =>
      unwrap(s.api.GET("/api/rooms/{code}/messages", { params: { path: { code }, query: { limit: MESSAGES_PAGE, before: pageParam } } })),
    getNextPageParam: (last) => (last.has_more ? (last.data[last.data.length - 1]?.id ?? null) : null),
  });
}

/**
 * One page of a room's chat before `before` (the newest page when null), fetched on demand
 * (`queryClient.fetchQuery`): the room page puts it into its store. One try, as a click asks.
 */
export function roomMessagesPageQuery(s: AuthSession, code: string, before: string | null) {
  return queryOptions({
    queryKey: keys.roomMessagesPage(code, before),
    queryFn: () =>
      unwrap(s.api.GET("/api/rooms/{code}/messages", { params: { path: { code }, query: { limit: MESSAGES_PAGE, ...(before !== null ? { before } : {}) } } })),
    retry: false,
  });
}

export function createRoomMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<Room, CreateRoomBody> = {}) {
  return {
    mutationFn: (body: CreateRoomBody) => unwrap(s.api.POST("/api/rooms", { body: { keep_profile: false, profile_others_drive: false, ...body } })),
    onSuccess: chain(() => void qc.invalidateQueries({ queryKey: keys.rooms }), cb.onSuccess),
    onError: cb.onError,
  };
}

/** Join (idempotent for members): the room socket admits participants only. */
export function joinRoomMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<unknown, string> = {}) {
  return {
    mutationFn: (code: string) => unwrap(s.api.POST("/api/rooms/{code}/join", { params: { path: { code } } })),
    onSuccess: chain(() => void qc.invalidateQueries({ queryKey: keys.rooms }), cb.onSuccess),
    onError: cb.onError,
  };
}

export function endRoomMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<unknown, string> = {}) {
  return {
    mutationFn: (code: string) => unwrap(s.api.POST("/api/rooms/{code}/end", { params: { path: { code } } })),
    onSuccess: chain(() => void qc.invalidateQueries({ queryKey: keys.rooms }), cb.onSuccess),
    onError: cb.onError,
  };
}

export interface MemberAction {
  code: string;
  userId: string;
}

/** The host hands the host role to another participant. */
export function makeHostMutation(s: AuthSession, cb: Callbacks<unknown, MemberAction> = {}) {
  return {
    mutationFn: ({ code, userId }: MemberAction) => unwrap(s.api.POST("/api/rooms/{code}/host", { params: { path: { code } }, body: { user_id: userId } })),
    ...cb,
  };
}

/** The host removes a participant (who cannot join again). */
export function removeParticipantMutation(s: AuthSession, cb: Callbacks<unknown, MemberAction> = {}) {
  return {
    mutationFn: ({ code, userId }: MemberAction) => unwrap(s.api.DELETE("/api/rooms/{code}/participants/{user_id}", { params: { path: { code, user_id: userId } } })),
    ...cb,
  };
}

/** The host deletes the room's chat for everyone: every cached page of it is stale. */
export function clearChatMutation(s: AuthSession, qc: QueryClient, cb: Callbacks<unknown, string> = {}) {
  return {
    mutationFn: (code: string) => unwrap(s.api.DELETE("/api/rooms/{code}/messages", { params: { path: { code } } })),
    onSuccess: chain((_: unknown, code: string) => void qc.invalidateQueries({ queryKey: keys.roomMessages(code) }), cb.onSuccess),
    onError: cb.onError,
  };
}

export interface SettingsChange {
  code: string;
  patch: Partial<RoomSettingsValues>;
}

/** The host changes the room's settings (issue 21); the answer is the settings now in force
 * (everyone also gets them as `room.settings` on the room socket). */
export function changeRoomSettingsMutation(s: AuthSession, cb: Callbacks<RoomSettingsValues, SettingsChange> = {}) {
  return {
    mutationFn: ({ code, patch }: SettingsChange) => unwrap(s.api.PATCH("/api/rooms/{code}/settings", { params: { path: { code } }, body: patch })),
    ...cb,
  };
}

export const useMyRooms = () => useQuery(myRoomsQuery(session));
export const useRoomHistory = (code: string) => useInfiniteQuery(roomHistoryQuery(session, code));

/** Fetches one page of older chat on demand (see roomMessagesPageQuery). */
export function useFetchMessagesPage(code: string) {
  const qc = useQueryClient();
  return (before: string | null) => qc.fetchQuery(roomMessagesPageQuery(session, code, before));
}

export const useCreateRoom = (cb?: Callbacks<Room, CreateRoomBody>) => useMutation(createRoomMutation(session, useQueryClient(), cb));
export const useJoinRoom = (cb?: Callbacks<unknown, string>) => useMutation(joinRoomMutation(session, useQueryClient(), cb));
export const useEndRoom = (cb?: Callbacks<unknown, string>) => useMutation(endRoomMutation(session, useQueryClient(), cb));
export const useMakeHost = (cb?: Callbacks<unknown, MemberAction>) => useMutation(makeHostMutation(session, cb));
export const useRemoveParticipant = (cb?: Callbacks<unknown, MemberAction>) => useMutation(removeParticipantMutation(session, cb));
export const useChangeRoomSettings = (cb?: Callbacks<RoomSettingsValues, SettingsChange>) => useMutation(changeRoomSettingsMutation(session, cb));
export const useClearChat = (cb?: Callbacks<unknown, string>) => useMutation(clearChatMutation(session, useQueryClient(), cb));
