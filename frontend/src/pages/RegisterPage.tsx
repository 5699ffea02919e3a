export function RegisterPage() {
  return <div className="p-8">Register</div>;
}
