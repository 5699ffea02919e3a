// A fake control plane for unit tests of the REST layer: an AuthSession signed in by its refresh
// route, whose authenticated client reaches the handlers given per "METHOD /path". It records
// every other request ("METHOD /path?query") and its body. Imported by *.test.ts files only.
import { AuthSession } from "../auth/session";
import { memoryTokenStore } from "../auth/tokenStore";

export const USER = { id: "u1", email: "ana@example.com", username: "ana", is_active: true, is_superuser: false, is_verified: false, created_at: "2026-01-01T00:00:00Z" };

/** An access token as the server makes it: a JWT whose payload names the login session. */
export const ACCESS = `h.${btoa(JSON.stringify({ sub: "u1", sid: "sess-1" }))}.sig`;

const TOKENS = { access_token: ACCESS, refresh_token: null, token_type: "bearer", expires_in: 900 };

export type Handler = (req: Request, body: string) => Response | Promise<Response>;

export const json = (status: number, body: unknown): Response => new Response(JSON.stringify(body), { status, headers: { "content-type": "application/json" } });

export function fakeApi(handlers: Record<string, Handler> = {}) {
  const calls: string[] = [];
  const bodies: string[] = [];
  const fetchFn = async (req: Request): Promise<Response> => {
    const url = new URL(req.url);
    const route = `${req.method} ${url.pathname}`;
    const body = await req.clone().text();
    if (url.pathname === "/api/auth/refresh") return json(200, TOKENS);
    calls.push(route + url.search);
    bodies.push(body);
    const handler = handlers[route];
    const open = route === "POST /api/auth/login" || route === "POST /api/auth/logout";
    if (!open && req.headers.get("authorization") !== `Bearer ${ACCESS}`) return json(401, { code: "not_authenticated", detail: "Not signed in" });
    if (handler) return handler(req, body);
    if (route === "POST /api/auth/login") return json(200, TOKENS);
    if (route === "POST /api/auth/logout") return new Response(null, { status: 204 });
    if (route === "GET /api/users/me") return json(200, USER);
    return json(404, { code: "not_found", detail: "Not Found" });
  };
  const direct = <T,>(_name: string, fn: () => Promise<T>) => fn();
  const session = new AuthSession(memoryTokenStore(true), fetchFn, direct, Date.now, "http://test");
  return { session, calls, bodies };
}
