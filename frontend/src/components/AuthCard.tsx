import type { ReactNode } from "react";
import { Card, CardContent, CardDescription, CardHeader } from "./ui/card";

/** The frame of the account pages: a centred card with a title, its form and a footer line. */
export function AuthCard({ title, description, children, footer }: { title: string; description?: ReactNode; children: ReactNode; footer?: ReactNode }) {
  return (
    <div className="flex justify-center px-4 py-12 sm:py-20">
      <div className="w-full max-w-sm">
        <Card>
          <CardHeader className="p-6 pb-2">
            <h1 className="text-xl font-semibold tracking-tight text-zinc-50">{title}</h1>
            {description ? <CardDescription>{description}</CardDescription> : null}
          </CardHeader>
          <CardContent className="p-6 pt-4">{children}</CardContent>
        </Card>
        {footer ? <div className="mt-5 text-center text-sm text-zinc-400">{footer}</div> : null}
      </div>
    </div>
  );
}

/** A text link in the app's accent colour, with the focus ring. */
export const textLink = "font-medium text-violet-300 underline-offset-4 hover:text-violet-200 hover:underline rounded-sm";
