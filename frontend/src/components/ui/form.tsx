// The one form primitive's parts, over `useZodForm` (hooks/useZodForm.ts): the <form> that
// validates before it calls the page, a Field bound to a form field, the form's own error above
// it, and the submit button with its spinner. They render exactly the markup the pages
// hand-wrote before (labels, roles and texts are a contract of the end-to-end tests).
import { Loader2 } from "lucide-react";
import type { FormHTMLAttributes, ReactNode } from "react";
import { FormProvider, useFormState, type FieldValues, type Path, type UseFormReturn } from "react-hook-form";
import { Alert } from "./alert";
import { Button, type ButtonProps } from "./button";
import { Field, type FieldProps } from "./field";

interface FormProps<In extends FieldValues, Out extends FieldValues> extends Omit<FormHTMLAttributes<HTMLFormElement>, "onSubmit"> {
  form: UseFormReturn<In, unknown, Out>;
  /** Called with the schema's output once the rules pass; it reports its own failures (`showErrors`). */
  onValid: (values: Out) => Promise<void> | void;
}

/** The <form>: no browser validation (the schema's words instead), the rules on submit. */
export function Form<In extends FieldValues, Out extends FieldValues>({ form, onValid, children, ...props }: FormProps<In, Out>) {
  return (
    <FormProvider {...form}>
      <form onSubmit={(e) => void form.handleSubmit(onValid)(e)} noValidate {...props}>
        {children}
      </form>
    </FormProvider>
  );
}

interface FormFieldProps<In extends FieldValues, Out extends FieldValues> extends Omit<FieldProps, "form" | "name" | "error" | "value" | "defaultValue" | "onChange" | "onBlur" | "ref"> {
  form: UseFormReturn<In, unknown, Out>;
  name: Path<In>;
  /** Clear this field's error as soon as it is edited (otherwise it stays until the next submit). */
  clearErrorOnChange?: boolean;
}

/** A labelled input registered with the form, its error under it. */
export function FormField<In extends FieldValues, Out extends FieldValues>({ form, name, clearErrorOnChange = false, ...props }: FormFieldProps<In, Out>) {
  const state = useFormState({ control: form.control, name });
  const error = form.getFieldState(name, state).error?.message;
  const clear = () => {
    if (form.getFieldState(name).error) form.clearErrors(name);
  };
  return <Field {...props} {...form.register(name, clearErrorOnChange ? { onChange: clear } : undefined)} error={error} />;
}

/** The error that belongs to no field (the server's answer, a network failure), above the form. */
export function FormAlert() {
  const { errors } = useFormState();
  const message = errors.root?.message;
  return message ? <Alert>{message}</Alert> : null;
}

interface SubmitButtonProps extends Omit<ButtonProps, "type" | "disabled"> {
  /** The request the form sent is under way: disabled, with a spinner in place of `icon`. */
  pending: boolean;
  icon?: ReactNode;
}

export function SubmitButton({ pending, icon = null, children, ...props }: SubmitButtonProps) {
  return (
    <Button type="submit" disabled={pending} {...props}>
      {pending ? <Loader2 className="animate-spin" aria-hidden /> : icon}
      {children}
    </Button>
  );
}
