"""Read models built from the event stream: the read tables (`tables`), one event as the
read side sees it (`events`), event -> row changes (`handlers`), roll-ups recomputed from
task rows (`rollups`), applying events exactly once and in order (`apply`), and the
queries SREs run (`queries`)."""
