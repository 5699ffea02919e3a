/** The client-side hint; the server judges (length, common passwords, your own name). */
export function PasswordHint({ length }: { length: number }) {
  if (length > 0 && length < 8) return <span className="text-amber-300/90">{8 - length} more character{8 - length === 1 ? "" : "s"} needed: at least 8.</span>;
  return <>At least 8 characters. Not a common password, and not your username or e-mail.</>;
}
