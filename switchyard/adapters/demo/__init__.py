"""The simulated fleet of gateway instances and the demo's live view."""
