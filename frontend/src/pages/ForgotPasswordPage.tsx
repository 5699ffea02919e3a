import { MailCheck } from "lucide-react";
import { useState } from "react";
import { Link } from "react-router-dom";
import { AuthCard, textLink } from "../components/AuthCard";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { Form, FormAlert, FormField, SubmitButton } from "../components/ui/form";
import { showErrors, useZodForm } from "../hooks/useZodForm";
import { forgotPasswordSchema } from "../lib/authForms";
import { splitError } from "../lib/formErrors";
import { useForgotPassword } from "../queries/account";

export function ForgotPasswordPage() {
  const form = useZodForm(forgotPasswordSchema, { email: "" });
  const forgot = useForgotPassword();
  const [sentTo, setSentTo] = useState<string | null>(null);

  async function submit({ email }: { email: string }) {
    try {
      await forgot.mutateAsync(email);
      setSentTo(email);
    } catch (err) {
      showErrors(form, splitError(err, ["email"] as const));
    }
  }

  const footer = (
    <>
      Remembered it?{" "}
      <Link to="/login" className={textLink}>
        Log in
      </Link>
    </>
  );

  if (sentTo !== null) {
    return (
      <AuthCard title="Check your inbox" footer={footer}>
        <div className="space-y-4">
          <Alert tone="success" className="flex gap-3 px-4 py-3">
            <MailCheck className="mt-0.5 size-5 shrink-0" aria-hidden />
            <span>
              If an account uses <strong className="font-semibold break-all">{sentTo}</strong>, a reset link is on its way. It works once and
              expires soon.
            </span>
          </Alert>
          <p className="text-sm text-zinc-400">Nothing after a few minutes? Look in your spam folder, or check the address and try again.</p>
          <Button variant="outline" className="w-full" onClick={() => setSentTo(null)}>
            Use another address
          </Button>
        </div>
      </AuthCard>
    );
  }

  return (
    <AuthCard title="Reset your password" description="Enter your account's e-mail and we will send you a link to choose a new password." footer={footer}>
      <Form form={form} onValid={submit} className="space-y-4">
        <FormAlert />
        <FormField form={form} name="email" label="Email" type="email" autoComplete="email" autoFocus />
        <SubmitButton pending={forgot.isPending} className="w-full">
          Send reset link
        </SubmitButton>
      </Form>
    </AuthCard>
  );
}
