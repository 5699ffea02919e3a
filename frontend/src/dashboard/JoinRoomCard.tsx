import { LogIn } from "lucide-react";
import { useState, type FormEvent } from "react";
import { useNavigate } from "react-router-dom";
import { parseRoomInput } from "../../lib/roomCode";
import { Button } from "../ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../ui/card";
import { Field } from "../ui/field";

export function JoinRoomCard() {
  const navigate = useNavigate();
  const [value, setValue] = useState("");
  const [error, setError] = useState<string | null>(null);

  function submit(e: FormEvent) {
    e.preventDefault();
    const parsed = parseRoomInput(value);
    if (!parsed.ok) return setError(parsed.error);
    setError(null);
    navigate(`/room/${parsed.code}`);
  }

  return (
    <Card>
      <CardHeader>
        <CardTitle>Join a room</CardTitle>
        <CardDescription>Got an invite? Paste the link or type the code.</CardDescription>
      </CardHeader>
      <CardContent>
        <form onSubmit={submit} noValidate className="space-y-4">
          <Field
            label="Room code or link"
            name="room"
            autoComplete="off"
            spellCheck={false}
            placeholder="k7qm3xtp or https://…/room/k7qm3xtp"
            value={value}
            onChange={(e) => {
              setValue(e.target.value);
              if (error) setError(null);
            }}
            error={error}
            hint="8 letters and digits, or the whole invite link."
          />
          <Button type="submit" variant="secondary" className="w-full sm:w-auto">
            <LogIn aria-hidden /> Join
          </Button>
        </form>
      </CardContent>
    </Card>
  );
}
