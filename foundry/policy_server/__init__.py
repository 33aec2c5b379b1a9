"""cf-networking's policy server: which app may open which port of which other app."""
