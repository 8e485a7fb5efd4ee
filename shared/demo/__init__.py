"""`sightline demo`: a simulated sales organisation seeded through the public REST APIs."""
