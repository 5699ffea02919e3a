import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router-dom";
import { session } from "./auth/session";
import { router } from "./app/router";
import { forgetOnSignOut, makeQueryClient } from "./queries/client";
import "./index.css";

const queryClient = makeQueryClient();
forgetOnSignOut(queryClient, session);

void session.bootstrap();

createRoot(document.getElementById("root") as HTMLElement).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <RouterProvider router={router} />
    </QueryClientProvider>
  </StrictMode>,
);
