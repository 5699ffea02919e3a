import { useWatch } from "react-hook-form";
import { Link, useLocation, useNavigate } from "react-router-dom";
import { AuthCard, textLink } from "../components/AuthCard";
import { PasswordHint } from "../components/PasswordHint";
import { Form, FormAlert, FormField, SubmitButton } from "../components/ui/form";
import { showErrors, useZodForm } from "../hooks/useZodForm";
import { registerSchema } from "../lib/authForms";
import { splitError } from "../lib/formErrors";
import { nextPath } from "../lib/nextPath";
import { useLogin, useRegister, type RegisterBody } from "../queries/account";

const FIELDS = ["email", "username", "password"] as const;
const CODES = { email_taken: "email", username_taken: "username", weak_password: "password" } as const;

export function RegisterPage() {
  const navigate = useNavigate();
  const location = useLocation();
  const form = useZodForm(registerSchema, { email: "", username: "", password: "" });
  const password = useWatch({ control: form.control, name: "password" });
  const register = useRegister();
  const login = useLogin();
  const loginLink = `/login${location.search}`;

  async function submit(values: RegisterBody) {
    try {
      await register.mutateAsync(values);
    } catch (err) {
      return showErrors(form, splitError(err, FIELDS, CODES));
    }
    try {
      await login.mutateAsync({ username: values.username, password: values.password });
      navigate(nextPath(location.search), { replace: true });
    } catch (err) {
      showErrors(form, { fields: {}, form: `Your account is ready, but logging in failed: ${splitError(err, []).form ?? ""}` });
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
      <Form form={form} onValid={submit} className="space-y-4">
        <FormAlert />
        <FormField form={form} name="email" label="Email" type="email" autoComplete="email" clearErrorOnChange autoFocus />
        <FormField
          form={form}
          name="username"
          label="Username"
          autoComplete="username"
          clearErrorOnChange
          hint="3 to 32 letters, digits, dots, dashes or underscores. Others in a room see it."
          maxLength={32}
        />
        <FormField
          form={form}
          name="password"
          label="Password"
          type="password"
          autoComplete="new-password"
          clearErrorOnChange
          hint={<PasswordHint length={password.length} />}
        />
        <SubmitButton pending={register.isPending || login.isPending} className="w-full">
          Create account
        </SubmitButton>
      </Form>
    </AuthCard>
  );
}
