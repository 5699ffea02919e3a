export function ForgotPasswordPage() {
  return <div className="p-8">ForgotPassword</div>;
}
