"""The scheduler role: the process loop that claims tasks, and the notifiers."""
