// The one form primitive's state: react-hook-form over a zod schema (the schema is the form's
// client-side rules and their words; its output is what the submit handler gets, trimmed and
// parsed). The fields are uncontrolled inputs (`register`); the errors live in the form state.
//
// Contract, the same on every form: rules are checked on submit only; an error stays until the
// next submit, or until its field is edited where the field asks for that
// (`FormField clearErrorOnChange`); focus never moves to a field on its own; a server's answer
// is split by `splitError` and shown with `showErrors` (a field's error under it, the rest above
// the form as the "root" error, which every submit clears).
import { zodResolver } from "@hookform/resolvers/zod";
import { useForm, type DefaultValues, type FieldValues, type Path, type UseFormReturn } from "react-hook-form";
import type { $ZodType } from "zod/v4/core";
import type { FormErrors } from "../lib/formErrors";

export function useZodForm<In extends FieldValues, Out extends FieldValues>(schema: $ZodType<Out, In>, defaultValues: DefaultValues<In>) {
  return useForm<In, unknown, Out>({
    resolver: zodResolver(schema),
    defaultValues,
    mode: "onSubmit",
    reValidateMode: "onSubmit",
    shouldFocusError: false,
  });
}

export type ZodForm<In extends FieldValues, Out extends FieldValues = In> = UseFormReturn<In, unknown, Out>;

/** Shows errors from the server (see `splitError`): each under its field, the rest above the form. */
export function showErrors<In extends FieldValues, Out extends FieldValues>(form: ZodForm<In, Out>, errors: FormErrors<Path<In>>): void {
  for (const [field, message] of Object.entries(errors.fields) as [Path<In>, string | undefined][]) {
    if (message) form.setError(field, { type: "server", message });
  }
  if (errors.form) form.setError("root", { type: "server", message: errors.form });
}
