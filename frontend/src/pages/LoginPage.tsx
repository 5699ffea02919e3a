import { Link, Navigate, useLocation, useNavigate } from "react-router-dom";
import { AuthCard, textLink } from "../components/AuthCard";
import { Form, FormAlert, FormField, SubmitButton } from "../components/ui/form";
import { useAuth } from "../hooks/useAuth";
import { showErrors, useZodForm } from "../hooks/useZodForm";
import { loginSchema } from "../lib/authForms";
import { splitError } from "../lib/formErrors";
import { nextPath } from "../lib/nextPath";
import { useLogin } from "../queries/account";

export function LoginPage() {
  const { status } = useAuth();
  const navigate = useNavigate();
  const location = useLocation();
  const next = nextPath(location.search);
  const form = useZodForm(loginSchema, { username: "", password: "" });
  const login = useLogin();

  // Already signed in: go on. Once this page's log-in is under way or done, it navigates itself.
  if (status === "signed-in" && !login.isPending && !login.isSuccess) return <Navigate to={next} replace />;

  async function submit(values: { username: string; password: string }) {
    try {
      await login.mutateAsync(values);
      navigate(next, { replace: true });
    } catch (err) {
      showErrors(form, { fields: {}, form: splitError(err, []).form });
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
      <Form form={form} onValid={submit} className="space-y-4">
        <FormAlert />
        <FormField form={form} name="username" label="Username" autoComplete="username" hint="Your username or the e-mail you signed up with." autoFocus />
        <div className="space-y-1.5">
          <FormField form={form} name="password" label="Password" type="password" autoComplete="current-password" />
          <div className="text-right text-xs">
            <Link to="/forgot-password" className={textLink}>
              Forgot your password?
            </Link>
          </div>
        </div>
        <SubmitButton pending={login.isPending} className="w-full">
          Log in
        </SubmitButton>
      </Form>
    </AuthCard>
  );
}
