import { CheckCircle2, Loader2 } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { ApiError } from "../api/errors";
import { unwrap } from "../api/http";
import { session } from "../auth/session";
import { AuthCard, textLink } from "../components/AuthCard";
import { Alert } from "../components/ui/alert";
import { Button, buttonVariants } from "../components/ui/button";
import { Field } from "../components/ui/field";
import { splitError } from "../lib/formErrors";
import { PasswordHint } from "../components/PasswordHint";

type F = "password" | "confirm";

export function ResetPasswordPage() {
  const [params] = useSearchParams();
  const token = params.get("token")?.trim() ?? "";
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [errors, setErrors] = useState<Partial<Record<F, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [badToken, setBadToken] = useState(false);
  const [pending, setPending] = useState(false);
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

  async function submit(e: FormEvent) {
    e.preventDefault();
    setFormError(null);
    const next: Partial<Record<F, string>> = {};
    if (password === "") next.password = "Choose a new password.";
    else if (confirm !== password) next.confirm = "The two passwords are not the same.";
    setErrors(next);
    if (Object.keys(next).length > 0) return;
    setPending(true);
    try {
      await unwrap(session.api.POST("/api/auth/reset-password", { body: { token, password } }));
      setDone(true);
    } catch (err) {
      if (err instanceof ApiError && err.code === "invalid_reset_token") {
        setBadToken(true);
      } else {
        const split = splitError(err, ["password"] as const, { weak_password: "password" });
        setErrors(split.fields);
        setFormError(split.form);
      }
    } finally {
      setPending(false);
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
      <form onSubmit={submit} noValidate className="space-y-4">
        {formError ? <Alert>{formError}</Alert> : null}
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          value={password}
          onChange={(e) => setPassword(e.target.value)}
          error={errors.password}
          hint={<PasswordHint length={password.length} />}
          autoFocus
        />
        <Field
          label="Confirm"
          type="password"
          name="confirm"
          autoComplete="new-password"
          value={confirm}
          onChange={(e) => setConfirm(e.target.value)}
          error={errors.confirm}
          hint="Type the new password again."
        />
        <Button type="submit" className="w-full" disabled={pending}>
          {pending ? <Loader2 className="animate-spin" aria-hidden /> : null}
          Set new password
        </Button>
      </form>
    </AuthCard>
  );
}
