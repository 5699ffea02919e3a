// Every cache key of the REST layer, in one place: a mutation names what it makes stale by
// these, never by a string of its own.

export const keys = {
  /** Every list of the user's rooms (a prefix: invalidating it reaches all of them). */
  rooms: ["rooms"] as const,
  /** The dashboard's list: live and past rooms together. */
  myRooms: ["rooms", "all"] as const,
  /** A room's chat history (the dashboard's pages, and the room page's older pages under it). */
  roomMessages: (code: string) => ["room-messages", code] as const,
  /** One page of a room's chat ending before `before` (null: the newest). */
  roomMessagesPage: (code: string, before: string | null) => ["room-messages", code, "page", before] as const,
  /** The signed-in devices (login sessions) of the user. */
  sessions: ["sessions"] as const,
  /** Whether a browser profile is saved for the user ("Keep my browser profile"). */
  browserProfile: ["browser-profile"] as const,
};
