import { Loader2 } from "lucide-react";
import { useState, type FormEvent } from "react";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { unwrap } from "../api/http";
import { session } from "../auth/session";
import { AuthCard, textLink } from "../components/AuthCard";
import { Alert } from "../components/ui/alert";
import { Button } from "../components/ui/button";
import { Field } from "../components/ui/field";
import { PasswordHint } from "../components/PasswordHint";
import { splitError, type FormErrors } from "../lib/formErrors";
import { nextPath } from "../lib/nextPath";

const FIELDS = ["email", "username", "password"] as const;
type F = (typeof FIELDS)[number];
const CODES = { email_taken: "email", username_taken: "username", weak_password: "password" } as const;
const NONE: FormErrors<F> = { fields: {}, form: null };

export function RegisterPage() {
  const navigate = useNavigate();
  const location = useLocation();
  const [values, setValues] = useState<Record<F, string>>({ email: "", username: "", password: "" });
  const [errors, setErrors] = useState<FormErrors<F>>(NONE);
  const [pending, setPending] = useState(false);
  const loginLink = `/login${location.search}`;

  const set = (field: F) => (e: { target: { value: string } }) => {
    setValues((v) => ({ ...v, [field]: e.target.value }));
    if (errors.fields[field]) setErrors((x) => ({ ...x, fields: { ...x.fields, [field]: undefined } }));
  };

  async function submit(e: FormEvent) {
    e.preventDefault();
    const missing: FormErrors<F> = { fields: {}, form: null };
    if (values.email.trim() === "") missing.fields.email = "Enter your e-mail address.";
    if (values.username.trim() === "") missing.fields.username = "Choose a username.";
    if (values.password === "") missing.fields.password = "Choose a password.";
    if (Object.keys(missing.fields).length > 0) return setErrors(missing);
    setPending(true);
    setErrors(NONE);
    const username = values.username.trim();
    try {
      await unwrap(session.api.POST("/api/auth/register", { body: { email: values.email.trim(), username, password: values.password } }));
    } catch (err) {
      setErrors(splitError(err, FIELDS, CODES));
      setPending(false);
      return;
    }
    try {
      await session.login(username, values.password);
      navigate(nextPath(location.search), { replace: true });
    } catch (err) {
      setErrors({ fields: {}, form: `Your account is ready, but logging in failed: ${splitError(err, []).form ?? ""}` });
      setPending(false);
    }
  }

  return (
    <AuthCard
      title="Create your account"
      description="Start a room and invite friends to watch together."
      footer={
        <>
          Already have an account?{" "}
          <Link to={loginLink} className={textLink}>
            Log in
          </Link>
        </>
      }
    >
      <form onSubmit={submit} noValidate className="space-y-4">
        {errors.form ? <Alert>{errors.form}</Alert> : null}
        <Field label="Email" type="email" name="email" autoComplete="email" value={values.email} onChange={set("email")} error={errors.fields.email} autoFocus />
        <Field
          label="Username"
          name="username"
          autoComplete="username"
          value={values.username}
          onChange={set("username")}
          error={errors.fields.username}
          hint="3 to 32 letters, digits, dots, dashes or underscores. Others in a room see it."
          maxLength={32}
        />
        <Field
          label="Password"
          type="password"
          name="password"
          autoComplete="new-password"
          value={values.password}
          onChange={set("password")}
          error={errors.fields.password}
          hint={<PasswordHint length={values.password.length} />}
        />
        <Button type="submit" className="w-full" disabled={pending}>
          {pending ? <Loader2 className="animate-spin" aria-hidden /> : null}
          Create account
        </Button>
      </form>
    </AuthCard>
  );
}
