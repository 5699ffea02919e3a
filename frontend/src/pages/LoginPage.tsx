import { Loader2 } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import { session } from "../auth/session";
import { AuthCard, textLink } from "../components/AuthCard";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { Field } from "../components/ui/field";
import { useAuth } from "../hooks/useAuth";
import { splitError } from "../lib/formErrors";
import { nextPath } from "../lib/nextPath";

type F = "username" | "password";

export function LoginPage() {
  const { status } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const next = nextPath(location.search);
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<F, string>>>({});
  const [formError, setFormError] = useState<string | null>(null);
  const [pending, setPending] = useState(false);

  if (status === "signed-in" && !pending) return <Navigate to={next} replace />;

  async function submit(e: FormEvent) {
    e.preventDefault();
    const missing: Partial<Record<F, string>> = {};
    if (username.trim() === "") missing.username = "Enter your username or e-mail.";
    if (password === "") missing.password = "Enter your password.";
    setFieldErrors(missing);
    setFormError(null);
    if (Object.keys(missing).length > 0) return;
    setPending(true);
    try {
      await session.login(username.trim(), password);
      navigate(next, { replace: true });
    } catch (err) {
      setFormError(splitError(err, []).form);
      setPending(false);
    }
  }

  const asked = new URLSearchParams(location.search).has("next");
  return (
    <AuthCard
      title="Log in to Watch Party"
      description={asked ? "Log in to continue to the page you opened." : "Welcome back. Your rooms are waiting."}
      footer={
        <>
          New here?{" "}
          <Link to={`/register${location.search}`} className={textLink}>
            Sign up
          </Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate className="space-y-4">
        {formError ? <Alert>{formError}</Alert> : null}
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          value={username}
          onChange={(e) => setUsername(e.target.value)}
          error={fieldErrors.username}
          hint="Your username or the e-mail you signed up with."
          autoFocus
        />
        <div className="space-y-1.5">
          <Field
            label="Password"
            type="password"
            name="password"
            autoComplete="current-password"
            value={password}
            onChange={(e) => setPassword(e.target.value)}
            error={fieldErrors.password}
          />
          <div className="text-right text-xs">
            <Link to="/forgot-password" className={textLink}>
              Forgot your password?
            </Link>
          </div>
        </div>
        <Button type="submit" className="w-full" disabled={pending}>
          {pending ? <Loader2 className="animate-spin" aria-hidden /> : null}
          Log in
        </Button>
      </form>
    </AuthCard>
  );
}
