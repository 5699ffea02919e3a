import { useId, type ComponentProps, type ReactNode } from "react";
import { Input } from "./input";

/** An input's props (its `ref` included, for react-hook-form's `register`) and the field's own. */
export interface FieldProps extends ComponentProps<"input"> {
  /** The visible label, which is also the field's accessible name. */
  label: string;
  error?: string | null;
  hint?: ReactNode;
}

/** A labelled input with its error shown next to it (and announced through aria-describedby). */
export function Field({ label, error, hint, id, ...props }: FieldProps) {
  const auto = useId();
  const inputId = id ?? auto;
  const msgId = `${inputId}-msg`;
  return (
    <div className="space-y-1.5">
      <label htmlFor={inputId} className="text-sm font-medium text-zinc-200">
        {label}
      </label>
      <Input id={inputId} aria-invalid={error ? true : undefined} aria-describedby={error || hint ? msgId : undefined} {...props} />
      {error ? (
        <p id={msgId} className="text-sm text-red-400" role="alert">
          {error}
        </p>
      ) : hint ? (
        <p id={msgId} className="text-xs text-zinc-500">
          {hint}
        </p>
      ) : null}
    </div>
  );
}
