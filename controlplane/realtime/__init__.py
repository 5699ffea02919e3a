"""The real-time room hub: messages, bus, presence, remote control, signaling relay."""
