import { CheckCircle2 } from "lucide-react";
import { useState } from "react";
import { useWatch } from "react-hook-form";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/errors";
import { AuthCard, textLink } from "../components/AuthCard";
import { PasswordHint } from "../components/PasswordHint";
import { Alert } from "../components/ui/alert";
import { buttonVariants } from "../components/ui/button";
import { Form, FormAlert, FormField, SubmitButton } from "../components/ui/form";
import { showErrors, useZodForm } from "../hooks/useZodForm";
import { resetPasswordSchema } from "../lib/authForms";
import { splitError } from "../lib/formErrors";
import { useResetPassword } from "../queries/account";

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token")?.trim() ?? "";
  const form = useZodForm(resetPasswordSchema, { password: "", confirm: "" });
  const password = useWatch({ control: form.control, name: "password" });
  const reset = useResetPassword();
  const [badToken, setBadToken] = useState(false);
  const [done, setDone] = useState(false);

  if (token === "" || badToken) {
    return (
      <AuthCard title={token === "" ? "This link is incomplete" : "This link no longer works"}>
        <div className="space-y-4">
          <Alert>
            {token === ""
              ? "The reset link has no token. Open the link from the e-mail exactly as it is, or ask for a new one."
              : "This reset link is invalid, used or expired. Ask for a new one."}
          </Alert>
          <Link to="/forgot-password" className={buttonVariants({ className: "w-full" })}>
            Ask for a new reset link
          </Link>
        </div>
      </AuthCard>
    );
  }

  if (done) {
    return (
      <AuthCard title="Password changed">
        <div className="space-y-4">
          <Alert tone="success" className="flex gap-3 px-4 py-3">
            <CheckCircle2 className="mt-0.5 size-5 shrink-0" aria-hidden />
            <span>Your new password is set. Every device that was signed in has to log in again.</span>
          </Alert>
          <Link to="/login" className={buttonVariants({ className: "w-full" })}>
            Log in with your new password
          </Link>
        </div>
      </AuthCard>
    );
  }

  async function submit({ password }: { password: string }) {
    try {
      await reset.mutateAsync({ token, password });
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_reset_token") setBadToken(true);
      else showErrors(form, splitError(err, ["password"] as const, { weak_password: "password" }));
    }
  }

  return (
    <AuthCard
      title="Choose a new password"
      description="Pick a password you do not use anywhere else."
      footer={
        <Link to="/login" className={textLink}>
          Back to log in
        </Link>
      }
    >
      <Form form={form} onValid={submit} className="space-y-4">
        <FormAlert />
        <FormField
          form={form}
          name="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          hint={<PasswordHint length={password.length} />}
          autoFocus
        />
        <FormField form={form} name="confirm" label="Confirm" type="password" autoComplete="new-password" hint="Type the new password again." />
        <SubmitButton pending={reset.isPending} className="w-full">
          Set new password
        </SubmitButton>
      </Form>
    </AuthCard>
  );
}
