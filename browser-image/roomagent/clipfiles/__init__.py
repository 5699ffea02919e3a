"""Clipboard and files (issue 22): the holder's paste into the room's page, what they copy
there back to them, the page's file choosers answered with their files, downloads refused."""
