"""The HTTP command and query API (`switchyard api`): FastAPI on uvicorn, JSON in camelCase,
bearer tokens with scopes, problem details for every error."""
