import { useMutation, useQueryClient } from "@tanstack/react-query";
import { Loader2, Plus } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { ApiError, waitWords } from "../../api/errors";
import { unwrap, type Room } from "../../api/http";
import { session } from "../../auth/session";
import { sentence, splitError } from "../../lib/formErrors";
import { normaliseStartUrl, parseCapacity } from "../../lib/startUrl";
import { Alert } from "../ui/alert";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { Field } from "../ui/field";

const MAX_PEOPLE = 50;
const FIELDS = ["title", "max_participants", "start_url"] as const;
type F = (typeof FIELDS)[number];
const CODES = { invalid_title: "title", too_many_participants: "max_participants" } as const;

interface Errors {
  fields: Partial<Record<F, string>>;
  form: string | null;
}

/** Words for a failed create: the wait for 429, the limit for 503, a refused start page next to it. */
function createErrors(err: unknown): Errors {
  if (err instanceof ApiError && err.status === 429) {
    const wait = err.retryAfter !== null ? `Try again in ${waitWords(err.retryAfter)}.` : "Try again later.";
    return { fields: {}, form: `You have created a lot of rooms this hour. ${wait}` };
  }
  if (err instanceof ApiError && err.status === 503) {
    return { fields: {}, form: `The server is running as many rooms as it can. Try again when one ends. (${sentence(err.message)})` };
  }
  if (err instanceof ApiError && err.code === "url_not_allowed") {
    return { fields: { start_url: `This start page is not allowed: ${sentence(err.message).replace(/^./, (c) => c.toLowerCase())}` }, form: null };
  }
  return splitError(err, FIELDS, CODES);
}

export function CreateRoomCard() {
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const [title, setTitle] = useState("");
  const [capacity, setCapacity] = useState("");
  const [startUrl, setStartUrl] = useState("");
  const [errors, setErrors] = useState<Errors>({ fields: {}, form: null });

  const create = useMutation({
    mutationFn: (body: { title: string; max_participants: number | null; start_url: string | null }) =>
      unwrap(session.api.POST("/api/rooms", { body })),
    onSuccess: (room: Room) => {
      void queryClient.invalidateQueries({ queryKey: ["rooms"] });
      navigate(`/room/${room.code}`, { state: { member: true } });
    },
    onError: (err) => setErrors(createErrors(err)),
  });

  function submit(e: FormEvent) {
    e.preventDefault();
    const next: Errors = { fields: {}, form: null };
    if (title.trim() === "") next.fields.title = "Give the room a title, like “Friday movie night”.";
    const cap = parseCapacity(capacity, MAX_PEOPLE);
    if (!cap.ok) next.fields.max_participants = cap.error;
    setErrors(next);
    if (Object.keys(next.fields).length > 0 || !cap.ok) return;
    create.mutate({ title: title.trim(), max_participants: cap.value, start_url: normaliseStartUrl(startUrl) });
  }

  const clear = (f: F) => errors.fields[f] && setErrors((x) => ({ ...x, fields: { ...x.fields, [f]: undefined } }));

  return (
    <Card>
      <CardHeader>
        <CardTitle>Create a room</CardTitle>
        <CardDescription>A fresh browser starts for your room. You get the remote first.</CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={submit} noValidate className="space-y-4" aria-busy={create.isPending}>
          {errors.form ? <Alert>{errors.form}</Alert> : null}
          <Field
            label="Room title"
            name="title"
            value={title}
            maxLength={120}
            placeholder="Friday movie night"
            onChange={(e) => {
              setTitle(e.target.value);
              clear("title");
            }}
            error={errors.fields.title}
          />
          <div className="grid gap-4 sm:grid-cols-[8rem_1fr]">
            <Field
              label="Capacity"
              name="capacity"
              type="number"
              inputMode="numeric"
              min={1}
              max={MAX_PEOPLE}
              placeholder="10"
              value={capacity}
              onChange={(e) => {
                setCapacity(e.target.value);
                clear("max_participants");
              }}
              error={errors.fields.max_participants}
              hint={`Optional, up to ${MAX_PEOPLE}.`}
            />
            <Field
              label="Start page"
              name="start_url"
              type="url"
              inputMode="url"
              placeholder="https://www.youtube.com"
              value={startUrl}
              onChange={(e) => {
                setStartUrl(e.target.value);
                clear("start_url");
              }}
              error={errors.fields.start_url}
              hint="Optional. The page the shared browser opens first."
            />
          </div>
          <div className="flex flex-wrap items-center gap-3">
            <Button type="submit" disabled={create.isPending} className="w-full sm:w-auto">
              {create.isPending ? <Loader2 className="animate-spin" aria-hidden /> : <Plus aria-hidden />}
              Create room
            </Button>
            <span role="status" className="text-sm text-zinc-400">
              {create.isPending ? "Creating your room…" : ""}
            </span>
          </div>
        </form>
      </CardContent>
    </Card>
  );
}
