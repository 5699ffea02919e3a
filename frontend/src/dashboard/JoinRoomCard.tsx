import { LogIn } from "lucide-react";
import { useNavigate } from "react-router-dom";
import { Button } from "../components/ui/button";
import { Card, CardContent, CardDescription, CardHeader, CardTitle } from "../components/ui/card";
import { Form, FormField } from "../components/ui/form";
import { useZodForm } from "../hooks/useZodForm";
import { joinRoomSchema } from "../lib/roomForms";

export function JoinRoomCard() {
  const navigate = useNavigate();
  const form = useZodForm(joinRoomSchema, { room: "" });

  return (
    <Card>
      <CardHeader>
        <CardTitle>Join a room</CardTitle>
        <CardDescription>Got an invite? Paste the link or type the code.</CardDescription>
      </CardHeader>
      <CardContent>
        <Form form={form} onValid={({ room }) => navigate(`/room/${room}`)} className="space-y-4">
          <FormField
            form={form}
            name="room"
            label="Room code or link"
            autoComplete="off"
            spellCheck={false}
            placeholder="k7qm3xtp or https://…/room/k7qm3xtp"
            clearErrorOnChange
            hint="8 letters and digits, or the whole invite link."
          />
          <Button type="submit" variant="secondary" className="w-full sm:w-auto">
            <LogIn aria-hidden /> Join
          </Button>
        </Form>
      </CardContent>
    </Card>
  );
}
