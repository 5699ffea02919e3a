// Typed REST access. `createApi` builds an openapi-fetch client over the generated schema; the
// `fetch` it is given decides authentication (see auth/session.ts). `unwrap` turns the client's
// `{data, error, response}` into the data or a thrown ApiError.
import createClient, { type Client } from "openapi-fetch";
import { toApiError } from "./errors";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];
export type User = Schemas["UserRead"];
export type Room = Schemas["RoomPublic"];
export type Participant = Schemas["ParticipantPublic"];
export type ChatMessageRest = Schemas["MessagePublic"];
export type SessionInfo = Schemas["SessionOut"];
export type BrowserProfileInfo = Schemas["BrowserProfilePublic"];
export type TokenPair = Schemas["TokenPair"];
export type ApiClient = Client<paths>;

export type FetchFn = (request: Request) => Promise<Response>;

export function createApi(fetchFn: FetchFn, baseUrl = ""): ApiClient {
  return createClient<paths>({ baseUrl: baseUrl || globalThis.location?.origin || "", fetch: fetchFn });
}

interface Result<T> {
  data?: T;
  error?: unknown;
  response: Response;
}

export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  const { data, error, response } = await call;
  if (!response.ok || error !== undefined) throw toApiError(response.status, response.headers, error);
  return data as T;
}
