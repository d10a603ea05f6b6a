"""One blueprint per audience: main (public pages), auth, proposals (researchers)."""
