export function SessionsPage() {
  return <div className="p-8">Sessions</div>;
}
