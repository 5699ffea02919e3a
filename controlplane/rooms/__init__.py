"""Rooms: codes, URL policy, ICE servers and the lifecycle service."""
