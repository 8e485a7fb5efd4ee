"""Running Sightline: embedded servers, the launcher behind `sightline up`, service processes."""
