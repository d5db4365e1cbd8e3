"""What the tests share: builders (plan requests, tenants, tasks), waiting with a deadline,
state read back for assertions, the CLI's environment, scheduler and relay helpers and
their child processes, the step servers, a webhook server, and the application scenarios
that run on every persistence."""
