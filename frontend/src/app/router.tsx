import { createBrowserRouter } from "react-router-dom";
import { AppShell } from "../components/AppShell";
import { RequireAuth } from "../components/RequireAuth";
import { DashboardPage } from "../pages/DashboardPage";
import { ForgotPasswordPage } from "../pages/ForgotPasswordPage";
import { LandingPage } from "../pages/LandingPage";
import { LoginPage } from "../pages/LoginPage";
import { NotFoundPage } from "../pages/NotFoundPage";
import { RegisterPage } from "../pages/RegisterPage";
import { ResetPasswordPage } from "../pages/ResetPasswordPage";
import { SessionsPage } from "../pages/SessionsPage";

// The room page carries the real-time code (WebRTC, voice, input): loaded only when opened.
const roomRoute = {
  lazy: async () => ({ Component: (await import("../pages/RoomPage")).RoomPage }),
  hydrateFallbackElement: <div className="h-full bg-zinc-950" />,
};

export const router = createBrowserRouter([
  {
    element: <AppShell />,
    children: [
      { path: "/", element: <LandingPage /> },
      { path: "/register", element: <RegisterPage /> },
      { path: "/login", element: <LoginPage /> },
      { path: "/forgot-password", element: <ForgotPasswordPage /> },
      { path: "/reset-password", element: <ResetPasswordPage /> },
      {
        element: <RequireAuth />,
        children: [
          { path: "/dashboard", element: <DashboardPage /> },
          { path: "/sessions", element: <SessionsPage /> },
        ],
      },
      { path: "*", element: <NotFoundPage /> },
    ],
  },
  {
    element: <RequireAuth />,
    children: [{ path: "/room/:code", ...roomRoute }],
  },
]);
