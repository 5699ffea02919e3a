"""The `/api` router: every route module, included once."""

from fastapi import APIRouter

from controlplane.api.routes import auth, users

api_router = APIRouter(prefix="/api")
api_router.include_router(auth.router)
api_router.include_router(users.router)
