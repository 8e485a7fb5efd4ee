"""HTTP plumbing shared by the four services: problems, auth, middleware, health, commands."""
