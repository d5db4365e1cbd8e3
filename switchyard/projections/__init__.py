"""Read models built from the event stream, and the queries SREs run on them (to come:
nothing here yet)."""
