export function NotFoundPage() {
  return <div className="p-8">NotFound</div>;
}
