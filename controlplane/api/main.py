"""The `/api` router: every route module, included once."""

from fastapi import APIRouter

from controlplane.api.routes import admin, auth, room_ws, rooms, users

api_router = APIRouter(prefix="/api")
api_router.include_router(auth.router)
api_router.include_router(users.router)
api_router.include_router(rooms.router)
api_router.include_router(room_ws.router)
api_router.include_router(admin.router)
