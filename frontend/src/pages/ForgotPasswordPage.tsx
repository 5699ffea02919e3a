import { Loader2, MailCheck } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Link } from "react-router-dom";
import { unwrap } from "../api/http";
import { session } from "../auth/session";
import { AuthCard, textLink } from "../components/AuthCard";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { Field } from "../components/ui/field";
import { splitError } from "../lib/formErrors";

export function ForgotPasswordPage() {
  const [email, setEmail] = useState("");
  const [fieldError, setFieldError] = useState<string | null>(null);
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);
  const [sentTo, setSentTo] = useState<string | null>(null);

  async function submit(e: FormEvent) {
    e.preventDefault();
    setFormError(null);
    if (email.trim() === "") return setFieldError("Enter the e-mail address of your account.");
    setFieldError(null);
    setPending(true);
    try {
      await unwrap(session.api.POST("/api/auth/forgot-password", { body: { email: email.trim() } }));
      setSentTo(email.trim());
    } catch (err) {
      const split = splitError(err, ["email"] as const);
      setFieldError(split.fields.email ?? null);
      setFormError(split.form);
    } finally {
      setPending(false);
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
      <form onSubmit={submit} noValidate className="space-y-4">
        {formError ? <Alert>{formError}</Alert> : null}
        <Field
          label="Email"
          type="email"
          name="email"
          autoComplete="email"
          value={email}
          onChange={(e) => setEmail(e.target.value)}
          error={fieldError}
          autoFocus
        />
        <Button type="submit" className="w-full" disabled={pending}>
          {pending ? <Loader2 className="animate-spin" aria-hidden /> : null}
          Send reset link
        </Button>
      </form>
    </AuthCard>
  );
}
