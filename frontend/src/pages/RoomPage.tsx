export function RoomPage() {
  return <div className="p-8">Room</div>;
}
