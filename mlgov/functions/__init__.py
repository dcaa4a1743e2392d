"""Code that runs in AWS (Lambda), packaged by mlgov into deterministic zips."""
