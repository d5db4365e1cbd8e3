"""Everything that touches the outside, in sub-packages by what they touch or which role
they serve: postgres, kafka, relay, scheduler, steps, embedded, demo, cli (api and
projector to come); the settings and the composition root (`bootstrap`) on top."""
