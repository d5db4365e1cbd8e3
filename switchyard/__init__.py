"""switchyard: an event-sourced executor of multi-tenant blue-green switch-overs.

Layers, imports pointing inward only: `domain` <- `application` <- `projections`,
`adapters`."""
