import { Plus } from "lucide-react";
import { useId } from "react";
import { useWatch } from "react-hook-form";
import { useNavigate } from "react-router-dom";
import { ApiError, waitWords } from "../api/errors";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../components/ui/card";
import { Form, FormAlert, FormField, SubmitButton } from "../components/ui/form";
import { showErrors, useZodForm } from "../hooks/useZodForm";
import { sentence, splitError, type FormErrors } from "../lib/formErrors";
import { createRoomSchema, MAX_PEOPLE } from "../lib/roomForms";
import { useCreateRoom, type CreateRoomBody } from "../queries/rooms";
import { ProfileChoices } from "./ProfileChoices";

const FIELDS = ["title", "max_participants", "start_url"] as const;
const CODES = { invalid_title: "title", too_many_participants: "max_participants" } as const;

/** What the form gives once its rules passed (`createRoomSchema`'s output). */
interface CreateValues {
  title: string;
  capacity: number | null;
  start_url: string | null;
  block_ads: boolean;
  keep_profile: boolean;
  profile_others_drive: boolean;
}

/** Words for a failed create: the wait for 429, the limit for 503, a refused start page next to it. */
function createErrors(err: unknown): FormErrors<(typeof FIELDS)[number]> {
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
  const form = useZodForm(createRoomSchema, { title: "", capacity: "", start_url: "", block_ads: true, keep_profile: false, profile_others_drive: false });
  const create = useCreateRoom();
  const id = useId();
  const keepProfile = useWatch({ control: form.control, name: "keep_profile" });

  async function submit({ title, capacity, start_url, block_ads, keep_profile, profile_others_drive }: CreateValues) {
    const body: CreateRoomBody = { title, max_participants: capacity, start_url, block_ads, keep_profile, profile_others_drive: keep_profile && profile_others_drive };
    try {
      const room = await create.mutateAsync(body);
      navigate(`/room/${room.code}`, { state: { member: true } });
    } catch (err) {
      // The API names the capacity `max_participants`; the form's field is `capacity`.
      const { fields, form: above } = createErrors(err);
      showErrors(form, { fields: { title: fields.title, capacity: fields.max_participants, start_url: fields.start_url }, form: above });
    }
  }

  return (
    <Card>
      <CardHeader>
        <CardTitle>Create a room</CardTitle>
        <CardDescription>A fresh browser starts for your room. You get the remote first.</CardDescription>
      </CardHeader>
      <CardContent>
        <Form form={form} onValid={submit} className="space-y-4" aria-busy={create.isPending}>
          <FormAlert />
          <FormField form={form} name="title" label="Room title" maxLength={120} placeholder="Friday movie night" clearErrorOnChange />
          <div className="grid gap-4 sm:grid-cols-[8rem_1fr]">
            <FormField
              form={form}
              name="capacity"
              label="Capacity"
              type="number"
              inputMode="numeric"
              min={1}
              max={MAX_PEOPLE}
              placeholder="10"
              clearErrorOnChange
              hint={`Optional, up to ${MAX_PEOPLE}.`}
            />
            <FormField
              form={form}
              name="start_url"
              label="Start page"
              type="url"
              inputMode="url"
              placeholder="https://www.youtube.com"
              clearErrorOnChange
              hint="Optional. The page the shared browser opens first."
            />
          </div>
          <div className="flex items-start gap-2 text-sm text-zinc-200">
            <input id={`${id}-ads`} type="checkbox" aria-describedby={`${id}-ads-hint`} className="mt-0.5 size-4 accent-violet-500" {...form.register("block_ads")} />
            <div>
              <label htmlFor={`${id}-ads`}>Block ads</label>
              <p id={`${id}-ads-hint`} className="text-xs text-zinc-400">
                The shared browser skips ad and tracker requests and hides ad slots. You can change it in the room.
              </p>
            </div>
          </div>
          <ProfileChoices keep={form.register("keep_profile")} othersDrive={form.register("profile_others_drive")} keepProfile={keepProfile} />
          <div className="flex flex-wrap items-center gap-3">
            <SubmitButton pending={create.isPending} icon={<Plus aria-hidden />} className="w-full sm:w-auto">
              Create room
            </SubmitButton>
            <span role="status" className="text-sm text-zinc-400">
              {create.isPending ? "Creating your room…" : ""}
            </span>
          </div>
        </Form>
      </CardContent>
    </Card>
  );
}
