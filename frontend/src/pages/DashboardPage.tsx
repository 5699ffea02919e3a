import { CreateRoomCard } from "../dashboard/CreateRoomCard";
import { JoinRoomCard } from "../dashboard/JoinRoomCard";
import { MyRooms } from "../dashboard/MyRooms";
import { useAuth } from "../hooks/useAuth";

export function DashboardPage() {
  const { user } = useAuth();
  return (
    <div className="mx-auto max-w-6xl px-4 py-8">
      <div className="mb-6">
        <h1 className="text-2xl font-semibold tracking-tight text-zinc-50">{user ? `Hi, ${user.username}` : "Dashboard"}</h1>
        <p className="mt-1 text-sm text-zinc-400">Start a room, or jump into one you were invited to.</p>
      </div>
      <div className="grid items-start gap-6 lg:grid-cols-[minmax(0,1fr)_minmax(0,1.25fr)]">
        <div className="space-y-6">
          <CreateRoomCard />
          <JoinRoomCard />
        </div>
        <MyRooms />
      </div>
    </div>
  );
}
